"""The Docker side of execution environments, used by the Celery worker.

Importable without Django: every setting comes in as an argument.
One environment = one container running the runtime's bootstrap as PID 1,
reached through a Unix socket in a bind-mounted host folder.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import docker
from docker.errors import NotFound
from docker.models.containers import Container
from docker.types import LogConfig, Ulimit

from invocations import aws_forwarder, call_marks
from invocations.envdirs import (
    SANDBOX_UID,
    lock_socket_dir,
    opt_dir_beside,
    place_code,
    place_layers,
    prepare_opt_dir,
    prepare_socket_dir,
    prepare_task_dir,
)
from invocations.protocol import FrameReader, ProtocolError, encode_frame, send_frame

log = logging.getLogger(__name__)

CONTAINER_SOCKET_DIR = "/var/runtime/sock"
CONTAINER_TASK_ROOT = "/var/task"
CONTAINER_OPT = "/opt"  # Lambda unpacks a function's layers here
MB_PER_VCPU = 1769  # Lambda: 1,769 MB of memory = one vCPU
CPU_PERIOD_US = 100_000  # the CFS period the CPU quota is counted in


class EnvironmentStartError(Exception):
    """The container exited, did not open its socket or finish its init in
    time, or Docker refused to resize it."""

    def __init__(
        self,
        message: str,
        container_id: str | None = None,
        logs: str = "",
        oom_killed: bool = False,
    ) -> None:
        super().__init__(
            message + (f"\n--- last container log lines ---\n{logs}" if logs else "")
        )
        # Set when the function's own init ended its runtime ("exit status 3").
        self.exit_reason: str | None = None
        self.container_id = container_id
        self.logs = logs
        self.oom_killed = oom_killed


@dataclass
class EnvironmentSpec:
    """A container to start. Generic: nothing in it names a function, so
    any function of the image's runtime can be given to it later
    (``specialise``)."""

    env_id: str  # uuid hex
    image: str
    socket_dir: str  # host path, mounted read-write at /var/runtime/sock
    memory_mb: int  # the container's limit until a specialise changes it
    # Host path, mounted read-only at /var/task; must be empty (or absent)
    # at start. None: the "task" folder beside socket_dir, which must then be
    # <root>/<env_id>/<socket folder> (see envdirs.environment_dirs).
    task_dir: str | None = None
    # Host path, mounted read-only at /opt (the function's layers, placed at
    # specialise); must be empty at start. None: "opt" beside the task folder.
    opt_dir: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tmp_mb: int = 512
    pids_limit: int = 256
    nofile: int = 1024
    min_cpus: float = 0.5


@dataclass
class FunctionConfig:
    """One function as an environment sees it: its code and configuration."""

    code_dir: str  # host path of the extracted bundle, copied into the task folder
    handler: str  # "module.func"
    function_name: str
    function_version: str = "$LATEST"
    memory_mb: int = 128
    env_vars: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"  # AWS_REGION / AWS_DEFAULT_REGION inside
    log_group: str = ""  # "" -> /aws/lambda/<function_name>
    log_stream: str = ""  # "" -> <UTC date>/[<version>]<uuid hex>, one per environment
    # The function's own short-lived credentials (AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: awsapi.principals.issue),
    # and the web server ("host:port") its AWS calls are forwarded to
    # (invocations.aws_forwarder). Empty: no AWS door in the environment.
    credentials: dict[str, str] = field(default_factory=dict)
    aws_upstream: str = ""
    # AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand" | "provisioned-concurrency".
    initialization_type: str = "on-demand"
    # Host paths of the function's layers' extracted files, in the order
    # they are unpacked under /opt (functions.layers.content_dirs).
    layer_dirs: list[str] = field(default_factory=list)
    runtime: str = "python3.11"  # AWS_EXECUTION_ENV, NODE_PATH for nodejs*
    # LoggingConfig: "Text" | "JSON"; the levels apply to JSON only, as in
    # Lambda (ApplicationLogLevel filters the function's own log calls,
    # SystemLogLevel the START/END/REPORT lines).
    log_format: str = "Text"
    application_log_level: str = "INFO"
    system_log_level: str = "INFO"


@dataclass
class StartedEnvironment:
    """A running container whose bootstrap listens. Everything ``specialise``
    needs is here, so another process can rebuild it from stored values."""

    container_id: str
    socket_path: str  # host path of the bootstrap's socket
    task_dir: str  # host path mounted at /var/task
    memory_mb: int  # the container's current memory limit
    # Milliseconds: create + start until the socket accepts; for
    # start_for_function also the specialise (Lambda's init duration).
    init_ms: float = 0.0
    env_id: str = ""
    min_cpus: float = 0.5
    # Host path mounted at /opt; "" for a container started without one
    # (it cannot take a function with layers).
    opt_dir: str = ""


@dataclass
class Specialisation:
    """What ``specialise`` did, with its timings in milliseconds."""

    init_error: dict[str, Any] | None  # Lambda's init error (errorType, ...), or None
    total_ms: float  # the whole specialise: the init duration to report
    update_ms: float = 0.0  # docker update of memory and CPU (0: not needed)
    place_ms: float = 0.0  # hard-link copy of the code into the task folder
    init_ms: float = 0.0  # init frame sent -> ready received (the import)
    bootstrap_init_ms: float = 0.0  # the bootstrap's own count of its init phase


@dataclass
class InvokeOutcome:
    # "result" | "error" | "timeout" | "crashed" | "unreachable" (the
    # socket refused the connection: the request was never delivered)
    kind: str
    payload: Any = None  # the handler's return value when kind == "result"
    # The result as the runtime gave it, text that need not be JSON (a
    # custom runtime's posted response body: Lambda passes it on as it is);
    # None: ``payload`` is the result.
    payload_text: str | None = None
    error: dict[str, Any] | None = None  # errorType, errorMessage, stackTrace
    max_memory_used_mb: int | None = None
    duration_ms: float = 0.0  # from sending the invoke to the final frame


def cpu_quota(memory_mb: int, min_cpus: float) -> tuple[int, int]:
    """(cpu_quota, cpu_shares) for ``memory_mb``: CPU in proportion to memory,
    as Lambda does (1,769 MB = one vCPU), at least ``min_cpus``, at most the
    host's cores. The quota is in microseconds per ``CPU_PERIOD_US`` (CFS),
    which ``docker update`` can change later (NanoCpus it cannot)."""
    cpus = min(max(memory_mb / MB_PER_VCPU, min_cpus), float(os.cpu_count() or 1))
    return int(cpus * CPU_PERIOD_US), max(memory_mb * 1024 // MB_PER_VCPU, 2)


def node_path(runtime: str) -> str:
    """Lambda's NODE_PATH for a nodejsNN.x runtime: the layer folders
    (/opt/nodejs/nodeNN/node_modules, /opt/nodejs/node_modules) first,
    then the runtime's and the code's."""
    major = runtime.removeprefix("nodejs").split(".", 1)[0]
    return ":".join((
        f"/opt/nodejs/node{major}/node_modules", "/opt/nodejs/node_modules",
        "/var/runtime/node_modules", "/var/runtime", CONTAINER_TASK_ROOT,
    ))


def function_environment(config: FunctionConfig) -> dict[str, str]:
    """The function's variables plus Lambda's reserved ones (which win),
    nothing from the host. Sent in the init frame, never put in the
    container's Docker config. NODE_PATH (nodejs runtimes) is Lambda's
    unless the function sets its own (Lambda lets it)."""
    env = {str(k): str(v) for k, v in config.env_vars.items()}
    if config.runtime.startswith("nodejs"):
        env.setdefault("NODE_PATH", node_path(config.runtime))
    if config.log_format == "JSON":
        # What Lambda's runtimes read: their log format and the
        # application's level (the JSON line's own filter).
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = config.application_log_level or "INFO"
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": config.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group
            or f"/aws/lambda/{config.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": config.log_stream
            or f"{time.strftime('%Y/%m/%d', time.gmtime())}"
            f"/[{config.function_version}]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": config.initialization_type,
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "_HANDLER": config.handler,
            "LAMBDA_TASK_ROOT": CONTAINER_TASK_ROOT,
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "TZ": ":UTC",
            "HOME": "/tmp",
            **config.credentials,
        }
    )
    return env


def init_frame(config: FunctionConfig) -> dict[str, Any]:
    """The ``init`` frame: the whole configuration travels as the process
    environment Lambda gives a function (``_HANDLER``, ``AWS_LAMBDA_*``,
    ``AWS_REGION``... and the function's own variables); with LoggingConfig
    JSON also ``systemLogLevel``, which only the bootstrap reads (its
    START/END lines)."""
    frame: dict[str, Any] = {"type": "init", "env": function_environment(config)}
    if config.log_format == "JSON":
        frame["systemLogLevel"] = config.system_log_level or "INFO"
    return frame


def initialize(
    socket_path: str, frame: dict[str, Any], timeout_s: float
) -> dict[str, Any] | None:
    """Send the bootstrap its ``init`` frame (see ``init_frame``) and wait for
    the init phase (the handler module's import) to end. Returns the
    ``ready`` frame (``initError``: None or Lambda's error dict; ``initMs``:
    the bootstrap's count), or None if the bootstrap died or said nothing
    within ``timeout_s`` seconds."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.settimeout(timeout_s)
            sock.connect(socket_path)
            send_frame(sock, frame)
            ready = FrameReader(sock).read(timeout=timeout_s)
        except (TimeoutError, ProtocolError, OSError):
            return None
    if ready is None or ready.get("type") != "ready":
        return None
    return ready


def wait_for_socket(
    socket_path: str,
    timeout_s: float,
    still_starting: Callable[[], bool],
    poll_s: float = 0.002,
    check_every_s: float = 0.1,
) -> bool:
    """Poll connect() until the socket accepts; False if ``still_starting`` says no."""
    deadline = time.monotonic() + timeout_s
    next_check = time.monotonic() + check_every_s
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(socket_path)
                return True
            except (FileNotFoundError, ConnectionRefusedError):
                pass
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(f"{socket_path} not ready after {timeout_s:.0f} s")
        if now >= next_check:  # asking Docker costs ms: not on every poll
            next_check = now + check_every_s
            if not still_starting():
                return False
        time.sleep(poll_s)


def start_environment(
    client: docker.DockerClient,
    spec: EnvironmentSpec,
    *,
    ready_timeout_s: float = 30.0,
) -> StartedEnvironment:
    """Create and start a hardened GENERIC container and return once its
    bootstrap listens (about 0.3 s). Its environment holds no function
    variable, /var/task is the empty task folder (read-only), and no user
    code runs until ``specialise``.

    Raises EnvironmentStartError (the container removed) if it exits or
    its socket does not accept within ``ready_timeout_s`` seconds, and
    ValueError for an unusable task or socket folder (before any container
    exists; see envdirs.prepare_task_dir).
    """
    t0 = time.perf_counter()
    socket_path = prepare_socket_dir(spec.socket_dir)  # before create: fail fast
    task_dir = prepare_task_dir(spec.env_id, spec.socket_dir, spec.task_dir)
    opt_dir = prepare_opt_dir(spec.opt_dir or opt_dir_beside(task_dir))
    quota, shares = cpu_quota(spec.memory_mb, spec.min_cpus)
    container = client.containers.create(
        spec.image,
        name=f"stratus-{spec.env_id}",
        detach=True,
        user=f"{SANDBOX_UID}:{SANDBOX_UID}",
        labels={**spec.labels, "stratus.env": spec.env_id},
        volumes={
            task_dir: {"bind": CONTAINER_TASK_ROOT, "mode": "ro"},
            opt_dir: {"bind": CONTAINER_OPT, "mode": "ro"},
            os.path.abspath(spec.socket_dir): {
                "bind": CONTAINER_SOCKET_DIR,
                "mode": "rw",
            },
        },
        mem_limit=f"{spec.memory_mb}m",
        memswap_limit=f"{spec.memory_mb}m",  # equal: no swap
        cpu_period=CPU_PERIOD_US,
        cpu_quota=quota,
        cpu_shares=shares,
        pids_limit=spec.pids_limit,
        ulimits=[Ulimit(name="nofile", soft=spec.nofile, hard=spec.nofile)],
        read_only=True,
        tmpfs={
            "/tmp": f"rw,nosuid,nodev,size={spec.tmp_mb}m,uid={SANDBOX_UID},"
            f"gid={SANDBOX_UID},mode=1777"
        },
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        network_mode="none",
        # Invocation output goes over the socket; docker logs only hold init
        # output and stray background writes, so cap them.
        log_config=LogConfig(
            type="json-file", config={"max-size": "1m", "max-file": "1"}
        ),
        # No auto_remove: after a crash we must still read State.OOMKilled.
    )
    try:
        container.start()

        def still_starting() -> bool:
            state = client.api.inspect_container(container.id)["State"]
            return state.get("Status") in ("created", "running")

        try:
            ready = wait_for_socket(socket_path, ready_timeout_s, still_starting)
        except TimeoutError as exc:
            raise EnvironmentStartError(
                str(exc), container.id, _tail_logs(client, container.id)
            ) from None
        if not ready:
            raise _exited(client, container.id, f"environment {spec.env_id} exited while starting")
    except BaseException:
        destroy(client, container.id)
        raise
    return StartedEnvironment(
        container_id=container.id,
        socket_path=socket_path,
        task_dir=task_dir,
        memory_mb=spec.memory_mb,
        init_ms=(time.perf_counter() - t0) * 1000,
        env_id=spec.env_id,
        min_cpus=spec.min_cpus,
        opt_dir=opt_dir,
    )


def specialise(
    client: docker.DockerClient,
    env: StartedEnvironment,
    config: FunctionConfig,
    *,
    init_timeout_s: float = 30.0,
) -> Specialisation:
    """Turn a started generic environment into ``config``'s function:

    1. ``docker update`` memory (= memory-swap) and CPU when
       ``config.memory_mb`` differs from ``env.memory_mb`` (then updated);
    2. hard-link copy of ``config.code_dir`` into ``env.task_dir``, and of
       ``config.layer_dirs`` in order into ``env.opt_dir`` (/opt);
    3. lock the socket folder (``lock_socket_dir``), before any user code;
    4. send the ``init`` frame: the bootstrap sets its environment, chdirs to
       /var/task, imports the handler (Lambda's init phase) and answers.

    An init error (import error, syntax error, missing handler...) is not
    an exception: it is in ``init_error`` and every invoke returns it, as
    Lambda does. Raises EnvironmentStartError if the bootstrap dies or does
    not answer within ``init_timeout_s`` seconds (``oom_killed`` tells an
    import that ran out of memory), or if Docker refuses the update; the
    container is then removed (its folders are the caller's to remove).
    ValueError, touching nothing, if the task or opt folder is not empty
    (the environment was specialised already), or if the function has
    layers and the environment has no /opt folder (started by an older
    Stratus).
    """
    t0 = time.perf_counter()
    if os.listdir(env.task_dir) or (env.opt_dir and os.listdir(env.opt_dir)):
        raise ValueError(f"environment {env.env_id or env.container_id} is specialised already")
    if config.layer_dirs and not env.opt_dir:
        raise ValueError(f"environment {env.env_id or env.container_id} has no /opt folder for layers")
    try:
        update_ms = 0.0
        if config.memory_mb != env.memory_mb:
            quota, shares = cpu_quota(config.memory_mb, env.min_cpus)
            try:
                client.api.update_container(
                    env.container_id,
                    mem_limit=f"{config.memory_mb}m",
                    memswap_limit=f"{config.memory_mb}m",
                    cpu_period=CPU_PERIOD_US,
                    cpu_quota=quota,
                    cpu_shares=shares,
                )
            except docker.errors.APIError as exc:
                raise EnvironmentStartError(
                    f"could not resize environment {env.env_id} to {config.memory_mb} MB: {exc}",
                    env.container_id,
                ) from None
            env.memory_mb = config.memory_mb
            update_ms = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        place_code(config.code_dir, env.task_dir)
        if config.layer_dirs:
            place_layers(config.layer_dirs, env.opt_dir)
        lock_socket_dir(os.path.dirname(env.socket_path))
        if config.aws_upstream:  # listening before the handler's import may call AWS
            # Recorded as this process's: the prefork child that takes a call uses
            # it while this process lives (the upkeep initialises provisioned
            # environments in the main process).
            aws_forwarder.ensure(os.path.dirname(env.socket_path), config.aws_upstream)
        t2 = time.perf_counter()
        ready = initialize(env.socket_path, init_frame(config), init_timeout_s)
        t3 = time.perf_counter()
        if ready is None:
            if t3 - t2 >= init_timeout_s:
                what = f"did not finish the init of {config.function_name} in {init_timeout_s:g} s"
            else:
                what = f"exited during the init of {config.function_name}"
                try:  # wait for its exit status
                    client.api.wait(env.container_id, timeout=5)
                except Exception:  # noqa: BLE001 - the error below says enough
                    pass
            error = _exited(client, env.container_id, f"environment {env.env_id} {what}")
            if t3 - t2 < init_timeout_s and not error.oom_killed:
                # The function's code ended its runtime in its init (sys.exit,
                # process.exit): Lambda's Runtime.ExitError names the status.
                error.exit_reason = exit_reason(env.container_id, client)
            raise error
    except BaseException:
        destroy(client, env.container_id)
        raise
    return Specialisation(
        init_error=ready.get("initError"),
        total_ms=(t3 - t0) * 1000,
        update_ms=update_ms,
        place_ms=(t2 - t1) * 1000,
        init_ms=(t3 - t2) * 1000,
        bootstrap_init_ms=float(ready.get("initMs") or 0.0),
    )


def start_for_function(
    client: docker.DockerClient,
    spec: EnvironmentSpec,
    config: FunctionConfig,
    *,
    ready_timeout_s: float = 30.0,
) -> StartedEnvironment:
    """A cold start: ``start_environment`` at the function's memory (so no
    update is needed), then ``specialise``. ``init_ms`` of the result covers
    both. Raises as those two do; a failed start leaves no container."""
    t0 = time.perf_counter()
    env = start_environment(
        client, replace(spec, memory_mb=config.memory_mb), ready_timeout_s=ready_timeout_s
    )
    specialise(client, env, config, init_timeout_s=ready_timeout_s)
    env.init_ms = (time.perf_counter() - t0) * 1000
    return env


def _exited(client: docker.DockerClient, container_id: str, what: str) -> EnvironmentStartError:
    """The error for a container whose bootstrap is gone, with its state and logs."""
    try:
        state = client.api.inspect_container(container_id)["State"]
    except NotFound:
        state = {}
    return EnvironmentStartError(
        f"{what} (exit code {state.get('ExitCode')}, OOMKilled={state.get('OOMKilled')})",
        container_id,
        _tail_logs(client, container_id),
        bool(state.get("OOMKilled")),
    )


def _tail_logs(client: docker.DockerClient, container_id: str, lines: int = 30) -> str:
    try:
        return client.api.logs(container_id, tail=lines).decode("utf-8", "replace").rstrip()
    except docker.errors.APIError:
        return ""


def invoke(
    socket_path: str,
    request: dict[str, Any],
    timeout_s: float,
    on_log: Callable[[str], None],
    raw_event: str | None = None,
) -> InvokeOutcome:
    """Run one invocation; ``on_log`` gets each log line as it arrives.
    ``raw_event``: the event as JSON text (valid JSON, checked where it came
    in), spliced into the frame as it is instead of ``request["event"]``,
    so a warm call does not parse and re-encode it.

    Never raises for environment failures: a missing socket, EOF or garbage
    before the final frame is "crashed", the deadline passing is "timeout" (the
    caller must then kill the container: the function is never trusted to stop).
    """
    start = time.monotonic()
    deadline = start + timeout_s

    def elapsed_ms() -> float:
        return (time.monotonic() - start) * 1000

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(max(timeout_s, 0.001))
        try:
            sock.connect(socket_path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            # Nothing listens: the environment is gone and got nothing.
            return InvokeOutcome(
                "unreachable", error=_crash(f"{type(exc).__name__}: {exc}"),
                duration_ms=elapsed_ms(),
            )
        try:
            if raw_event is None:
                send_frame(sock, {**request, "type": "invoke"})
            else:
                sock.sendall(invoke_frame(request, raw_event))
            call_marks.mark(request.get("requestId", ""), "worker.sent")
            reader = FrameReader(sock)
            while True:
                frame = reader.read(timeout=deadline - time.monotonic())
                if frame is None:
                    return InvokeOutcome(
                        "crashed",
                        error=_crash(
                            "the environment closed the connection before answering"
                        ),
                        duration_ms=elapsed_ms(),
                    )
                kind = frame["type"]
                if kind == "log":
                    on_log(str(frame.get("line", "")))
                elif kind == "result":
                    text = frame.get("payloadText")
                    return InvokeOutcome(
                        "result",
                        payload=frame.get("payload"),
                        payload_text=text if isinstance(text, str) else None,
                        max_memory_used_mb=frame.get("maxMemoryUsedMB"),
                        duration_ms=elapsed_ms(),
                    )
                elif kind == "error":
                    error = {
                        "errorType": frame.get("errorType", "Unhandled"),
                        "errorMessage": frame.get("errorMessage", ""),
                    }
                    if isinstance(frame.get("trace"), list):
                        error["trace"] = frame["trace"]  # Lambda's Node shape
                    else:
                        error["stackTrace"] = frame.get("stackTrace") or []
                    return InvokeOutcome(
                        "error",
                        error=error,
                        max_memory_used_mb=frame.get("maxMemoryUsedMB"),
                        duration_ms=elapsed_ms(),
                    )
        except TimeoutError:  # socket.timeout is TimeoutError since 3.10
            return InvokeOutcome("timeout", duration_ms=elapsed_ms())
        except (OSError, ProtocolError) as exc:
            return InvokeOutcome(
                "crashed",
                error=_crash(f"{type(exc).__name__}: {exc}"),
                duration_ms=elapsed_ms(),
            )


def invoke_frame(request: dict[str, Any], raw_event: str) -> bytes:
    """The invoke frame with ``raw_event`` (JSON text) as its event. A raw
    line break can only be whitespace in valid JSON (inside strings it is
    escaped), so it becomes a space and the frame stays one line."""
    head = encode_frame({**request, "type": "invoke"})[:-2]  # without "}\n"
    event = raw_event.replace("\r", " ").replace("\n", " ").encode()
    return head + b',"event":' + event + b"}\n"


def _crash(message: str) -> dict[str, Any]:
    return {"errorType": "Runtime.ExitError", "errorMessage": message, "stackTrace": []}


def classify_crash(
    client: docker.DockerClient, container_id: str, wait_s: float = 2.0
) -> str:
    """ "out_of_memory" if the kernel OOM-killed the environment, else "crashed"."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            state = client.api.inspect_container(container_id)["State"]
        except NotFound:
            return "crashed"
        # The socket can close a moment before Docker records the exit.
        if (
            state.get("Status") not in ("running", "restarting")
            or time.monotonic() >= deadline
        ):
            break
        time.sleep(0.01)
    return "out_of_memory" if state.get("OOMKilled") else "crashed"


# Lambda's words for a runtime killed by a signal (Go's signal names).
_SIGNAL_WORDS = {6: "aborted", 9: "killed", 11: "segmentation fault", 15: "terminated"}


def exit_reason(container_id: str, client: docker.DockerClient) -> str | None:
    """Why a crashed environment's runtime ended, in Lambda's words for
    Runtime.ExitError ("exit status 2", "signal: segmentation fault"), from
    the container's exit code (128 + N: signal N); None while it still
    runs or when the engine cannot say. Call after classify_crash, which
    waits for Docker to record the exit."""
    try:
        state = client.api.inspect_container(container_id)["State"]
    except Exception:  # noqa: BLE001 - the generic message says enough
        return None
    code = state.get("ExitCode")
    if state.get("Status") in ("running", "restarting") or not isinstance(code, int):
        return None
    if code > 128:
        return f"signal: {_SIGNAL_WORDS.get(code - 128, f'signal {code - 128}')}"
    return f"exit status {code}"


def peak_memory_mb(client: docker.DockerClient, container_id: str) -> int | None:
    """The most memory the running container has used so far, in MB
    rounded up (what the bootstrap reports as maxMemoryUsedMB, from the same
    cgroup counter), or None when it cannot be known (the container is gone
    or stopped, or the engine reports no peak: cgroup v2 through Docker).

    Read before a timed-out environment is removed: the bootstrap, busy
    with the handler, sends no final frame with its own count. The host's
    cgroup file is read when this process sees the container's (a worker on
    its Docker host: a few ms); otherwise Docker's one-shot stats
    (``max_usage``, cgroup v1), which can take up to a second. Never raises."""
    try:
        pid = client.api.inspect_container(container_id)["State"].get("Pid") or 0
    except Exception:  # noqa: BLE001 - a count is not worth failing the outcome over
        return None
    if not pid:
        return None  # not running: its cgroup is gone
    peak = _host_cgroup_peak(pid)
    if peak is None:
        try:
            stats = client.api.stats(container_id, stream=False, one_shot=True)
        except Exception:  # noqa: BLE001 - as above (an engine older than API 1.41 too)
            return None
        peak = (stats.get("memory_stats") or {}).get("max_usage")
    return -(-int(peak) // (1024 * 1024)) if peak else None


def _host_cgroup_peak(pid: int) -> int | None:
    """Bytes from the memory cgroup of host process ``pid``: cgroup v1's
    memory.max_usage_in_bytes or v2's memory.peak; None if unreadable."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            candidates.append(f"/sys/fs/cgroup/memory{path}/memory.max_usage_in_bytes")
        elif controllers == "":
            candidates.append(f"/sys/fs/cgroup{path}/memory.peak")
    for candidate in candidates:
        try:
            with open(candidate) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return None


def destroy(client: docker.DockerClient, container_id: str) -> None:
    """Kill and remove the container; already gone is fine."""
    try:
        client.api.remove_container(container_id, force=True)
    except NotFound:
        pass


def list_environments(
    client: docker.DockerClient, label_filter: dict[str, str]
) -> list[Container]:
    """All containers (running or not) carrying every one of these labels.
    One removed between Docker's listing and its inspection (a discard
    running beside the reaper) is left out rather than raising NotFound."""
    labels = [f"{k}={v}" for k, v in label_filter.items()]
    return client.containers.list(all=True, filters={"label": labels}, ignore_removed=True)
