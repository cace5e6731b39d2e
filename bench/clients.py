"""The bench's clients and load shapes, used alike for Stratus and the peer,
so a ratio between the two compares the servers, not the clients.

* ``SignedInvoker``: Lambda ``Invoke`` (POST /2015-03-31/functions/<name>/invocations)
  signed with botocore's own SigV4 signer, over one kept-alive connection.
* ``RouteClient``: ``GET`` of an HTTP route over one kept-alive connection,
  checking status and body.
* ``sequential()``: one client, timed calls one after another.
* ``throughput()``: N threads, each with its own client (its own connection),
  calling in a loop for a fixed duration after an untimed warm-up.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable


def pct(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def timed(call: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    call()
    return (time.perf_counter() - t0) * 1000


class _KeepAlive:
    opened = 0

    def __init__(self, host: str, port: int, timeout: float = 120):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None
        # New connections opened after the first (the server closed an idle
        # one): a call that had to reconnect paid for it.
        self.reconnects = 0

    def _request(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        reused = self.conn is not None
        if self.conn is None:
            self.reconnects += self.opened
            self.opened = 1
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
            # The server closed an idle kept-alive connection before reading
            # this request: send it once more on a new one, as HTTP clients do.
            return self._request(method, path, body, headers)
        except (OSError, http.client.HTTPException):
            self.close()  # a fresh connection for the next call
            raise
        if response.will_close:
            self.close()
        return response.status, dict(response.getheaders()), data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SignedInvoker(_KeepAlive):
    """The leanest correct Lambda API client: one kept-alive HTTP connection
    and botocore's own SigV4 signer, so what is measured is the server,
    not the SDK's request pipeline (boto3 spends ~1 ms of CPU per call
    before a byte is sent; its numbers are reported beside these)."""

    def __init__(self, host: str, port: int, key: tuple[str, str], name: str, payload: bytes = b"{}"):
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        super().__init__(host, port)
        self.base = f"http://{host}:{port}"
        self.signer = SigV4Auth(Credentials(*key), "lambda", "us-east-1")
        self.name = name
        self.payload = payload
        # The last call's request id and its client-side marks (time.time_ns()):
        # client.start, client.signed (before the request is written),
        # client.answer (the body read) - beside the server's call marks.
        self.last_request_id = ""
        self.last_marks: dict[str, int] = {}

    def invoke(self, name: str, payload: bytes) -> bytes:
        from botocore.awsrequest import AWSRequest

        start = time.time_ns()
        path = f"/2015-03-31/functions/{name}/invocations"
        request = AWSRequest(method="POST", url=self.base + path, data=payload)
        self.signer.add_auth(request)
        signed = time.time_ns()
        status, headers, body = self._request("POST", path, payload, dict(request.headers))
        self.last_marks = {"client.start": start, "client.signed": signed, "client.answer": time.time_ns()}
        self.last_request_id = next((v for k, v in headers.items() if k.lower() == "x-amz-request-id"), "")
        if status != 200 or any(k.lower() == "x-amz-function-error" for k in headers):
            raise RuntimeError(f"Invoke answered {status}: {body[:300]!r}")
        return body

    def __call__(self) -> bytes:
        return self.invoke(self.name, self.payload)


class RouteClient(_KeepAlive):
    """GET one HTTP route; the answer must be 200 with the expected body."""

    def __init__(self, host: str, port: int, path: str, expect: bytes):
        super().__init__(host, port)
        self.path, self.expect = path, expect

    def __call__(self) -> bytes:
        status, _, body = self._request("GET", self.path, None, {})
        if status != 200 or body != self.expect:
            raise RuntimeError(f"GET {self.path} answered {status}: {body[:300]!r}")
        return body


def sequential(call: Callable[[], object], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    return [timed(call) for _ in range(runs)]


def _load(
    clients: list[Callable[[], object]], seconds: float
) -> tuple[list[float], int, float, BaseException | None]:
    latencies: list[list[float]] = [[] for _ in clients]
    errors = [0] * len(clients)
    first_error: list[BaseException] = []
    barrier = threading.Barrier(len(clients) + 1)
    t0 = [0.0]

    def body(i: int) -> None:
        call = clients[i]
        barrier.wait()
        deadline = t0[0] + seconds
        while True:
            start = time.perf_counter()
            if start >= deadline:
                break
            try:
                call()
            except Exception as e:  # keep the others going; counted and reported
                errors[i] += 1
                if not first_error:
                    first_error.append(e)
                time.sleep(0.01)
                continue
            latencies[i].append((time.perf_counter() - start) * 1000)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(len(clients))]
    for t in threads:
        t.start()
    t0[0] = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join(timeout=seconds + 600)
    # A call under way at the deadline is finished and counted, so the
    # window is until the last thread stopped.
    elapsed = time.perf_counter() - t0[0]
    flat = [x for per in latencies for x in per]
    return flat, sum(errors), elapsed, (first_error[0] if first_error else None)


def throughput(
    make_client: Callable[[int], Callable[[], object]],
    threads: int,
    seconds: float,
    warmup_seconds: float,
    say: Callable[[str], None] = print,
    around: tuple[Callable[[], object], Callable[[], object]] | None = None,
) -> dict:
    """`threads` clients (each its own connection) calling in a loop for
    `seconds`, after `warmup_seconds` of untimed load with the same clients
    (every client finishes at least one call there, so cold starts are not
    counted). Returns requests/s, p50 and p99 of the calls, and errors.
    `around`: (before, after), called just around the measured window."""
    clients = [make_client(i) for i in range(threads)]
    if warmup_seconds > 0:
        _, errors, _, first = _load(clients, warmup_seconds)
        if errors:
            say(f"  warm-up: {errors} calls failed, first: {first!r}")
    if around:
        around[0]()
    flat, errors, elapsed, first = _load(clients, seconds)
    if around:
        around[1]()
    if errors:
        say(f"  {errors} calls failed, first: {first!r}")
    for client in clients:
        close = getattr(client, "close", None)
        if close:
            close()
    return {
        "per_s": len(flat) / elapsed if elapsed else 0.0,
        "p50_ms": pct(flat, 50) if flat else None,
        "p99_ms": pct(flat, 99) if flat else None,
        "calls": len(flat),
        "errors": errors,
        "seconds": elapsed,
    }
