"""The environment's side of the Stratus worker protocol, for the
provided.al2023 bootstrap: frames on the Unix socket, the init hand-shake,
the AWS door (the function's AWS calls relayed to the worker) and the
memory peak.

Stdlib only. This is the same protocol as the Python runtimes' bootstrap
(runtimes/python3.11/bootstrap.py) and invocations/protocol.py speak: one
JSON object per line. Keep the three in step.
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
    gives the raw line as well (the invoke frame's event is passed on as
    the bytes the worker sent)."""

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


class Connection:
    """The worker's connection for one invocation. The pump thread and the
    main thread both send: a lock keeps frames whole."""

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
    Other connections (the worker's readiness probe) are closed."""
    while True:
        sock, _ = server.accept()
        try:
            frame = FrameReader(sock).read()
        except (OSError, ValueError):
            frame = None
        if isinstance(frame, dict) and frame.get("type") == "init":
            return sock, frame
        sock.close()


# --- memory ----------------------------------------------------------------------


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _peak_file() -> str:
    v1 = "/sys/fs/cgroup/memory/"
    limit = _read_int(v1 + "memory.limit_in_bytes")
    if limit is not None and limit < 1 << 62:
        return v1 + "memory.max_usage_in_bytes"
    if _read_int("/sys/fs/cgroup/memory.max") is not None:  # "max" fails int(): unlimited
        return "/sys/fs/cgroup/memory.peak"
    return ""


_PEAK = None


def max_memory_used_mb() -> int | None:
    """Peak memory of the environment's cgroup in MB (rounded up): the
    runtime process and everything it started. None outside a limited
    cgroup."""
    global _PEAK
    if _PEAK is None:
        _PEAK = _peak_file()
    peak = _read_int(_PEAK) if _PEAK else None
    return None if peak is None else -(-peak // (1024 * 1024))


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


# --- the AWS door inside the container -------------------------------------------
# Functions have no network. AWS SDKs that read AWS_ENDPOINT_URL reach this
# loopback port; each connection is relayed byte for byte over the socket the
# worker listens on in the mounted folder (invocations/aws_forwarder.py).


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
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _serve_aws_connection(client: socket.socket, upstream_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(upstream_path)
    except OSError:
        upstream.close()
        client.close()
        return
    back = threading.Thread(target=_relay, args=(upstream, client), daemon=True)
    back.start()
    _relay(client, upstream)
    back.join()
    client.close()
    upstream.close()


def start_aws_door(upstream_path: str) -> str | None:
    """Listen on 127.0.0.1:AWS_PORT and relay to ``upstream_path``; the
    endpoint URL, or None when the port is taken."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.bind(("127.0.0.1", AWS_PORT))
    except OSError:
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
