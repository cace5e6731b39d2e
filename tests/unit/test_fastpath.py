"""console/fastpath.py: only Invoke takes the fast path; the rest is Django's."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.testing import ApplicationCommunicator

from console import fastpath


class RecordingApp:
    """Stands in for Django's ASGI handler."""

    def __init__(self):
        self.calls = []

    async def __call__(self, scope, receive, send):
        self.calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})

    async def send_response(self, response, send):
        from django.core.handlers.asgi import ASGIHandler

        await ASGIHandler.send_response(ASGIHandler.__new__(ASGIHandler), response, send)


def scope(path, method="POST"):
    return {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": [(b"host", b"127.0.0.1")], "scheme": "http",
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "root_path": "",
    }


def run(coro):
    # In a thread of its own: Playwright's session fixture may already run
    # an event loop in the main thread when the whole suite runs.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def call(app, sc, body=b""):
    comm = ApplicationCommunicator(app, sc)
    await comm.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await comm.receive_output(5)
    body_msg = await comm.receive_output(5)
    return start["status"], body_msg["body"]


def test_it_passes_everything_but_invoke_to_django():
    inner = RecordingApp()
    app = fastpath.InvokeFastPath(inner)
    for path, method in [("/", "GET"), ("/2015-03-31/functions/", "POST"),
                         ("/2015-03-31/functions/x/invocations", "GET")]:
        status, body = run(call(app, scope(path, method)))
        assert (status, body) == (200, b"django")
    assert len(inner.calls) == 3


def test_it_refuses_a_body_over_the_sync_limit_without_reading_it_all(monkeypatch):
    monkeypatch.setattr(fastpath, "MAX_BODY", 10)
    inner = RecordingApp()
    app = fastpath.InvokeFastPath(inner)
    status, body = run(call(app, scope("/2015-03-31/functions/x/invocations"), b"x" * 11))
    assert status == 413
    assert "message" in json.loads(body)
    assert inner.calls == []


@pytest.mark.django_db(transaction=True)
def test_it_answers_an_unsigned_invoke_with_a_lambda_error(monkeypatch):
    inner = RecordingApp()
    app = fastpath.InvokeFastPath(inner)

    class NoRedis:
        async def expect(self, request_id):
            return None

        def forget(self, request_id):
            return None

    monkeypatch.setattr(fastpath, "async_listener", lambda loop: NoRedis())
    status, body = run(call(app, scope("/2015-03-31/functions/x/invocations"), b"{}"))
    assert status == 403
    assert "Missing Authentication Token" in json.loads(body)["message"]
    assert inner.calls == []
