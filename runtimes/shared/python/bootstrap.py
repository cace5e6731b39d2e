"""Stratus Python bootstrap (python3.11, python3.13: one file, staged into
each image from runtimes/shared by runtimes/build.py): PID 1 of an
execution environment.

Stdlib only. It starts generic: it creates its socket and waits, knowing no
function. The worker then places a function's code in /var/task and sends
  worker -> {"type": "init", "env": {...}}
with the function's whole configuration as the process environment Lambda
gives it (_HANDLER, AWS_LAMBDA_FUNCTION_NAME, ..., the function's variables;
AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL for LoggingConfig, the
frame's "systemLogLevel" for the START/END lines).
Init phase: set os.environ, chdir to /var/task, import the handler (like
Lambda, an init error is remembered and returned for every invoke), answer
  bootstrap -> {"type": "ready", "initError": null|{...}, "initMs": float}
Then serve newline-delimited JSON frames on the socket, one connection at a
time, forever:
  worker -> {"type": "invoke", requestId, event, deadlineMs, ...}
  bootstrap -> {"type": "log", "line"}* then one {"type": "result"|"error", ...}
The framing, the serving loop and the AWS door are stratus_protocol.py's
(beside this file, shared with the provided.al2023 environment).

What the init phase needs (logging above all: its import is most of an
init's time) is imported at start, while the environment is still generic:
the init phase, which a caller waits for, then pays only for the function's
own import. An idle generic environment stays small all the same (about
13 MB RSS); only fallbacks are imported where they are used.

Output written to fds 1 and 2 (subprocesses, C code, and Python's
sys.stdout/sys.stderr between invocations) flows through one pipe read by a
thread, which forwards each line to the current invocation as a log frame, or
to the container's own stdout (docker logs) between invocations. While an
invocation runs, Python's own writes (print, logging) are sent to the worker
by the writing thread before write() returns (_send_now), so a line printed
just before the process is killed (out of memory) is not lost with it. At the
end of an invocation the invoking thread reads the pipe empty itself, so every
line is out before the final frame without a round trip through that thread.

Overrides for running outside a container (tests), read at start:
STRATUS_SOCKET_PATH, LAMBDA_TASK_ROOT.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import select
import sys
import threading
import time
import traceback

import stratus_protocol
from stratus_protocol import Connection, encode

SOCKET_PATH = os.environ.pop("STRATUS_SOCKET_PATH", "/var/runtime/sock/bootstrap.sock")
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
# Where Lambda's Python runtimes find a layer's modules (its "layer paths").
LAYER_PATHS = [
    f"/opt/python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages",
    "/opt/python",
]
RUNTIME_LIB = "/var/runtime/lib"  # boto3 and its dependencies (runtimes/build.py)
MAX_RESPONSE_BYTES = 6291556  # Lambda's synchronous response limit
MAX_LOG_LINE = 256 * 1024  # longer lines are split: keeps log frames small

# --- output capture ------------------------------------------------------------

_orig_stdout_fd = os.dup(1)  # the container's stdout: docker logs
_sink_lock = threading.Lock()
_sink = None  # callable(line) while an invocation runs, else None


def _diag(msg: str) -> None:
    """Bootstrap's own messages: straight to the container's stdout."""
    try:
        os.write(_orig_stdout_fd, (msg + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


def _emit(raw: bytes) -> None:
    line = raw.decode("utf-8", "replace")
    with _sink_lock:
        sink = _sink
    if sink is not None:
        sink(line)
    else:
        _diag(line)


# Whoever holds _pipe_lock reads the pipe (non-blocking) and splits it into
# lines: the pump thread whenever the pipe has data, and the invocation itself
# at its end (_drain_output), which then needs no round trip through the pump.
_pipe_lock = threading.Lock()
_pipe_fd = -1
_pipe_buf = b""


def _read_available() -> bool:
    """Emit every whole line the pipe holds now; False at EOF. Caller holds _pipe_lock."""
    global _pipe_buf
    while True:
        try:
            chunk = os.read(_pipe_fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        buf = _pipe_buf + chunk
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            _emit(buf[start:end])
            start = end + 1
        buf = buf[start:]
        while len(buf) > MAX_LOG_LINE:
            _emit(buf[:MAX_LOG_LINE])
            buf = buf[MAX_LOG_LINE:]
        _pipe_buf = buf


def _pump() -> None:
    """Thread: forward output as it is written (log frames, or docker logs
    between invocations)."""
    while True:
        select.select([_pipe_fd], [], [])
        with _pipe_lock:
            if not _read_available():
                return


class LineWriter(io.TextIOBase):
    """sys.stdout/sys.stderr: writes whole lines to an fd (the pipe) at once."""

    def __init__(self, fd: int, name: str) -> None:
        self._fd, self._name, self._buf = fd, name, ""
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        with self._lock:
            self._buf += s
            cut = self._buf.rfind("\n")
            if cut >= 0:
                data, self._buf = self._buf[: cut + 1], self._buf[cut + 1 :]
                self._write(data)
        return len(s)

    def flush(self) -> None:
        with self._lock:
            if self._buf:
                data, self._buf = self._buf + "\n", ""
                self._write(data)

    def _write(self, data: str) -> None:
        if _sink is not None and _send_now(data):
            return
        raw = data.encode("utf-8", "replace")
        while raw:
            raw = raw[os.write(self._fd, raw) :]


def _send_now(data: str) -> bool:
    """While an invocation runs, send Python's own output (print, logging)
    to the worker from the writing thread, before write() returns; False
    when no invocation runs (then it goes through the pipe to docker logs).

    Why not through the pipe: a line in the pipe only leaves when the pump
    thread gets to run, and a function killed meanwhile (the OOM killer, a
    line printed just before the allocation that kills it) takes the pipe
    and the line with it. A line handed to the socket is in the worker's
    receive buffer once sendall returns, and the worker reads it before the
    connection's EOF. Output written to fds 1/2 directly (subprocesses, C
    code) still goes through the pipe; it is read first here, so the order
    of lines is kept."""
    with _pipe_lock:
        with _sink_lock:
            sink = _sink
        if sink is None:
            return False
        _read_available()
        for line in data[:-1].split("\n"):  # data ends with a newline (LineWriter)
            while len(line) > MAX_LOG_LINE:
                sink(line[:MAX_LOG_LINE])
                line = line[MAX_LOG_LINE:]
            sink(line)
    return True


def install_capture() -> None:
    global _pipe_fd
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    _pipe_fd = read_fd
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    threading.Thread(target=_pump, name="stratus-log-pump", daemon=True).start()
    sys.stdout = LineWriter(1, "<stdout>")
    sys.stderr = LineWriter(2, "<stderr>")


def _drain_output() -> None:
    """Forward everything written to fds 1/2 so far, before the final frame.

    A write to a pipe is in it once write() returns, so reading the pipe
    empty here (under the lock, so the pump is not mid-chunk) forwards all of
    this invocation's earlier output; a last line with no newline goes too.
    """
    global _pipe_buf
    sys.stdout.flush()
    sys.stderr.flush()
    with _pipe_lock:
        _read_available()
        if _pipe_buf:
            _emit(_pipe_buf)
            _pipe_buf = b""


# --- Lambda's context and logging ---------------------------------------------


class LambdaContext:
    def __init__(self, req: dict) -> None:
        self.aws_request_id = req.get("requestId", "")
        self.function_name = req.get("functionName") or os.environ.get(
            "AWS_LAMBDA_FUNCTION_NAME", ""
        )
        self.function_version = req.get("functionVersion") or os.environ.get(
            "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"
        )
        # Lambda's Python runtime exposes this as the env var string.
        mem = req.get("memoryLimitInMB") or os.environ.get(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"
        )
        self.memory_limit_in_mb = str(mem)
        self.invoked_function_arn = req.get("invokedFunctionArn", "")
        self.log_group_name = req.get("logGroupName") or os.environ.get(
            "AWS_LAMBDA_LOG_GROUP_NAME", ""
        )
        self.log_stream_name = req.get("logStreamName") or os.environ.get(
            "AWS_LAMBDA_LOG_STREAM_NAME", ""
        )
        self.identity = None
        self.client_context = _client_context(req.get("clientContext"))
        self._deadline_ms = int(req.get("deadlineMs") or 0)

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},function_version={self.function_version}])"
        )


def _slots_repr(self) -> str:
    """What print(context.client_context) shows in Lambda's Python runtime
    (awslambdaric): "ClientContext([custom={...},env={...},client=Client([
    installation_id=...,...])])", each field in its slot order."""
    fields = ",".join(f"{name}={getattr(self, name, None)}" for name in type(self).__slots__)
    return f"{type(self).__name__}([{fields}])"


class ClientContext:
    """Invoke's ClientContext as Lambda's Python runtime gives it:
    .client (a Client or None), .custom and .env (dicts or None)."""

    __slots__ = ("custom", "env", "client")  # awslambdaric's order: its repr's
    __repr__ = _slots_repr


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")
    __repr__ = _slots_repr


def _from_dict(cls, values: dict):
    made = cls()
    for name in cls.__slots__:
        setattr(made, name, values.get(name))
    return made


def _client_context(text) -> ClientContext | None:
    """The frame's clientContext (JSON text of an object) or None."""
    if not text:
        return None
    try:
        values = json.loads(text)
    except ValueError:
        return None
    if not isinstance(values, dict):
        return None
    made = _from_dict(ClientContext, values)
    if isinstance(made.client, dict):
        made.client = _from_dict(Client, made.client)
    return made


_current_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


class JsonFormatter(logging.Formatter):
    """Lambda's structured lines for LogFormat JSON: {"timestamp", "level",
    "message", "logger", "requestId"}, plus errorType/errorMessage/
    stackTrace for a logged exception and the record's `extra` fields."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
        "message", "asctime", "aws_request_id",
    }

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", _current_request_id),
        }
        if record.exc_info and record.exc_info[0] is not None:
            exc = record.exc_info[1]
            entry["errorType"] = type(exc).__name__
            entry["errorMessage"] = str(exc)
            entry["stackTrace"] = traceback.format_tb(record.exc_info[2])
        for key, value in vars(record).items():
            if key not in self._STANDARD and key not in entry:
                entry[key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


_LOG_LEVELS = {  # Lambda's level names -> logging's (TRACE is below DEBUG)
    "TRACE": 5, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
    "ERROR": logging.ERROR, "FATAL": logging.CRITICAL,
}
_log_json = False
_system_level = logging.INFO  # SystemLogLevel (JSON): START is INFO, END DEBUG


def configure_log_format(handler: logging.Handler, system_level: str | None) -> None:
    """LoggingConfig, from the environment the init frame set: with
    AWS_LAMBDA_LOG_FORMAT=JSON the root logger writes Lambda's JSON lines
    at AWS_LAMBDA_LOG_LEVEL (ApplicationLogLevel) and above; print() output
    stays as it is, as in Lambda."""
    global _log_json, _system_level
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") != "JSON":
        return
    _log_json = True
    handler.setFormatter(JsonFormatter())
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
    logging.getLogger().setLevel(_LOG_LEVELS.get(level, logging.INFO))
    _system_level = _LOG_LEVELS.get(str(system_level or "INFO").upper(), logging.INFO)


def system_line(kind: str, request_id: str, detail: str) -> str | None:
    """START (detail: the version) or END (detail: "success" | "error") as
    Lambda writes it: text, or with LogFormat JSON its platform event
    (platform.start at INFO, platform.runtimeDone at DEBUG), None when
    SystemLogLevel leaves it out."""
    if not _log_json:
        if kind == "start":
            return f"START RequestId: {request_id} Version: {detail}"
        return f"END RequestId: {request_id}"
    level = logging.INFO if kind == "start" else logging.DEBUG
    if level < _system_level:
        return None
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    if kind == "start":
        event = {"type": "platform.start", "record": {"requestId": request_id, "version": detail}}
    else:
        event = {"type": "platform.runtimeDone", "record": {"requestId": request_id, "status": detail}}
    return json.dumps({"time": stamp, **event}, separators=(",", ":"))


def install_logging() -> logging.StreamHandler:
    """Lambda's root logger format, so logging.getLogger().warning(...) looks familiar."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)
    return handler


# --- init phase ----------------------------------------------------------------


def load_handler(spec: str):
    """Returns (callable, None) or (None, error dict) with Lambda's wording."""
    try:
        module_name, func_name = spec.rsplit(".", 1)
    except ValueError as exc:
        return None, {
            "errorType": "Runtime.MalformedHandlerName",
            "errorMessage": f"Bad handler '{spec}': {exc}",
            "stackTrace": [],
        }
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, {
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": f"Unable to import module '{module_name}': {exc}",
            "stackTrace": [],
        }
    except SyntaxError as exc:
        return None, {
            "errorType": "Runtime.UserCodeSyntaxError",
            "errorMessage": f"Syntax error in module '{module_name}': {exc}",
            "stackTrace": [],
        }
    except Exception as exc:  # noqa: BLE001 - the module's top-level code may raise anything
        return None, error_from_exception(exc)
    func = getattr(module, func_name, None)
    if func is None or not callable(func):
        return None, {
            "errorType": "Runtime.HandlerNotFound",
            "errorMessage": f"Handler '{func_name}' missing on module '{module_name}'",
            "stackTrace": [],
        }
    return func, None


def error_from_exception(exc: BaseException, skip: int = 0) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)[skip:]  # skip: the bootstrap's frames
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_list(frames),
    }


def log_error(err: dict) -> None:
    """Lambda prints the error into the function's log as well (with
    LogFormat JSON as a JSON line at ERROR)."""
    if _log_json:
        now = time.time()
        print(json.dumps({
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now * 1000) % 1000:03d}Z",
            "level": "ERROR",
            "message": {
                "errorMessage": err["errorMessage"], "errorType": err["errorType"],
                "requestId": _current_request_id, "stackTrace": err["stackTrace"],
            },
            "requestId": _current_request_id,
        }, ensure_ascii=False, default=str), file=sys.stdout)
        return
    text = f"[ERROR] {err['errorType']}: {err['errorMessage']}"
    if err["stackTrace"]:
        text += "\nTraceback (most recent call last):\n" + "".join(
            err["stackTrace"]
        ).rstrip("\n")
    print(text, file=sys.stdout)


# --- memory --------------------------------------------------------------------


def max_memory_used_mb() -> int:
    """Peak memory of the environment: the container's cgroup when it is
    limited, else this process's own."""
    peak = stratus_protocol.max_memory_used_mb()
    if peak is not None:
        return peak
    import resource

    return -(-resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # KiB on Linux, rounded up


# --- serving -------------------------------------------------------------------


def _json_default(value):
    """Results json cannot encode natively. A Decimal (what boto3's DynamoDB
    resource hands out) is the number it holds, as in Lambda's runtime: its
    digits with no point or exponent are an integer, others a float, NaN is
    NaN. Anything else fails with json's own message (Runtime.MarshalError)."""
    decimal = sys.modules.get("decimal")  # not imported: value is no Decimal
    if decimal is not None and isinstance(value, decimal.Decimal):
        if value.is_nan():
            return float("nan")
        if value.is_finite() and value.as_tuple().exponent == 0:
            return int(value)
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def handle_invoke(
    conn: Connection, req: dict, handler, init_error: dict | None
) -> None:
    global _sink, _current_request_id
    request_id = req.get("requestId", "")
    context = LambdaContext(req)
    _current_request_id = request_id
    start = system_line("start", request_id, context.function_version)
    if start is not None:
        conn.hold(encode({"type": "log", "line": start}))
    with _sink_lock:
        _sink = conn.log
    result_bytes = None
    exit_code = None
    try:
        if init_error is not None:
            err = init_error
            log_error(err)
        else:
            try:
                result = handler(req.get("event"), context)
                err = None
            except SystemExit as exc:
                exit_code = exc.code if isinstance(exc.code, int) else 1
                err = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with "
                    f"error: exit status {exit_code}",
                    "stackTrace": [],
                }
                log_error(err)
            except Exception as exc:  # noqa: BLE001 - any handler error is the function's result
                err = error_from_exception(exc, skip=1)
                log_error(err)
            if err is None:
                try:
                    result_bytes = json.dumps(
                        result,
                        separators=(",", ":"),
                        ensure_ascii=False,
                        default=_json_default,
                    ).encode()
                except (TypeError, ValueError) as exc:
                    err = {
                        "errorType": "Runtime.MarshalError",
                        "errorMessage": f"Unable to marshal response: {exc}",
                        "stackTrace": [],
                    }
                    log_error(err)
                else:
                    if len(result_bytes) > MAX_RESPONSE_BYTES:
                        result_bytes = None
                        err = {
                            "errorType": "Function.ResponseSizeTooLarge",
                            "errorMessage": "Response payload size exceeded maximum allowed "
                            f"payload size ({MAX_RESPONSE_BYTES} bytes).",
                            "stackTrace": [],
                        }
                        log_error(err)
        _drain_output()
    finally:
        with _sink_lock:
            _sink = None
    mem = max_memory_used_mb()
    # END and the final frame leave in one write: one wake-up for the worker.
    end_line = system_line("end", request_id, "success" if err is None else "error")
    end = b"" if end_line is None else encode({"type": "log", "line": end_line})
    if err is None:
        # Splice the already-encoded payload rather than encoding it twice.
        conn.send_raw(
            end
            + b'{"type":"result","maxMemoryUsedMB":%d,"payload":%s}\n'
            % (mem, result_bytes)
        )
    else:
        conn.send_raw(end + encode({"type": "error", "maxMemoryUsedMB": mem, **err}))
    if exit_code is not None:
        # The function asked the process to exit: the environment is over.
        os._exit(exit_code)


def apply_configuration(frame: dict) -> str:
    """The init frame's environment becomes the process's (the function's
    variables and Lambda's reserved ones); return the handler (_HANDLER)."""
    env = frame.get("env") or {}
    os.environ.update({str(k): str(v) for k, v in env.items()})
    if env.get("AWS_SESSION_TOKEN"):  # the platform gave this function credentials
        endpoint = stratus_protocol.start_aws_door(SOCKET_PATH, _diag)
        if endpoint:
            os.environ["AWS_ENDPOINT_URL"] = endpoint
    time.tzset()  # TZ arrives now, after the interpreter read it
    try:
        os.chdir(TASK_ROOT)
    except OSError as exc:
        _diag(f"stratus bootstrap: cannot chdir to {TASK_ROOT}: {exc}")
    # Lambda's order: the code, then the layers' site directory and python/
    # folder (unpacked under /opt), then the runtime's own libraries.
    sys.path[0:0] = [TASK_ROOT, *LAYER_PATHS]
    if os.path.isdir(LAYER_PATHS[0]):
        import site

        # A site directory: its .pth files count (the folder is on the path already).
        site.addsitedir(LAYER_PATHS[0])
    # The runtime's boto3, after the function's own (a bundled copy wins, as in Lambda).
    if os.path.isdir(RUNTIME_LIB):
        sys.path.append(RUNTIME_LIB)
    return os.environ.get("_HANDLER", "")


def main() -> None:
    log_handler = install_logging()
    server = stratus_protocol.listen(SOCKET_PATH)
    init_sock, frame = stratus_protocol.wait_for_init(server)
    started = time.perf_counter()
    handler_name = apply_configuration(frame)
    configure_log_format(log_handler, frame.get("systemLogLevel"))
    # Init output goes straight to the container's stdout (docker logs): not
    # through the pipe, so it survives even if the module kills the process.
    handler, init_error = load_handler(handler_name)
    if init_error is not None:
        _diag(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}")
    sys.stdout.flush()
    sys.stderr.flush()
    # Found now, not by the first invoke: which file holds the peak (or the
    # rusage fallback's import) costs that call up to several ms, and a
    # provisioned environment's first call is promised a warm call's speed.
    max_memory_used_mb()
    install_capture()
    log_handler.setStream(sys.stdout)
    try:
        init_ms = (time.perf_counter() - started) * 1000
        init_sock.sendall(
            encode({"type": "ready", "initError": init_error, "initMs": init_ms})
        )
    except OSError:
        pass
    init_sock.close()
    stratus_protocol.serve(
        server, lambda conn, _line, frame: handle_invoke(conn, frame, handler, init_error), _diag
    )


if __name__ == "__main__":
    main()
