"""Framing between the worker and the bootstrap: newline-delimited JSON."""

from __future__ import annotations

import socket

import pytest

from invocations.protocol import FrameReader, ProtocolError, send_frame


@pytest.fixture
def pair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    yield a, b
    a.close()
    b.close()


def test_it_round_trips_frames_in_order(pair):
    a, b = pair
    frames = [
        {"type": "log", "line": "two\nlines é"},
        {"type": "result", "payload": [1, None]},
    ]
    for frame in frames:
        send_frame(a, frame)
    reader = FrameReader(b)
    assert [reader.read(timeout=1), reader.read(timeout=1)] == frames


def test_it_reassembles_a_frame_split_across_writes(pair):
    a, b = pair
    a.sendall(b'{"type":"lo')
    a.sendall(b'g","line":"x"}\n{"type":"result","payload":1}\n')
    reader = FrameReader(b)
    assert reader.read(timeout=1) == {"type": "log", "line": "x"}
    assert reader.read(timeout=1) == {"type": "result", "payload": 1}


def test_it_returns_none_on_eof(pair):
    a, b = pair
    send_frame(a, {"type": "log", "line": "last"})
    a.close()
    reader = FrameReader(b)
    assert reader.read(timeout=1) == {"type": "log", "line": "last"}
    assert reader.read(timeout=1) is None


def test_it_rejects_eof_inside_a_frame(pair):
    a, b = pair
    a.sendall(b'{"type":"log"')
    a.close()
    with pytest.raises(ProtocolError):
        FrameReader(b).read(timeout=1)


def test_it_rejects_an_oversize_frame(pair):
    a, b = pair
    a.sendall(b"x" * 2048)
    with pytest.raises(ProtocolError):
        FrameReader(b, max_frame_bytes=1024).read(timeout=1)


def test_it_refuses_to_send_an_oversize_frame(pair, monkeypatch):
    from invocations import protocol

    monkeypatch.setattr(protocol, "MAX_FRAME_BYTES", 100)
    with pytest.raises(ProtocolError):
        send_frame(pair[0], {"type": "result", "payload": "x" * 200})


def test_it_rejects_non_object_frames(pair):
    a, b = pair
    a.sendall(b"[1,2]\n")
    with pytest.raises(ProtocolError):
        FrameReader(b).read(timeout=1)


def test_it_times_out_without_losing_the_partial_frame(pair):
    a, b = pair
    a.sendall(b'{"type":"log",')
    reader = FrameReader(b)
    with pytest.raises(socket.timeout):
        reader.read(timeout=0.05)
    a.sendall(b'"line":"ok"}\n')
    assert reader.read(timeout=1) == {"type": "log", "line": "ok"}


def test_an_init_frame_survives_any_variable_value(pair):
    """The function's variables travel in the init frame: a newline or any
    character in a value must neither end the frame early nor change it."""
    from invocations.sandbox import FunctionConfig, init_frame

    odd = {"MULTILINE": "a\nb\r\nc", "UNICODE": "é ✓ \u2028", "QUOTES": '"{}"\\', "EMPTY": ""}
    frame = init_frame(FunctionConfig(code_dir="/x", handler="app.h", function_name="f",
                                      env_vars=odd))
    a, b = pair
    send_frame(a, frame)
    send_frame(a, {"type": "ping"})
    reader = FrameReader(b)
    got = reader.read(timeout=1)
    assert got == frame and {k: got["env"][k] for k in odd} == odd
    assert reader.read(timeout=1) == {"type": "ping"}


def test_an_invoke_frame_carries_the_event_text_as_it_is():
    import json as json_mod

    from invocations.sandbox import invoke_frame

    pretty = '{\n  "a": "line\\nbreak",\r\n  "n": [1, 2.50, 1e3]\n}'
    frame = invoke_frame({"requestId": "r-1", "deadlineMs": 5}, pretty)
    assert frame.endswith(b"\n") and frame.count(b"\n") == 1
    decoded = json_mod.loads(frame)
    assert decoded == {"requestId": "r-1", "deadlineMs": 5, "type": "invoke",
                       "event": {"a": "line\nbreak", "n": [1, 2.5, 1000.0]}}
