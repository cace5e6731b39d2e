"""Serving routes under /http/ with the function call faked: matching,
auth, CORS, payload limits and the outcome mapping."""

import json

import pytest

from invocations.models import Invocation
from triggers import http_routes
from triggers.models import HttpRoute


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def fake_invoke(monkeypatch):
    """Answer route calls with a prepared outcome; record what was sent."""
    calls = []
    outcome = {"status": "succeeded", "result": json.dumps({"ok": True})}

    def invoke_and_wait(fn, event, *, source, trigger="", priority="normal", request_id=None):
        calls.append({"event": json.loads(event), "source": source, "trigger": trigger, "priority": priority})
        return Invocation.objects.create(
            request_id=request_id, function=fn, event=event, source=source, trigger=trigger,
            priority=priority, status=outcome["status"], result=outcome.get("result"),
        )

    monkeypatch.setattr(http_routes, "invoke_and_wait", invoke_and_wait)
    return calls, outcome


def test_it_answers_404_json_for_unknown_routes(client, db, fake_invoke):
    r = client.get("/http/nothing/here")
    assert r.status_code == 404
    assert r.json() == {"message": "Not Found"}
    assert client.get("/http").status_code == 404


def test_it_invokes_the_matching_route(client, fn, fake_invoke):
    calls, outcome = fake_invoke
    route = HttpRoute.objects.create(function=fn, method="GET", path="/users/{id}", priority="high")
    outcome["result"] = json.dumps({"statusCode": 203, "headers": {"x-a": "b"}, "body": "yo"})
    r = client.post("/http/users/42", data="x", content_type="text/plain")
    assert r.status_code == 404  # POST has no route
    r = client.get("/http/users/42?q=1")
    assert r.status_code == 203 and r.content == b"yo" and r["x-a"] == "b"
    inv = Invocation.objects.get()
    assert r["apigw-requestid"] == r["x-stratus-request-id"] == str(inv.request_id)
    call = calls[0]
    assert call["source"] == "http" and call["priority"] == "high" and call["trigger"] == route.key
    assert call["event"]["rawPath"] == "/users/42"
    assert call["event"]["pathParameters"] == {"id": "42"}
    assert call["event"]["requestContext"]["requestId"] == str(inv.request_id)
    route.refresh_from_db()
    assert route.last_fired_at is not None


def test_it_ignores_disabled_routes(client, fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="ANY", path="/x", enabled=False)
    assert client.get("/http/x").status_code == 404


def test_it_serves_a_root_route(client, fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="ANY", path="/")
    assert client.delete("/http/").status_code == 200
    assert client.get("/http").status_code == 200


@pytest.mark.parametrize("status,code,message", [
    ("failed", 502, "Internal Server Error"),
    ("out_of_memory", 502, "Internal Server Error"),
    ("timed_out", 504, "Gateway Timeout"),
    ("running", 504, "Gateway Timeout"),
    ("throttled", 429, "Too Many Requests"),
])
def test_it_maps_failures(client, fn, fake_invoke, status, code, message):
    fake_invoke[1].update(status=status, result=None)
    HttpRoute.objects.create(function=fn, method="GET", path="/x")
    r = client.get("/http/x")
    assert r.status_code == code
    assert r.json() == {"message": message}
    assert r["x-stratus-request-id"]


def test_it_answers_502_to_a_malformed_answer(client, fn, fake_invoke):
    fake_invoke[1]["result"] = json.dumps({"statusCode": "nope"})
    HttpRoute.objects.create(function=fn, method="GET", path="/x")
    assert client.get("/http/x").status_code == 502


def test_it_checks_the_api_key(client, fn, fake_invoke):
    route = HttpRoute(function=fn, method="GET", path="/k", auth="api_key")
    key = route.issue_api_key()
    route.save()
    assert client.get("/http/k").json() == {"message": "Unauthorized"}
    assert client.get("/http/k", HTTP_X_API_KEY="wrong").status_code == 403
    assert fake_invoke[0] == []
    assert client.get("/http/k", HTTP_X_API_KEY=key).status_code == 200


def test_it_answers_preflights_without_invoking(client, fn, fake_invoke):
    HttpRoute.objects.create(
        function=fn, method="PUT", path="/c/{id}", cors_allow_origins="https://app.example",
        cors_allow_methods="PUT, GET", cors_allow_headers="content-type, x-api-key",
        cors_expose_headers="x-total", cors_max_age=600, cors_allow_credentials=True,
    )
    r = client.options(
        "/http/c/1", HTTP_ORIGIN="https://app.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT",
    )
    assert r.status_code == 204
    assert r["Access-Control-Allow-Origin"] == "https://app.example"
    assert r["Access-Control-Allow-Methods"] == "PUT,GET"
    assert r["Access-Control-Allow-Headers"] == "content-type,x-api-key"
    assert r["Access-Control-Max-Age"] == "600"
    assert r["Access-Control-Allow-Credentials"] == "true"
    assert fake_invoke[0] == []
    denied = client.options(
        "/http/c/1", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT",
    )
    assert denied.status_code == 204 and "Access-Control-Allow-Origin" not in denied
    r = client.put("/http/c/1", data="{}", content_type="application/json", HTTP_ORIGIN="https://app.example")
    assert r["Access-Control-Allow-Origin"] == "https://app.example"
    assert r["Access-Control-Expose-Headers"] == "x-total"
    r = client.put("/http/c/1", data="{}", content_type="application/json", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in r


def test_it_refuses_bodies_over_6_mb(client, fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="POST", path="/big")
    r = client.post("/http/big", data=b"x" * (6 * 1024 * 1024 + 1), content_type="text/plain")
    assert r.status_code == 413
    assert fake_invoke[0] == []


def test_it_needs_no_csrf_token(fn, fake_invoke):
    from django.test import Client

    HttpRoute.objects.create(function=fn, method="POST", path="/p")
    r = Client(enforce_csrf_checks=True).post("/http/p", data="{}", content_type="application/json")
    assert r.status_code == 200


def test_it_answers_head_without_a_body(client, fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="HEAD", path="/h")
    r = client.head("/http/h")
    assert r.status_code == 200 and r.content == b""
