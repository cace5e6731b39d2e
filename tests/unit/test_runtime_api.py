"""The Lambda Runtime API server of provided.al2023 (runtimes/provided.al2023/
runtime_api.py), run in this process on a free loopback port: the test is
both the environment's side (submit, wait_outcome) and the function's
bootstrap (HTTP calls), with the status codes and bodies of AWS's reference
and its Runtime Interface Emulator."""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import threading
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "runtimes" / "provided.al2023" / "runtime_api.py"
_spec = importlib.util.spec_from_file_location("provided_runtime_api", PATH)
rapi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rapi)

BASE = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"


@pytest.fixture
def api():
    state = rapi.RuntimeAPI()
    server = rapi.serve_in_thread(state, "127.0.0.1", 0)
    state.port = server.server_address[1]
    yield state
    state.close()
    server.shutdown()
    server.server_close()


def call(api, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
         conn: http.client.HTTPConnection | None = None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp, data


def invocation(request_id: str = "req-1", event: bytes = b'{"k": 1}', **kwargs):
    kwargs.setdefault("deadline_ms", 1_900_000_000_000)
    kwargs.setdefault("function_arn", FUNCTION_ARN)
    kwargs.setdefault("trace_id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419")
    return rapi.Invocation(request_id, event, **kwargs)


def next_in_thread(api, conn=None):
    """GET /next from a thread (it blocks until an invocation is submitted)."""
    got = {}

    def run():
        got["resp"], got["body"] = call(api, "GET", f"{BASE}/invocation/next", conn=conn)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, got


def test_next_ends_init_then_answers_with_the_event_and_lambdas_headers(api):
    thread, got = next_in_thread(api)
    assert api.wait_init(timeout=10) == "ready"
    inv = invocation(client_context="eyJjIjoxfQ==", cognito_identity='{"cognitoIdentityId":"i"}')
    api.submit(inv)
    thread.join(10)
    resp = got["resp"]
    assert resp.status == 200
    assert got["body"] == b'{"k": 1}'  # byte for byte
    assert resp.headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert resp.headers["Lambda-Runtime-Deadline-Ms"] == "1900000000000"
    assert resp.headers["Lambda-Runtime-Invoked-Function-Arn"] == FUNCTION_ARN
    assert resp.headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-5bef4de7-")
    assert resp.headers["Lambda-Runtime-Client-Context"] == "eyJjIjoxfQ=="
    assert resp.headers["Lambda-Runtime-Cognito-Identity"] == '{"cognitoIdentityId":"i"}'
    assert resp.headers["Content-Type"] == "application/json"


def test_the_optional_headers_are_absent_without_a_value(api):
    thread, got = next_in_thread(api)
    api.submit(invocation())
    thread.join(10)
    assert "Lambda-Runtime-Client-Context" not in got["resp"].headers
    assert "Lambda-Runtime-Cognito-Identity" not in got["resp"].headers


def test_a_response_is_accepted_and_becomes_the_outcome(api):
    thread, _ = next_in_thread(api)
    inv = invocation()
    api.submit(inv)
    thread.join(10)
    resp, body = call(api, "POST", f"{BASE}/invocation/req-1/response", b"not json, passed on")
    assert (resp.status, json.loads(body)) == (202, {"status": "OK"})
    outcome = api.wait_outcome(inv, timeout=5)
    assert (outcome.kind, outcome.body) == ("result", b"not json, passed on")


def test_a_second_response_is_an_invalid_state_transition(api):
    thread, _ = next_in_thread(api)
    api.submit(invocation())
    thread.join(10)
    call(api, "POST", f"{BASE}/invocation/req-1/response", b"{}")
    resp, body = call(api, "POST", f"{BASE}/invocation/req-1/response", b"{}")
    assert resp.status == 403
    assert json.loads(body) == {
        "errorMessage": "State transition from RuntimeResponseSentState to InvocationResponse failed "
        "for runtime. Error: State transition is not allowed",
        "errorType": "InvalidStateTransition",
    }


def test_an_unknown_request_id_is_400(api):
    resp, body = call(api, "POST", f"{BASE}/invocation/nobody/response", b"{}")
    assert resp.status == 400
    assert json.loads(body) == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
    thread, _ = next_in_thread(api)
    api.submit(invocation())
    thread.join(10)
    resp, _ = call(api, "POST", f"{BASE}/invocation/req-2/error", b"{}")
    assert resp.status == 400


def test_an_error_takes_lambdas_shape_with_the_header_as_the_fallback_type(api):
    thread, _ = next_in_thread(api)
    inv = invocation()
    api.submit(inv)
    thread.join(10)
    resp, body = call(
        api, "POST", f"{BASE}/invocation/req-1/error", b'{"errorMessage":"Error parsing event data."}',
        {"Lambda-Runtime-Function-Error-Type": "InvalidEventDataException"},
    )
    assert (resp.status, json.loads(body)) == (202, {"status": "OK"})
    assert api.wait_outcome(inv, timeout=5).error == {
        "errorType": "InvalidEventDataException", "errorMessage": "Error parsing event data.",
        "stackTrace": [],
    }


def test_an_error_body_that_is_not_json_becomes_the_message(api):
    thread, _ = next_in_thread(api)
    inv = invocation()
    api.submit(inv)
    thread.join(10)
    call(api, "POST", f"{BASE}/invocation/req-1/error", b"segfault in handler")
    assert api.wait_outcome(inv, timeout=5).error == {
        "errorType": "Unhandled", "errorMessage": "segfault in handler", "stackTrace": [],
    }


def test_a_response_over_the_payload_limit_is_413_and_the_call_fails(api):
    thread, _ = next_in_thread(api)
    inv = invocation()
    api.submit(inv)
    thread.join(10)
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    resp, body = call(api, "POST", f"{BASE}/invocation/req-1/response",
                      b"x" * (rapi.MAX_PAYLOAD_BYTES + 1), conn=conn)
    assert resp.status == 413
    assert json.loads(body) == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge",
    }
    assert api.wait_outcome(inv, timeout=5).error["errorType"] == "Function.ResponseSizeTooLarge"
    # The connection stays usable (the body was read to its end).
    resp, _ = call(api, "POST", f"{BASE}/invocation/req-1/response", b"{}", conn=conn)
    assert resp.status == 403
    conn.close()


def test_a_response_of_exactly_the_limit_is_accepted(api):
    thread, _ = next_in_thread(api)
    inv = invocation()
    api.submit(inv)
    thread.join(10)
    resp, _ = call(api, "POST", f"{BASE}/invocation/req-1/response", b"y" * rapi.MAX_PAYLOAD_BYTES)
    assert resp.status == 202
    assert len(api.wait_outcome(inv, timeout=5).body) == rapi.MAX_PAYLOAD_BYTES


def test_a_chunked_response_is_read_whole(api):
    thread, _ = next_in_thread(api)
    inv = invocation()
    api.submit(inv)
    thread.join(10)
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request("POST", f"{BASE}/invocation/req-1/response", body=iter([b'{"a":', b"1}"]),
                 encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 202
    conn.close()
    assert api.wait_outcome(inv, timeout=5).body == b'{"a":1}'


def test_init_error_ends_init_and_then_next_is_forbidden(api):
    resp, body = call(api, "POST", f"{BASE}/init/error",
                      b'{"errorMessage":"Failed to load function.","errorType":"InvalidFunctionException"}',
                      {"Lambda-Runtime-Function-Error-Type": "Runtime.Custom"})
    assert (resp.status, json.loads(body)) == (202, {"status": "OK"})
    assert api.wait_init(timeout=5) == "init_error"
    assert api.init_error == {
        "errorType": "InvalidFunctionException", "errorMessage": "Failed to load function.", "stackTrace": [],
    }
    resp, body = call(api, "GET", f"{BASE}/invocation/next")
    assert resp.status == 403
    assert json.loads(body)["errorType"] == "InvalidStateTransition"


def test_init_error_after_init_is_forbidden(api):
    thread, _ = next_in_thread(api)
    assert api.wait_init(timeout=10) == "ready"
    resp, body = call(api, "POST", f"{BASE}/init/error", b"{}")
    assert resp.status == 403
    assert json.loads(body)["errorMessage"].startswith("State transition from Ready to InitError failed")
    api.submit(invocation())
    thread.join(10)


def test_a_runtime_that_ends_wakes_the_waiting_sides(api):
    assert api.wait_init(timeout=0.05) == "timeout"
    api.runtime_exited(2)
    assert api.wait_init(timeout=5) == "exited"
    assert api.wait_outcome(invocation(), timeout=5) is None


def test_a_next_whose_caller_left_leaves_the_invocation_for_the_next_one(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request("GET", f"{BASE}/invocation/next")
    assert api.wait_init(timeout=10) == "ready"  # the server holds that /next
    conn.sock.close()  # the client gave up waiting
    conn.close()
    api.submit(invocation())  # only the abandoned /next waits: it must not take it
    thread, got = next_in_thread(api)
    thread.join(10)
    assert got["resp"].status == 200
    assert got["resp"].headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"


def test_other_paths_and_methods_are_refused(api):
    resp, body = call(api, "GET", f"{BASE}/invocation/req-1/response")
    assert resp.status == 404
    resp, _ = call(api, "PUT", f"{BASE}/invocation/next", b"{}")
    assert resp.status == 405


def test_keep_alive_serves_a_whole_loop_on_one_connection(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    for n in range(3):
        inv = invocation(f"req-{n}", b"%d" % n)
        thread, got = next_in_thread(api, conn)
        api.submit(inv)
        thread.join(10)
        assert got["body"] == b"%d" % n
        resp, _ = call(api, "POST", f"{BASE}/invocation/req-{n}/response", b"[%d]" % n, conn=conn)
        assert resp.status == 202
        assert api.wait_outcome(inv, timeout=5).body == b"[%d]" % n
    conn.close()


def test_the_trace_header_has_xrays_shape():
    header = rapi.trace_header(0x5BEF4DE7)
    root, parent, sampled = header.split(";")
    assert root.startswith("Root=1-5bef4de7-") and len(root) == len("Root=1-5bef4de7-") + 24
    assert parent.startswith("Parent=") and len(parent) == len("Parent=") + 16
    assert sampled == "Sampled=0"


def _raw(api, data: bytes, then: bytes | None = None) -> list[bytes]:
    """Send `data`; read what comes back (and after the first answer, send `then`)."""
    got = []
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(data)
        got.append(sock.recv(65536))
        if then is not None:
            sock.sendall(then)
            got.append(sock.recv(65536))
    return got


def test_a_client_expecting_100_continue_gets_it_before_sending_the_body(api):
    thread, _ = next_in_thread(api)
    inv = invocation()
    api.submit(inv)
    thread.join(10)
    head = (f"POST {BASE}/invocation/req-1/response HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n").encode()
    first, second = _raw(api, head, b"{}")
    assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert second.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert api.wait_outcome(inv, timeout=5).body == b"{}"


def test_a_refused_request_expecting_100_continue_is_answered_without_its_body(api):
    head = (f"POST {BASE}/invocation/nobody/response HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 2000\r\nExpect: 100-continue\r\n\r\n").encode()
    (answer,) = _raw(api, head)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in answer
