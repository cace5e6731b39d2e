"""The Lambda Runtime API (version 2018-06-01) served to a custom runtime's
``bootstrap`` on loopback, as Lambda serves it at AWS_LAMBDA_RUNTIME_API.

Stdlib only (it runs inside the provided.al2023 image). Two sides meet in
``RuntimeAPI``: the environment's side (runtimes/provided.al2023/bootstrap.py,
which talks to the Stratus worker) hands over invocations with ``submit`` and
waits for their ``Outcome``; the function's bootstrap fetches them over HTTP:

| request | answer |
| --- | --- |
| GET /2018-06-01/runtime/invocation/next | 200, the event as the body; blocks until there is one |
| POST /2018-06-01/runtime/invocation/{id}/response | 202 {"status":"OK"}; 413 above 6,291,556 bytes |
| POST /2018-06-01/runtime/invocation/{id}/error | 202 {"status":"OK"} |
| POST /2018-06-01/runtime/init/error | 202 {"status":"OK"} |

The rules are those of AWS's reference (docs.aws.amazon.com/lambda/latest/dg/
runtimes-api.html) and of its open-source Runtime Interface Emulator (its
runtime state machine and error bodies): an ``{id}`` that is not the current
invocation's is 400 InvalidRequestID; a call the runtime's state does not
allow (a second response, a response before /next, /init/error after init,
/next after an init error) is 403 InvalidStateTransition; every error body is
{"errorType", "errorMessage"}. The first /next ends the init phase
(``wait_init``), as in Lambda.
"""

from __future__ import annotations

import json
import os
import re
import socket
import socketserver
import threading
import time

API_VERSION = "2018-06-01"
MAX_PAYLOAD_BYTES = 6291556  # Lambda's synchronous payload limit (RIE's MaxPayloadSize)
# An error or init-error body larger than this is cut: it only becomes an
# error message, and the worker's frames are capped.
MAX_ERROR_BYTES = 1024 * 1024
READ_CHUNK = 256 * 1024

# The runtime's states, with the Runtime Interface Emulator's names (they
# appear in the 403 messages a runtime client may log).
STARTED = "Started"
INIT_ERROR = "InitError"
READY = "Ready"
RESPONSE = "InvocationResponse"
ERROR_RESPONSE = "InvocationErrorResponse"
RESPONSE_SENT = "RuntimeResponseSentState"

_RESPONSE_PATH = re.compile(rf"^/{API_VERSION}/runtime/invocation/([^/]+)/(response|error)$")
_NEXT_PATH = f"/{API_VERSION}/runtime/invocation/next"
_INIT_ERROR_PATH = f"/{API_VERSION}/runtime/init/error"


class Invocation:
    """One event handed to the runtime: what /next answers with, and (once
    the runtime posted it) its ``outcome``."""

    def __init__(
        self,
        request_id: str,
        event: bytes,
        *,
        deadline_ms: int,
        function_arn: str = "",
        trace_id: str = "",
        client_context: str = "",
        cognito_identity: str = "",
    ) -> None:
        self.request_id = request_id
        self.event = event
        self.deadline_ms = deadline_ms
        self.function_arn = function_arn
        self.trace_id = trace_id
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.outcome: Outcome | None = None

    def headers(self) -> list[tuple[str, str]]:
        """/next's headers; the optional ones only when they have a value
        (as Lambda: Client-Context and Cognito-Identity come with mobile SDK
        calls only)."""
        pairs = [
            ("Lambda-Runtime-Aws-Request-Id", self.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(self.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
            ("Lambda-Runtime-Trace-Id", self.trace_id),
            ("Lambda-Runtime-Client-Context", self.client_context),
            ("Lambda-Runtime-Cognito-Identity", self.cognito_identity),
        ]
        return [(k, v) for k, v in pairs if v]


class Outcome:
    """What the runtime posted: ``kind`` "result" (``body``: the response
    bytes, passed on as they are) or "error" (``error``: Lambda's
    {errorType, errorMessage, stackTrace})."""

    def __init__(self, kind: str, body: bytes = b"", error: dict | None = None) -> None:
        self.kind = kind
        self.body = body
        self.error = error


def error_from_body(body: bytes, error_type_header: str) -> dict:
    """Lambda's error shape from a posted /error or /init/error body: the
    JSON object's errorType (else the Lambda-Runtime-Function-Error-Type
    header, else "Unhandled"), errorMessage and stackTrace (a list, else
    []). A body that is no JSON object becomes the message."""
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        parsed = {"errorMessage": body.decode("utf-8", "replace")}
    error_type = parsed.get("errorType")
    if not isinstance(error_type, str) or not error_type:
        error_type = error_type_header or "Unhandled"
    message = parsed.get("errorMessage")
    if not isinstance(message, str):
        message = "" if message is None else json.dumps(message)
    trace = parsed.get("stackTrace")
    if not isinstance(trace, list):
        trace = [trace] if isinstance(trace, str) else []
    return {"errorType": error_type, "errorMessage": message, "stackTrace": trace}


class ApiError(Exception):
    """An answer other than success: HTTP status, errorType, errorMessage."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def _transition_error(state: str, to: str) -> ApiError:
    return ApiError(
        403, "InvalidStateTransition",
        f"State transition from {state} to {to} failed for runtime. "
        "Error: State transition is not allowed",
    )


class RuntimeAPI:
    """The runtime's state and the hand-over of invocations, shared by the
    HTTP handler threads and the environment's side. Thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.state = STARTED
        self._pending: Invocation | None = None  # submitted, not yet fetched by /next
        self.current: Invocation | None = None  # fetched by /next (the current id)
        self.init_error: dict | None = None
        self.exit_status: int | None = None  # the runtime process's, once it ended
        self._closed = False

    # --- the environment's side ---------------------------------------------

    def wait_init(self, timeout: float | None = None) -> str:
        """Block until the init phase ends: "ready" (the first /next),
        "init_error" (``init_error`` holds it), "exited" (the process ended
        first: ``exit_status``), or "timeout"."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self.state == INIT_ERROR:
                    return "init_error"
                if self.state != STARTED:
                    return "ready"
                if self.exit_status is not None:
                    return "exited"
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return "timeout"
                self._cond.wait(remaining)

    def submit(self, invocation: Invocation) -> None:
        """Hand ``invocation`` to the runtime (its /next answers with it)."""
        with self._cond:
            self._pending = invocation
            self._cond.notify_all()

    def wait_outcome(self, invocation: Invocation, timeout: float | None = None) -> Outcome | None:
        """The invocation's outcome once the runtime posted it; None when
        the runtime process ended first (``exit_status``), posted an init
        error instead (an init still running when the invocation came:
        ``init_error``), or ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while invocation.outcome is None:
                if self.exit_status is not None or self.state == INIT_ERROR:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return invocation.outcome

    def runtime_exited(self, status: int) -> None:
        """The runtime process ended (``status`` as Popen's returncode)."""
        with self._cond:
            self.exit_status = status
            self._cond.notify_all()

    def close(self) -> None:
        """Blocked /next calls end with 500 (the environment is going)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # --- the runtime's side (HTTP) ---------------------------------------------

    def next_invocation(self, alive=None) -> Invocation | None:
        """GET /next: ends the init phase, then blocks until an invocation
        is submitted. ApiError 403 after an init error (or while a response
        is being received), 500 when the environment is closing. ``alive``
        (optional): asked before the invocation is taken; False (the caller
        hung up while it waited) leaves it for another /next and returns
        None."""
        with self._cond:
            if self.state not in (STARTED, READY, RESPONSE_SENT):
                raise _transition_error(self.state, READY)
            if self.state != READY:
                self.state = READY
                self._cond.notify_all()  # wait_init: the init phase is over
            while self._pending is None:
                if self._closed:
                    raise ApiError(500, "InternalServerError", "Internal Server Error")
                self._cond.wait()
            if alive is not None and not alive():
                return None
            invocation, self._pending = self._pending, None
            self.current = invocation
            return invocation

    def _check_current(self, request_id: str) -> Invocation:
        if self.current is None or request_id != self.current.request_id:
            raise ApiError(400, "InvalidRequestID", "Invalid request ID")
        return self.current

    def begin_response(self, request_id: str, error: bool) -> Invocation:
        """Before a /response or /error body is read: the id must be the
        current invocation's (400) and the runtime Ready (403)."""
        to = ERROR_RESPONSE if error else RESPONSE
        with self._cond:
            invocation = self._check_current(request_id)
            if self.state != READY:
                raise _transition_error(self.state, to)
            self.state = to
            return invocation

    def finish_response(self, invocation: Invocation, outcome: Outcome) -> None:
        with self._cond:
            invocation.outcome = outcome
            self.state = RESPONSE_SENT
            self._cond.notify_all()

    def abandon_response(self) -> None:
        """The body could not be read (the connection broke): Ready again."""
        with self._cond:
            if self.state in (RESPONSE, ERROR_RESPONSE):
                self.state = READY

    def post_init_error(self, error: dict) -> None:
        """POST /init/error: allowed only before the first /next (403)."""
        with self._cond:
            if self.state != STARTED:
                raise _transition_error(self.state, INIT_ERROR)
            self.state = INIT_ERROR
            self.init_error = error
            self._cond.notify_all()


_REASONS = {
    200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 413: "Payload Too Large", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented",
}
MAX_LINE = 64 * 1024
MAX_HEADERS = 100


class _Headers(dict):
    """A request's headers by lower-cased name."""

    def get(self, name: str, default: str = "") -> str:  # type: ignore[override]
        return super().get(name.lower(), default)


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 with keep-alive, parsed here rather than by http.server: its
    header parsing (the email package) costs more than the rest of a call
    (see docs/architecture.md, Custom runtimes)."""

    api: RuntimeAPI  # set on the subclass made by make_server

    def setup(self) -> None:
        super().setup()
        # Every answer leaves in one write; no Nagle delay on small ones.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        self.close_connection = False
        while not self.close_connection:
            try:
                if not self._read_request():
                    return
            except (OSError, ValueError):
                return
            handler = getattr(self, f"do_{self.command}", None)
            if handler is None:
                self.close_connection = True
                self._send(501, json.dumps({
                    "errorMessage": f"Method {self.command} is not implemented",
                    "errorType": "NotImplemented",
                }).encode())
                return
            handler()

    def _read_request(self) -> bool:
        """The request line and headers; False at the connection's end."""
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # stray line ends between requests
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/") or len(line) > MAX_LINE:
            self.close_connection = True
            self.command, self.path = "", ""
            self._send(400, b'{"errorMessage":"Bad request line","errorType":"BadRequest"}')
            return False
        self.command, self.path, version = parts
        headers = _Headers()
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= MAX_HEADERS or len(raw) > MAX_LINE:
                self.close_connection = True
                self._send(431, b'{"errorMessage":"Too many or too long headers","errorType":"BadRequest"}')
                return False
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self.headers = headers
        connection = headers.get("Connection").lower()
        old_client = version == "HTTP/1.0" and connection != "keep-alive"
        self.close_connection = connection == "close" or old_client
        return True

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] = ()) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines += [
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            time.strftime("Date: %a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = "\r\n".join(lines) + "\r\n\r\n"
        self.wfile.write(head.encode("latin-1", "replace") + body)

    def _send_error(self, exc: ApiError) -> None:
        body = json.dumps({"errorMessage": exc.message, "errorType": exc.error_type}).encode()
        self._send(exc.status, body)

    def _accepted(self) -> None:
        self._send(202, b'{"status":"OK"}')

    def _read_body(self, limit: int) -> tuple[bytes, bool]:
        """The request body (Content-Length or chunked), at most ``limit``
        bytes kept; (body, True) when there was more (the rest is read and
        dropped, so the connection stays usable)."""
        if self._expects_continue():
            # curl asks so for bodies over 1 KB and waits a second for it.
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        kept = bytearray()
        over = False

        def take(data: bytes) -> None:
            nonlocal over
            room = limit - len(kept)
            if len(data) > room:
                over = True
                data = data[: max(room, 0)]
            kept.extend(data)

        if "chunked" in self.headers.get("Transfer-Encoding").lower():
            while True:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise ConnectionError("the body ended early")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                while size:
                    chunk = self.rfile.read(min(size, READ_CHUNK))
                    if not chunk:
                        raise ConnectionError("the body ended early")
                    take(chunk)
                    size -= len(chunk)
                self.rfile.readline(1024)  # the chunk's CRLF
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, READ_CHUNK))
                if not chunk:
                    raise ConnectionError("the body ended early")
                take(chunk)
                remaining -= len(chunk)
        return bytes(kept), over

    def do_GET(self) -> None:  # noqa: N802 - do_<METHOD>, as http.server names them
        if self.path != _NEXT_PATH:
            return self._not_found()
        try:
            invocation = self.api.next_invocation(self._peer_waits)
        except ApiError as exc:
            return self._send_error(exc)
        if invocation is None:
            self.close_connection = True
            return
        self._send(200, invocation.event, invocation.headers())

    def _peer_waits(self) -> bool:
        """False when the client closed the connection while /next waited."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # nothing to read: still connected
        except OSError:
            return False

    def do_POST(self) -> None:  # noqa: N802 - do_<METHOD>, as http.server names them
        if self.path == _INIT_ERROR_PATH:
            return self._init_error()
        match = _RESPONSE_PATH.match(self.path)
        if match is None:
            self._drop_body()
            return self._not_found()
        request_id, kind = match.groups()
        try:
            invocation = self.api.begin_response(request_id, error=kind == "error")
        except ApiError as exc:
            self._drop_body()
            return self._send_error(exc)
        try:
            body, over = self._read_body(MAX_PAYLOAD_BYTES if kind == "response" else MAX_ERROR_BYTES)
        except (OSError, ValueError):
            self.api.abandon_response()
            self.close_connection = True
            return
        if kind == "response":
            if over:
                # As Lambda: the call fails, the runtime is told 413.
                error = {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": "Response payload size exceeded maximum allowed payload size "
                    f"({MAX_PAYLOAD_BYTES} bytes).",
                    "stackTrace": [],
                }
                self.api.finish_response(invocation, Outcome("error", error=error))
                return self._send_error(ApiError(
                    413, "RequestEntityTooLarge",
                    f"Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
                ))
            self.api.finish_response(invocation, Outcome("result", body=body))
        else:
            error = error_from_body(body, self.headers.get("Lambda-Runtime-Function-Error-Type", ""))
            self.api.finish_response(invocation, Outcome("error", error=error))
        self._accepted()

    def _init_error(self) -> None:
        try:
            body, _ = self._read_body(MAX_ERROR_BYTES)
        except (OSError, ValueError):
            self.close_connection = True
            return
        error = error_from_body(body, self.headers.get("Lambda-Runtime-Function-Error-Type", ""))
        try:
            self.api.post_init_error(error)
        except ApiError as exc:
            return self._send_error(exc)
        self._accepted()

    def _expects_continue(self) -> bool:
        return self.headers.get("Expect").lower() == "100-continue"

    def _drop_body(self) -> None:
        """Before an answer that refuses the request: a client waiting for
        100 Continue sends no body (then the connection ends with the
        answer), any other's body is read and dropped."""
        if self._expects_continue():
            self.close_connection = True
            return
        try:
            self._read_body(0)
        except (OSError, ValueError):
            self.close_connection = True

    def _not_found(self) -> None:
        self._send(404, json.dumps({
            "errorMessage": f"No such Runtime API resource: {self.command} {self.path}",
            "errorType": "NotFound",
        }).encode())

    def _method_not_allowed(self) -> None:
        self._drop_body()
        self._send(405, json.dumps({
            "errorMessage": f"Method {self.command} is not allowed on {self.path}",
            "errorType": "MethodNotAllowed",
        }).encode(), [("Allow", "GET" if self.path == _NEXT_PATH else "POST")])

    do_PUT = do_DELETE = do_PATCH = _method_not_allowed  # noqa: N815


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def make_server(api: RuntimeAPI, host: str = "127.0.0.1", port: int = 9001) -> socketserver.TCPServer:
    """An HTTP server for ``api`` bound to host:port (0: any free port; see
    ``server_address``). Serve it with ``serve_forever`` in a thread."""
    handler = type("RuntimeAPIHandler", (_Handler,), {"api": api})
    return _Server((host, port), handler)


def serve_in_thread(api: RuntimeAPI, host: str = "127.0.0.1", port: int = 9001) -> socketserver.TCPServer:
    """``make_server`` and serve it from a daemon thread; returns the server."""
    server = make_server(api, host, port)
    threading.Thread(target=server.serve_forever, name="runtime-api", daemon=True).start()
    return server


def trace_header(now: float | None = None) -> str:
    """An X-Ray tracing header for one invocation, as Lambda passes it
    (Root=1-<epoch hex>-<96 random bits>;Parent=<64 bits>;Sampled=0: not
    sampled, as PassThrough tracing without an upstream decision)."""
    epoch = int(time.time() if now is None else now)
    return f"Root=1-{epoch:08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=0"
