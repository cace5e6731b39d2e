"""Stratus provided.al2023 environment: PID 1 of a custom-runtime container.

Stdlib only. Like the Python runtimes' bootstrap it starts generic: it
listens on its Unix socket (and serves the Lambda Runtime API on
127.0.0.1:9001, runtime_api.py) knowing no function. The worker places the
function's code in /var/task and sends
  worker -> {"type": "init", "env": {...}}
Init phase, as Lambda's for OS-only runtimes: the code's executable
``/var/task/bootstrap`` (else ``/opt/bootstrap``, a layer's) is started with
the function's environment plus AWS_LAMBDA_RUNTIME_API; init is over when it
first calls GET /runtime/invocation/next. It ends in an init error when the
bootstrap posts /runtime/init/error (its body is the error), exits first
(Runtime.ExitError) or cannot be found or started (Runtime.InvalidEntrypoint);
as in the Python runtime, that error is then every invoke's answer. Then:
  bootstrap -> {"type": "ready", "initError": null|{...}, "initMs": float}
and one invocation at a time:
  worker -> {"type": "invoke", requestId, event, deadlineMs, ...}
  bootstrap -> {"type": "log", "line"}* then one
    {"type": "result", "payloadText": <the posted body, as text>} or
    {"type": "error", errorType, errorMessage, stackTrace}
The response body is passed on byte for byte (Lambda does not re-encode it,
and it need not be JSON), hence ``payloadText`` rather than ``payload``.

Logs: the runtime process's stdout and stderr (one pipe) are the function's
log, line by line, while an invocation runs; what it writes before its first
invocation (its init) leads that invocation's log, and at any other time goes
to the container's own output (docker logs).

A runtime process that ends ends the environment, as in Lambda: during an
invocation that invocation fails with Runtime.ExitError, unless the kernel's
OOM killer ended it, in which case this process exits without a word so the
worker reads Docker's OOM flag (out_of_memory).

Overrides for running outside a container (tests), read at start:
STRATUS_SOCKET_PATH, LAMBDA_TASK_ROOT, STRATUS_OPT_DIR, STRATUS_RUNTIME_API_PORT
(0: any free port).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

# The worker protocol's module is shared with the Python runtimes: beside
# this file in the image (/var/runtime), in runtimes/shared/python in a
# checkout (the unit tests run this file from there).
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "shared", "python"))

import runtime_api  # noqa: E402
import stratus_protocol  # noqa: E402
from stratus_protocol import Connection, encode  # noqa: E402

SOCKET_PATH = os.environ.pop("STRATUS_SOCKET_PATH", "/var/runtime/sock/bootstrap.sock")
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
OPT_DIR = os.environ.pop("STRATUS_OPT_DIR", "/opt")
API_PORT = int(os.environ.pop("STRATUS_RUNTIME_API_PORT", "9001"))
# Lambda's limit on an on-demand init phase. An init still running then is
# not an error: the environment answers ready and the init goes on ("the
# init is retried in the invoke phase"), so the first invocation waits for
# the runtime's /next within the function's own timeout.
INIT_LIMIT_S = float(os.environ.pop("STRATUS_INIT_LIMIT_S", "10"))
MAX_LOG_LINE = 256 * 1024  # longer lines are split: keeps log frames small
INIT_LOG_CAP = 64 * 1024  # init output kept for the first invocation's log
# Lambda's PATH and LD_LIBRARY_PATH for OS-only runtimes; the function's
# own variables may set others.
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = (
    "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)


def _diag(message: str) -> None:
    """Our own messages and stray output: the container's stdout."""
    try:
        os.write(1, (message + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


# --- the runtime process's output ------------------------------------------------


class Output:
    """The pipe the runtime process writes its stdout and stderr to, cut into
    lines: to the current invocation (``sink``), else kept for the first
    invocation (init output) and shown in docker logs."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._pipe_lock = threading.Lock()  # whoever holds it reads the pipe
        self._buf = b""
        self._sink_lock = threading.Lock()
        self._sink = None
        self._early: list[str] | None = []  # None once the first invocation took them
        self._early_size = 0

    def start(self) -> None:
        threading.Thread(target=self._pump, name="runtime-output", daemon=True).start()

    def set_sink(self, sink) -> None:
        with self._sink_lock:
            self._sink = sink

    def take_early(self) -> list[str]:
        """The lines written before the first invocation (once; [] after)."""
        with self._sink_lock:
            lines, self._early = self._early or [], None
        return lines

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace")
        with self._sink_lock:
            sink = self._sink
            if sink is None and self._early is not None and self._early_size < INIT_LOG_CAP:
                self._early.append(line)
                self._early_size += len(line) + 1
        if sink is not None:
            sink(line)
        else:
            _diag(line)

    def _read_available(self) -> bool:
        """Emit every whole line the pipe holds now; False at EOF. Caller holds _pipe_lock."""
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            buf = self._buf + chunk
            start = 0
            while True:
                end = buf.find(b"\n", start)
                if end < 0:
                    break
                self._emit(buf[start:end])
                start = end + 1
            buf = buf[start:]
            while len(buf) > MAX_LOG_LINE:
                self._emit(buf[:MAX_LOG_LINE])
                buf = buf[MAX_LOG_LINE:]
            self._buf = buf

    def _pump(self) -> None:
        while True:
            select.select([self.read_fd], [], [])
            with self._pipe_lock:
                if not self._read_available():
                    return

    def drain(self) -> None:
        """Forward all that was written so far, a last line without its
        newline too. What the runtime wrote before it posted its response
        is in the pipe by then (a write to a pipe is there once it returns)."""
        with self._pipe_lock:
            self._read_available()
            if self._buf:
                self._emit(self._buf)
                self._buf = b""


# --- init ------------------------------------------------------------------------


def exit_reason(status: int) -> str:
    """Lambda's words for how the runtime process ended (Popen returncode)."""
    if status < 0:
        try:
            name = signal.strsignal(-status) or f"signal {-status}"
        except ValueError:
            name = f"signal {-status}"
        return f"Runtime exited with error: signal: {name.lower()}"
    if status == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: exit status {status}"


class State:
    """What the init phase left: the runtime process, or the init error."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        # Posted by the runtime (/init/error): returned as it is.
        self.init_error: dict | None = None
        # Ours (an exit, no bootstrap): (errorType, text); each invoke's
        # message names its request, as Lambda's "RequestId: ... Error: ...".
        self.platform_error: tuple[str, str] | None = None
        self.ready = False
        self.invoking = False
        self.lock = threading.Lock()

    def error_for(self, request_id: str) -> dict | None:
        if self.platform_error is not None:
            error_type, text = self.platform_error
            return {
                "errorType": error_type,
                "errorMessage": f"RequestId: {request_id} Error: {text}",
                "stackTrace": [],
            }
        return self.init_error


def find_bootstrap() -> str | None:
    """Lambda's order: the code's bootstrap, then a layer's; a folder of
    that name does not count."""
    for path in (os.path.join(TASK_ROOT, "bootstrap"), os.path.join(OPT_DIR, "bootstrap")):
        if os.path.isfile(path):
            return path
    return None


def runtime_environment(frame_env: dict, api_address: str) -> dict:
    """The runtime process's environment: the function's configuration
    (the init frame: _HANDLER, AWS_LAMBDA_*, credentials, its variables)
    over the image's, with Lambda's PATH and LD_LIBRARY_PATH unless the
    function sets them, AWS_LAMBDA_RUNTIME_API, and no AWS_EXECUTION_ENV
    (Lambda sets none for OS-only runtimes)."""
    env = dict(os.environ)
    env["PATH"] = LAMBDA_PATH
    env["LD_LIBRARY_PATH"] = LAMBDA_LD_LIBRARY_PATH
    env.update({str(k): str(v) for k, v in frame_env.items()})
    env.pop("AWS_EXECUTION_ENV", None)
    env["AWS_LAMBDA_RUNTIME_API"] = api_address
    return env


def start_runtime(state: State, output: Output, env: dict) -> None:
    """Start the bootstrap; on failure set the init error Lambda gives."""
    path = find_bootstrap()
    if path is None:
        state.platform_error = (
            "Runtime.InvalidEntrypoint",
            f"Couldn't find valid bootstrap(s): [{os.path.join(TASK_ROOT, 'bootstrap')} "
            f"{os.path.join(OPT_DIR, 'bootstrap')}]",
        )
        return
    try:
        state.process = subprocess.Popen(
            [path], cwd=TASK_ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=output.write_fd, stderr=output.write_fd, close_fds=True,
        )
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        state.platform_error = ("Runtime.InvalidEntrypoint", f"fork/exec {path}: {reason}")


def watch(state: State, api: runtime_api.RuntimeAPI, output: Output) -> None:
    """Thread: the runtime process ended. Between invocations after a good
    init, the environment ends with it (the worker starts another)."""
    status = state.process.wait()  # type: ignore[union-attr]
    api.runtime_exited(status)
    with state.lock:
        idle = state.ready and not state.invoking
    if idle:
        output.drain()
        _diag(f"stratus: the runtime process ended between invocations: {exit_reason(status)}")
        os._exit(1)


# --- invocations ---------------------------------------------------------------------


_decoder = json.JSONDecoder()


def raw_member(line: bytes, key: str) -> bytes | None:
    """The JSON text of top-level member ``key`` of the object ``line``
    (valid JSON, as FrameReader read it), or None when it has none. The
    top-level members are walked with json's own scanner, so a nested
    object with the same key is never taken for it."""
    text = line.decode("utf-8")
    pos = text.index("{") + 1
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    pos = skip(pos)
    found = None
    while pos < n and text[pos] != "}":
        name, pos = _decoder.raw_decode(text, pos)
        pos = skip(pos) + 1  # the colon
        start = skip(pos)
        _, end = _decoder.raw_decode(text, start)
        if name == key:
            found = (start, end)  # the last one wins, as in json.loads
        pos = skip(end)
        if pos < n and text[pos] == ",":
            pos = skip(pos + 1)
    return None if found is None else text[found[0] : found[1]].encode("utf-8")


def oom_kills() -> int | None:
    """How many processes the kernel's OOM killer has killed in this
    cgroup (v1 memory.oom_control, v2 memory.events), or None unknown."""
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def _cognito_header(frame: dict) -> str:
    identity = frame.get("cognitoIdentity")
    if not isinstance(identity, dict) or not identity:
        return ""
    return json.dumps({
        "cognitoIdentityId": identity.get("cognitoIdentityId") or identity.get("identityId", ""),
        "cognitoIdentityPoolId": identity.get("cognitoIdentityPoolId") or identity.get("identityPoolId", ""),
    }, separators=(",", ":"))


def _fallback_memory_mb() -> int:
    import resource

    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return -(-peak // 1024)  # KiB on Linux


def handle_invoke(
    conn: Connection, line: bytes, frame: dict, state: State,
    api: runtime_api.RuntimeAPI, output: Output,
) -> None:
    request_id = str(frame.get("requestId", ""))
    version = frame.get("functionVersion") or os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    for early in output.take_early():
        conn.hold(encode({"type": "log", "line": early}))
    conn.hold(encode({"type": "log", "line": f"START RequestId: {request_id} Version: {version}"}))
    output.set_sink(conn.log)
    body = None
    exit_status = None
    oom_before = oom_kills()
    try:
        error = state.error_for(request_id)
        if error is None:
            invocation = runtime_api.Invocation(
                request_id,
                raw_member(line, "event") or b"null",
                deadline_ms=int(frame.get("deadlineMs") or 0),
                function_arn=str(frame.get("invokedFunctionArn") or ""),
                trace_id=str(frame.get("traceId") or runtime_api.trace_header()),
                client_context=str(frame.get("clientContext") or ""),
                cognito_identity=_cognito_header(frame),
            )
            with state.lock:
                state.invoking = True
            api.submit(invocation)
            outcome = api.wait_outcome(invocation)
            if outcome is None and api.init_error is not None:
                state.init_error = error = api.init_error  # a late init's error, from now on
            elif outcome is None:
                exit_status = api.exit_status
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: {exit_reason(exit_status or 0)}",
                    "stackTrace": [],
                }
            elif outcome.kind == "result":
                body = outcome.body
            else:
                error = outcome.error
            if outcome is not None:
                with state.lock:
                    state.ready = True  # a late init is over too
        if error is not None and (exit_status is not None or state.platform_error is not None):
            # Lambda logs the errors it makes itself (not the function's).
            conn.log(error["errorMessage"])
            conn.log(error["errorType"])
        output.drain()
    finally:
        output.set_sink(None)
    if exit_status is not None and exit_status == -signal.SIGKILL:
        after = oom_kills()
        if after is None or oom_before is None or after > (oom_before or 0):
            # The kernel's OOM killer: no answer, so the worker reads
            # Docker's OOM flag once this process (and the container) ends.
            conn.send_raw(b"")
            os._exit(137)
    mem = stratus_protocol.max_memory_used_mb() or _fallback_memory_mb()
    end = encode({"type": "log", "line": f"END RequestId: {request_id}"})
    if error is None:
        conn.send_raw(end + encode({
            "type": "result", "maxMemoryUsedMB": mem,
            "payloadText": (body or b"").decode("utf-8", "replace"),
        }))
    else:
        conn.send_raw(end + encode({"type": "error", "maxMemoryUsedMB": mem, **error}))
    with state.lock:
        state.invoking = False
    if exit_status is not None:
        os._exit(1)  # the runtime is gone: so is the environment


def apply_configuration(frame: dict) -> dict:
    """The init frame's environment (the function's configuration), with
    the AWS door's endpoint when the function has credentials."""
    env = {str(k): str(v) for k, v in (frame.get("env") or {}).items()}
    os.environ.update(env)
    if env.get("AWS_SESSION_TOKEN"):
        door = stratus_protocol.start_aws_door(SOCKET_PATH, _diag)
        if door:
            env["AWS_ENDPOINT_URL"] = door
    return env


def main() -> None:
    api = runtime_api.RuntimeAPI()
    # Listening before the function is known: the bootstrap's first call
    # never waits for the server.
    http_server = runtime_api.serve_in_thread(api, "127.0.0.1", API_PORT)
    api_address = f"127.0.0.1:{http_server.server_address[1]}"
    server = stratus_protocol.listen(SOCKET_PATH)
    init_sock, frame = stratus_protocol.wait_for_init(server)
    started = time.perf_counter()
    env = runtime_environment(apply_configuration(frame), api_address)
    output = Output()
    output.start()
    state = State()
    start_runtime(state, output, env)
    os.close(output.write_fd)  # the runtime holds its copy: EOF when it ends
    if state.process is not None:
        threading.Thread(target=watch, args=(state, api, output), daemon=True).start()
        how = api.wait_init(INIT_LIMIT_S)
        if how == "ready":
            with state.lock:
                state.ready = True
            if api.exit_status is not None:  # ended right after its /next
                output.drain()
                os._exit(1)
        elif how == "init_error":
            state.init_error = api.init_error
        elif how == "exited":  # before its first /next
            state.platform_error = ("Runtime.ExitError", exit_reason(api.exit_status or 0))
        else:
            _diag(f"stratus: the init phase passed {INIT_LIMIT_S:g} s; it goes on during the first call")
    init_error = state.error_for("") if not state.ready else None
    if init_error is not None:
        # Without a request, the message has no id: "RequestId:  Error: ..." would read oddly.
        if state.platform_error is not None:
            init_error = {**init_error, "errorMessage": state.platform_error[1]}
        _diag(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}")
    try:
        init_sock.sendall(encode({
            "type": "ready", "initError": init_error,
            "initMs": (time.perf_counter() - started) * 1000,
        }))
    except OSError:
        pass
    init_sock.close()
    stratus_protocol.serve(
        server, lambda conn, line, frame: handle_invoke(conn, line, frame, state, api, output), _diag
    )


if __name__ == "__main__":
    main()
