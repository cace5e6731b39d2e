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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import NotFound
from docker.models.containers import Container
from docker.types import LogConfig, Ulimit

from invocations.protocol import FrameReader, ProtocolError, send_frame

log = logging.getLogger(__name__)

SANDBOX_UID = 10001
SOCKET_NAME = "bootstrap.sock"
CONTAINER_SOCKET_DIR = "/var/runtime/sock"
CONTAINER_TASK_ROOT = "/var/task"
MB_PER_VCPU = 1769  # Lambda: 1,769 MB of memory = one vCPU


class EnvironmentStartError(Exception):
    """The container exited, or did not open its socket in time."""

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
        self.container_id = container_id
        self.logs = logs
        self.oom_killed = oom_killed


@dataclass
class EnvironmentSpec:
    env_id: str  # uuid hex
    image: str
    code_dir: str  # host path, mounted read-only at /var/task
    socket_dir: str  # host path, mounted read-write at /var/runtime/sock
    memory_mb: int
    handler: str  # "module.func"
    function_name: str
    function_version: str
    env_vars: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    tmp_mb: int = 512
    pids_limit: int = 256
    nofile: int = 1024
    min_cpus: float = 0.5
    region: str = "us-east-1"  # AWS_REGION / AWS_DEFAULT_REGION inside


@dataclass
class StartedEnvironment:
    container_id: str
    socket_path: str  # host path of the bootstrap's socket
    init_ms: float  # create + start + bootstrap init, until the socket accepts


@dataclass
class InvokeOutcome:
    # "result" | "error" | "timeout" | "crashed" | "unreachable" (the
    # socket refused the connection: the request was never delivered)
    kind: str
    payload: Any = None  # the handler's return value when kind == "result"
    error: dict[str, Any] | None = None  # errorType, errorMessage, stackTrace
    max_memory_used_mb: int | None = None
    duration_ms: float = 0.0  # from sending the invoke to the final frame


def cpu_quota(memory_mb: int, min_cpus: float) -> tuple[int, int]:
    """(nano_cpus, cpu_shares): CPU in proportion to memory, as Lambda does."""
    cpus = min(max(memory_mb / MB_PER_VCPU, min_cpus), float(os.cpu_count() or 1))
    return int(cpus * 1e9), max(memory_mb * 1024 // MB_PER_VCPU, 2)


def container_environment(spec: EnvironmentSpec) -> dict[str, str]:
    """The function's variables plus Lambda's reserved ones; nothing from the host."""
    env = {str(k): str(v) for k, v in spec.env_vars.items()}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": CONTAINER_TASK_ROOT,
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "TZ": ":UTC",
            "HOME": "/tmp",
        }
    )
    return env


def prepare_socket_dir(path: str) -> str:
    """Create the socket folder for the sandbox user only; return the socket path."""
    os.makedirs(path, exist_ok=True)
    os.chown(path, SANDBOX_UID, SANDBOX_UID)
    os.chmod(path, 0o700)
    sock_path = os.path.join(path, SOCKET_NAME)
    if len(os.fsencode(sock_path)) >= 108:  # sun_path is 108 bytes on Linux
        raise ValueError(f"socket path too long for AF_UNIX: {sock_path}")
    try:
        os.unlink(sock_path)  # a stale socket would look ready before the bootstrap is
    except FileNotFoundError:
        pass
    return sock_path


def lock_socket_dir(path: str) -> None:
    """Once the bootstrap's socket exists, and before any user code runs,
    the folder becomes root's and read-only to the sandbox: the function can
    still connect through the socket but can neither write to the host's
    disk there nor replace the socket with a link. Needs a root worker;
    otherwise the folder stays the sandbox user's (logged)."""
    if os.geteuid() != 0:
        log.warning("worker is not root: socket folder %s stays writable by the sandbox", path)
        return
    os.chown(path, 0, 0)
    os.chmod(path, 0o711)


def initialize(socket_path: str, timeout_s: float) -> bool:
    """Tell the bootstrap to run the function's init (import the handler
    module); True once it reports ready, False if it died trying."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(socket_path)
        send_frame(sock, {"type": "init"})
        try:
            frame = FrameReader(sock).read(timeout=timeout_s)
        except (TimeoutError, ProtocolError, OSError):
            return False
    return frame is not None and frame.get("type") == "ready"


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
    """Create and start a hardened container; return once its bootstrap listens."""
    t0 = time.perf_counter()
    socket_path = prepare_socket_dir(spec.socket_dir)  # before create: fail fast
    nano_cpus, cpu_shares = cpu_quota(spec.memory_mb, spec.min_cpus)
    container = client.containers.create(
        spec.image,
        name=f"stratus-{spec.env_id}",
        detach=True,
        user=f"{SANDBOX_UID}:{SANDBOX_UID}",
        environment=container_environment(spec),
        labels={**spec.labels, "stratus.env": spec.env_id},
        volumes={
            os.path.abspath(spec.code_dir): {"bind": CONTAINER_TASK_ROOT, "mode": "ro"},
            os.path.abspath(spec.socket_dir): {
                "bind": CONTAINER_SOCKET_DIR,
                "mode": "rw",
            },
        },
        mem_limit=f"{spec.memory_mb}m",
        memswap_limit=f"{spec.memory_mb}m",  # equal: no swap
        nano_cpus=nano_cpus,
        cpu_shares=cpu_shares,
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
        state: dict[str, Any] = {}

        def still_starting() -> bool:
            state.update(client.api.inspect_container(container.id)["State"])
            return state.get("Status") in ("created", "running")

        try:
            ready = wait_for_socket(socket_path, ready_timeout_s, still_starting)
        except TimeoutError as exc:
            raise EnvironmentStartError(
                str(exc), container.id, _tail_logs(container)
            ) from None
        if ready:
            lock_socket_dir(spec.socket_dir)
            ready = initialize(socket_path, ready_timeout_s)
            if not ready:
                # The bootstrap died during init: wait for its exit status.
                try:
                    client.api.wait(container.id, timeout=5)
                except Exception:  # noqa: BLE001 - the error below says enough
                    pass
                still_starting()
        if not ready:
            raise EnvironmentStartError(
                f"environment {spec.env_id} exited during init (exit code "
                f"{state.get('ExitCode')}, OOMKilled={state.get('OOMKilled')})",
                container.id,
                _tail_logs(container),
                bool(state.get("OOMKilled")),
            )
    except BaseException:
        destroy(client, container.id)
        raise
    return StartedEnvironment(
        container.id, socket_path, (time.perf_counter() - t0) * 1000
    )


def _tail_logs(container: Container, lines: int = 30) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", "replace").rstrip()
    except docker.errors.APIError:
        return ""


def invoke(
    socket_path: str,
    request: dict[str, Any],
    timeout_s: float,
    on_log: Callable[[str], None],
) -> InvokeOutcome:
    """Run one invocation; ``on_log`` gets each log line as it arrives.

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
            send_frame(sock, {**request, "type": "invoke"})
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
                    return InvokeOutcome(
                        "result",
                        payload=frame.get("payload"),
                        max_memory_used_mb=frame.get("maxMemoryUsedMB"),
                        duration_ms=elapsed_ms(),
                    )
                elif kind == "error":
                    error = {
                        "errorType": frame.get("errorType", "Unhandled"),
                        "errorMessage": frame.get("errorMessage", ""),
                        "stackTrace": frame.get("stackTrace") or [],
                    }
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


def destroy(client: docker.DockerClient, container_id: str) -> None:
    """Kill and remove the container; already gone is fine."""
    try:
        client.api.remove_container(container_id, force=True)
    except NotFound:
        pass


def list_environments(
    client: docker.DockerClient, label_filter: dict[str, str]
) -> list[Container]:
    """All containers (running or not) carrying every one of these labels."""
    labels = [f"{k}={v}" for k, v in label_filter.items()]
    return client.containers.list(all=True, filters={"label": labels})
