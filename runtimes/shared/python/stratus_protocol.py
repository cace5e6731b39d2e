"""The environment's side of the Stratus worker protocol, for every
bootstrap written in Python (python3.11, python3.13 and the provided.al2023
environment): frames on the Unix socket, the init hand-shake, the serving
loop, the AWS door (the function's AWS calls relayed to the worker) and the
cgroup's memory peak.

Stdlib only; staged into every image from runtimes/shared by
runtimes/build.py and copied beside the bootstrap in /var/runtime. The
worker's side is invocations/protocol.py (one JSON object per line) and the
Node bootstrap speaks it too: keep them in step.
"""

from __future__ import annotations

import json
import os
import socket
import threading

MAX_FRAME_BYTES = 8 * 1024 * 1024
AWS_PORT = 4566
RELAY_CHUNK = 64 * 1024


def encode(frame: dict) -> bytes:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


class FrameReader:
    """Newline-delimited JSON frames from a stream socket; ``read_line``
    gives the raw line (provided.al2023 passes the invoke frame's event on
    as the bytes the worker sent)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, bytearray()

    def read_line(self) -> bytes | None:
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 1]
                return line
            if len(self.buf) > MAX_FRAME_BYTES:
                raise ValueError("frame too large")
            chunk = self.sock.recv(256 * 1024)
            if not chunk:
                return None
            self.buf += chunk

    def read(self) -> dict | None:
        line = self.read_line()
        return None if line is None else json.loads(line)


class Connection:
    """The worker's connection for one invocation. The output pump and the
    invoking thread both send: a lock keeps frames whole."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.broken = False
        # Frames held back to leave with the next write (the START line):
        # a call that prints nothing costs the worker one wake-up, not two.
        self.held = b""

    def hold(self, data: bytes) -> None:
        with self.lock:
            self.held += data

    def send_raw(self, data: bytes) -> None:
        with self.lock:
            if self.broken:
                return
            data, self.held = self.held + data, b""
            try:
                self.sock.sendall(data)
            except OSError:
                # The worker gave up (timeout): it removes the environment.
                self.broken = True

    def send(self, frame: dict) -> None:
        self.send_raw(encode(frame))

    def log(self, line: str) -> None:
        self.send({"type": "log", "line": line})


def listen(path: str) -> socket.socket:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o666)  # the worker may run as another uid
    server.listen(8)
    return server


def wait_for_init(server: socket.socket) -> tuple[socket.socket, dict]:
    """Block until the worker sends ``init``; its connection and frame.
    The socket exists before any user code runs, so the worker can take the
    socket folder away from us (make it root's and read-only) first: the
    function can then neither fill the host's disk through it nor swap the
    socket for a link elsewhere. Other connections (the worker's readiness
    probe) are closed."""
    while True:
        sock, _ = server.accept()
        try:
            frame = FrameReader(sock).read()
        except (OSError, ValueError):
            frame = None
        if isinstance(frame, dict) and frame.get("type") == "init":
            return sock, frame
        sock.close()


def serve(server: socket.socket, on_invoke, diag) -> None:
    """Serve the worker's connections one at a time, forever: each invoke
    frame goes to ``on_invoke(conn, line, frame)`` (line: its raw bytes), a
    ping is answered; a broken connection is dropped with a word to
    ``diag``."""
    while True:
        sock, _ = server.accept()
        conn = Connection(sock)
        reader = FrameReader(sock)
        try:
            while True:
                line = reader.read_line()
                if line is None:
                    break
                frame = json.loads(line)
                if not isinstance(frame, dict):
                    break
                if frame.get("type") == "invoke":
                    on_invoke(conn, line, frame)
                elif frame.get("type") == "ping":
                    conn.send({"type": "pong"})
        except (OSError, ValueError) as exc:
            diag(f"stratus bootstrap: dropping connection: {exc!r}")
        finally:
            sock.close()


# --- memory ----------------------------------------------------------------------


def read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _peak_file() -> str:
    v1 = "/sys/fs/cgroup/memory/"
    limit = read_int(v1 + "memory.limit_in_bytes")
    if limit is not None and limit < 1 << 62:
        return v1 + "memory.max_usage_in_bytes"
    if read_int("/sys/fs/cgroup/memory.max") is not None:  # "max" fails int(): unlimited
        return "/sys/fs/cgroup/memory.peak"
    return ""


_PEAK = None  # which file holds the peak, found once: the cgroup does not change


def max_memory_used_mb() -> int | None:
    """Peak memory of the environment's cgroup in MB (rounded up): the
    runtime process and everything it started. None outside a limited
    cgroup (the caller falls back to its own rusage)."""
    global _PEAK
    if _PEAK is None:
        _PEAK = _peak_file()
    peak = read_int(_PEAK) if _PEAK else None
    return None if peak is None else -(-peak // (1024 * 1024))


# --- the AWS door inside the container -------------------------------------------
# Functions have no network. AWS SDKs read AWS_ENDPOINT_URL (boto3 1.28+,
# every service) and reach this loopback port; each connection is relayed
# byte for byte over the socket the worker listens on in the mounted folder
# (invocations/aws_forwarder.py), which joins it to the platform's front
# door. Bytes are copied as they come (no request is buffered whole), so
# keep-alive and large S3 bodies pass unchanged.


def _relay(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(RELAY_CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)  # the other way may still be talking
        except OSError:
            pass


def _serve_aws_connection(client: socket.socket, upstream_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(upstream_path)
    except OSError:
        upstream.close()
        client.close()  # the SDK sees a closed connection and says so
        return
    back = threading.Thread(target=_relay, args=(upstream, client), daemon=True)
    back.start()
    _relay(client, upstream)
    back.join()
    client.close()
    upstream.close()


def start_aws_door(socket_path: str, diag) -> str | None:
    """Listen on 127.0.0.1:AWS_PORT and relay to the worker's ``aws.sock``,
    in the folder of the bootstrap's own socket (``socket_path``); the
    endpoint URL, or None (said to ``diag``) when the port is taken: then
    AWS_ENDPOINT_URL is left alone."""
    upstream_path = os.path.join(os.path.dirname(socket_path), "aws.sock")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.bind(("127.0.0.1", AWS_PORT))
    except OSError as exc:
        diag(f"stratus bootstrap: no AWS door on port {AWS_PORT}: {exc}")
        server.close()
        return None
    server.listen(64)

    def accept() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(
                target=_serve_aws_connection, args=(client, upstream_path), daemon=True
            ).start()

    threading.Thread(target=accept, daemon=True, name="aws-door").start()
    return f"http://127.0.0.1:{AWS_PORT}"
