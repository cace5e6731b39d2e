"""The host half of the AWS door (invocations.aws_forwarder): a Unix socket
in an environment's folder joined to a web server on loopback, byte for
byte, keep-alive and streaming, re-bound when another process took it."""

import hashlib
import os
import socket
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from invocations import aws_forwarder


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    first_bytes = threading.Event()

    def do_POST(self):
        left = int(self.headers["Content-Length"])
        digest = hashlib.sha256()
        while left:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            Echo.first_bytes.set()
            digest.update(chunk)
            left -= len(chunk)
        body = f"{digest.hexdigest()} {self.client_address[0]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def socket_dir():
    path = tempfile.mkdtemp(prefix="stratus-fw-")  # short: sun_path is 108 bytes
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return body


def post(sock: socket.socket, body_parts, total: int) -> None:
    sock.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1:4566\r\nContent-Length: {total}\r\n\r\n".encode())
    for part in body_parts:
        sock.sendall(part)


def test_one_connection_carries_several_requests_and_streams_their_bodies(upstream, socket_dir):
    path = aws_forwarder.ensure(socket_dir, upstream)
    assert oct(os.stat(path).st_mode & 0o777) == "0o666"
    first, rest = os.urandom(256 * 1024), os.urandom(24 * 1024 * 1024)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        Echo.first_bytes.clear()
        post(sock, [first], len(first) + len(rest))
        # The web server has the first bytes before the rest is even sent: nothing waits for the whole body.
        assert Echo.first_bytes.wait(10)
        sock.sendall(rest)
        assert read_response(sock).split()[0].decode() == hashlib.sha256(first + rest).hexdigest()
        post(sock, [b"again"], 5)  # the same connection, kept alive
        assert read_response(sock).split()[0].decode() == hashlib.sha256(b"again").hexdigest()


def test_it_binds_again_when_the_socket_was_replaced(upstream, socket_dir):
    path = aws_forwarder.ensure(socket_dir, upstream)
    assert aws_forwarder.ensure(socket_dir, upstream) == path
    os.unlink(path)  # as another worker process binding it would, which then exits
    taken = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    taken.bind(path)
    taken.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(path)
    aws_forwarder.ensure(socket_dir, upstream)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        post(sock, [b"x"], 1)
        assert read_response(sock).split()[0].decode() == hashlib.sha256(b"x").hexdigest()
    aws_forwarder.forget(socket_dir)
