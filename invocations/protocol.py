"""Frames between the worker and an environment's bootstrap.

One JSON object per line over a Unix stream socket. ``json.dumps`` escapes
newlines inside strings, so a raw ``\\n`` always ends a frame. The bootstrap
(stdlib-only, inside the container) carries its own copy of this small code;
keep the two in step.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

MAX_FRAME_BYTES = 8 * 1024 * 1024  # above the 6 MB sync payload limit plus framing
_RECV_BYTES = 256 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame."""


def encode_frame(frame: dict[str, Any]) -> bytes:
    data = json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) >= MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}")
    return data + b"\n"


def send_frame(sock: socket.socket, frame: dict[str, Any]) -> None:
    """Send one frame (blocking until the kernel has taken all of it)."""
    sock.sendall(encode_frame(frame))


class FrameReader:
    """Reads newline-delimited JSON frames from a stream socket."""

    def __init__(
        self, sock: socket.socket, max_frame_bytes: int = MAX_FRAME_BYTES
    ) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._max = max_frame_bytes
        self._eof = False

    def read(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Next frame; None on a clean EOF.

        ``timeout`` bounds the whole call (not each recv) and raises
        ``TimeoutError`` (``socket.timeout`` is an alias) when it passes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return self._decode(line)
            if len(self._buf) >= self._max:
                raise ProtocolError(f"frame exceeds {self._max} bytes")
            if self._eof:
                if self._buf:
                    raise ProtocolError("connection closed in the middle of a frame")
                return None
            if deadline is None:
                self._sock.settimeout(None)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("timed out waiting for a frame")
                self._sock.settimeout(remaining)
            chunk = self._sock.recv(_RECV_BYTES)
            if not chunk:
                self._eof = True
            else:
                self._buf += chunk

    def _decode(self, line: bytes) -> dict[str, Any]:
        try:
            frame = json.loads(line)
        except ValueError as exc:
            raise ProtocolError(f"invalid JSON frame: {exc}") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise ProtocolError("a frame must be a JSON object with a string 'type'")
        return frame
