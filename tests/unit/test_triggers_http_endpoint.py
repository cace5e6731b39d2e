"""Serving routes under /http/ through the production door (console.asgi ->
triggers.http_routes) with the hand-over faked: matching, auth, CORS,
payload limits and the outcome mapping, as API Gateway's HTTP APIs answer."""

import json

import pytest

from tests.unit.asgi_client import call
from triggers import route_table
from triggers.models import HttpRoute


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def fake_invoke(handed_over):
    """Answer route calls with a prepared Done; record what was handed over."""
    handed_over.answer = {"status": "succeeded", "result": json.dumps({"ok": True})}
    return handed_over


def test_it_answers_404_json_for_unknown_routes(db, fake_invoke):
    r = call("GET", "/http/nothing/here")
    assert r.status_code == 404
    assert r.json() == {"message": "Not Found"}
    assert call("GET", "/http").status_code == 404


def test_it_invokes_the_matching_route(fn, fake_invoke):
    route = HttpRoute.objects.create(function=fn, method="GET", path="/users/{id}", priority="high")
    fake_invoke.answer["result"] = json.dumps({"statusCode": 203, "headers": {"x-a": "b"}, "body": "yo"})
    r = call("POST", "/http/users/42", b"x", {"content-type": "text/plain"})
    assert r.status_code == 404  # POST has no route
    r = call("GET", "/http/users/42?q=1")
    assert r.status_code == 203 and r.content == b"yo" and r["x-a"] == "b"
    [request] = fake_invoke.calls
    assert r["apigw-requestid"] == r["x-stratus-request-id"] == request.request_id
    assert (request.source, request.priority, request.trigger) == ("http", "high", route.key)
    event = json.loads(request.event)
    assert event["rawPath"] == "/users/42" and event["rawQueryString"] == "q=1"
    assert event["pathParameters"] == {"id": "42"}
    assert event["requestContext"]["requestId"] == request.request_id
    # The fire time is written off the request path.
    route_table.flush_fired()
    route.refresh_from_db()
    assert route.last_fired_at is not None


def test_answers_carry_what_the_function_set_and_no_console_headers(fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="GET", path="/plain")
    fake_invoke.answer["result"] = json.dumps({"statusCode": 200, "body": "<p>hi</p>",
                                               "headers": {"content-type": "text/html"}})
    r = call("GET", "/http/plain")
    assert r.content == b"<p>hi</p>" and r["content-type"] == "text/html"
    for header in ("x-frame-options", "referrer-policy", "cross-origin-opener-policy",
                   "x-content-type-options", "vary"):
        assert header not in r


def test_a_new_route_is_served_at_once(fn, fake_invoke):
    assert call("GET", "/http/late").status_code == 404
    HttpRoute.objects.create(function=fn, method="GET", path="/late")
    assert call("GET", "/http/late").status_code == 200


def test_it_ignores_disabled_routes(fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="ANY", path="/x", enabled=False)
    assert call("GET", "/http/x").status_code == 404


def test_it_serves_a_root_route(fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="ANY", path="/")
    assert call("DELETE", "/http/").status_code == 200
    assert call("GET", "/http").status_code == 200


@pytest.mark.parametrize("status", ["failed", "out_of_memory", "timed_out", "throttled", "cancelled"])
def test_a_function_that_did_not_answer_is_a_500(fn, fake_invoke, status):
    """HTTP APIs answer 500 for a function error, timeout or throttle alike."""
    fake_invoke.answer = {"status": status, "error": {"errorType": "x", "errorMessage": "y"}}
    HttpRoute.objects.create(function=fn, method="GET", path="/x")
    r = call("GET", "/http/x")
    assert r.status_code == 500
    assert r.json() == {"message": "Internal Server Error"}
    assert r["x-stratus-request-id"]


def test_no_answer_within_30_s_is_a_503(fn, fake_invoke, monkeypatch):
    from triggers import http_routes

    monkeypatch.setattr(http_routes, "INTEGRATION_TIMEOUT_S", 0.05)

    async def slow(self):
        import asyncio

        await asyncio.sleep(0.5)

    monkeypatch.setattr("tests.unit.conftest.PendingCall.wait", slow)
    HttpRoute.objects.create(function=fn, method="GET", path="/slow")
    r = call("GET", "/http/slow")
    assert r.status_code == 503 and r.json() == {"message": "Service Unavailable"}


def test_a_malformed_answer_is_a_500(fn, fake_invoke):
    fake_invoke.answer["result"] = json.dumps({"statusCode": "nope"})
    HttpRoute.objects.create(function=fn, method="GET", path="/x")
    assert call("GET", "/http/x").status_code == 500


def test_it_checks_the_api_key(fn, fake_invoke):
    route = HttpRoute(function=fn, method="GET", path="/k", auth="api_key")
    key = route.issue_api_key()
    route.save()
    assert call("GET", "/http/k").json() == {"message": "Unauthorized"}
    assert call("GET", "/http/k", headers={"x-api-key": "wrong"}).status_code == 403
    assert fake_invoke.calls == []
    assert call("GET", "/http/k", headers={"x-api-key": key}).status_code == 200


def test_it_answers_preflights_without_invoking(fn, fake_invoke):
    HttpRoute.objects.create(
        function=fn, method="PUT", path="/c/{id}", cors_allow_origins="https://app.example",
        cors_allow_methods="PUT, GET", cors_allow_headers="content-type, x-api-key",
        cors_expose_headers="x-total", cors_max_age=600, cors_allow_credentials=True,
    )
    preflight = {"origin": "https://app.example", "access-control-request-method": "PUT"}
    r = call("OPTIONS", "/http/c/1", headers=preflight)
    assert r.status_code == 204
    assert r["Access-Control-Allow-Origin"] == "https://app.example"
    assert r["Access-Control-Allow-Methods"] == "PUT,GET"
    assert r["Access-Control-Allow-Headers"] == "content-type,x-api-key"
    assert r["Access-Control-Max-Age"] == "600"
    assert r["Access-Control-Allow-Credentials"] == "true"
    assert fake_invoke.calls == []
    denied = call("OPTIONS", "/http/c/1", headers={**preflight, "origin": "https://evil.example"})
    assert denied.status_code == 204 and "Access-Control-Allow-Origin" not in denied
    json_put = {"content-type": "application/json", "origin": "https://app.example"}
    r = call("PUT", "/http/c/1", b"{}", json_put)
    assert r["Access-Control-Allow-Origin"] == "https://app.example"
    assert r["Access-Control-Expose-Headers"] == "x-total"
    r = call("PUT", "/http/c/1", b"{}", {**json_put, "origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r


def test_it_refuses_bodies_over_6_mb(fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="POST", path="/big")
    r = call("POST", "/http/big", b"x" * (6 * 1024 * 1024 + 1), {"content-type": "text/plain"})
    assert r.status_code == 413
    assert r.json() == {"message": "Request Entity Too Large"}
    assert fake_invoke.calls == []


def test_it_needs_no_csrf_token(fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="POST", path="/p")
    r = call("POST", "/http/p", b"{}", {"content-type": "application/json"})
    assert r.status_code == 200


def test_it_answers_head_without_a_body(fn, fake_invoke):
    HttpRoute.objects.create(function=fn, method="HEAD", path="/h")
    r = call("HEAD", "/http/h")
    assert r.status_code == 200 and r.content == b""


@pytest.mark.parametrize("headers", [
    {"X-A": "ok\r\nX-Injected: yes"},
    {"Bad Name": "x"},
    {"X-B": "bell\x07"},
])
def test_a_header_http_cannot_carry_is_a_500_not_a_broken_answer(fn, fake_invoke, headers):
    fake_invoke.answer["result"] = json.dumps({"statusCode": 200, "headers": headers, "body": "x"})
    HttpRoute.objects.create(function=fn, method="GET", path="/h")
    r = call("GET", "/http/h")
    assert r.status_code == 500 and r.json() == {"message": "Internal Server Error"}
    assert "x-injected" not in r


def test_a_function_url_call_is_labelled_function_url(fn, fake_invoke):
    from functions import function_urls
    from invocations.models import Invocation

    config = function_urls.create(fn, auth_type="NONE")
    r = call("GET", f"/lambda-url/{config.url_id}/hello")
    assert r.status_code == 200, r.content
    [request] = fake_invoke.calls
    assert (request.source, request.trigger) == ("function_url", function_urls.trigger_key(config.url_id))
    # The label every list shows (Invocations tab, runs) comes from SOURCES.
    assert Invocation(source=request.source).get_source_display() == "Function URL"
    assert Invocation(source="http").get_source_display() == "HTTP route"


def test_the_migration_relabels_earlier_function_url_calls_only(fn):
    import importlib

    from django.apps import apps

    from invocations.models import Invocation

    migration = importlib.import_module("invocations.migrations.0011_words_function_url_source")
    url_call = Invocation.objects.create(function=fn, source="http", trigger="function-url:abc")
    route_call = Invocation.objects.create(function=fn, source="http", trigger="route:1")
    migration.relabel_url_calls(apps, None)
    assert Invocation.objects.get(pk=url_call.pk).source == "function_url"
    assert Invocation.objects.get(pk=route_call.pk).source == "http"
    migration.label_them_http_again(apps, None)
    assert Invocation.objects.get(pk=url_call.pk).source == "http"
