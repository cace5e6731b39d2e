"""Triggers end to end: requests -> daphne -> route/webhook/schedule ->
Celery -> Docker, asserting the AWS payload shapes the handler received."""

import base64
import json
import re
import time

import pytest
import requests

from tests.integration.helpers import create, login, wait_for
from triggers.webhooks import signature_for

pytestmark = pytest.mark.integration

ROUTED = '''
import json

def handler(event, context):
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-handler": "yes"},
        "cookies": ["flavor=oat; Path=/"],
        "body": json.dumps(event),
    }
'''
PLAIN = "def handler(event, context):\n    return {'hello': event['pathParameters']['name']}\n"
FAILING = "def handler(event, context):\n    raise ValueError('nope')\n"
SLOW = "import time\n\ndef handler(event, context):\n    time.sleep(30)\n"
PRINTER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"seen": event.get("detail-type") or event.get("body")}
'''


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


@pytest.fixture(scope="module")
def console(stack):
    return login(stack)


def fn_id(stack, name: str) -> str:
    return stack.rows(f"Function.objects.filter(name='{name}').values_list('id', flat=True)")[0]


def add(stack, console, fn_name: str, kind: str, data: dict) -> requests.Response:
    url = f"{stack.url}/functions/{fn_id(stack, fn_name)}/triggers/{kind}/"
    resp = console.post(url, data=data, headers={
        "X-CSRFToken": console.cookies["csrftoken"], "Referer": url, "HX-Request": "true",
    })
    assert resp.status_code == 200, resp.text[:2000]
    return resp


def route(stack, console, fn_name, method, path, **extra):
    data = {"method": method, "path": path, "auth": "none", "priority": "normal", **extra}
    return add(stack, console, fn_name, "routes", data)


@pytest.fixture(scope="module")
def routes(stack, console, lam):
    create(lam, "routed", ROUTED)
    create(lam, "plain", PLAIN)
    create(lam, "failing", FAILING)
    create(lam, "slow", SLOW, Timeout=1)
    route(
        stack, console, "routed", "ANY", "/it/items/{id}/{rest+}",
        cors_allow_origins="https://app.example", cors_allow_methods="PUT, POST",
        cors_allow_headers="content-type", cors_max_age="300",
    )
    route(stack, console, "plain", "GET", "/it/hello/{name}")
    route(stack, console, "failing", "GET", "/it/fail")
    route(stack, console, "slow", "GET", "/it/slow")
    page = route(stack, console, "plain", "GET", "/it/secure/{name}", auth="api_key")
    key = re.search(r'<pre id="new-api-key">([^<]+)</pre>', page.text).group(1)
    return {"api_key": key}


def test_it_delivers_payload_2_0_and_maps_the_response(stack, routes):
    raw = bytes(range(256))
    resp = requests.post(
        f"{stack.url}/http/it/items/7/a/b.bin?x=1&x=2&y=z", data=raw,
        headers={"Content-Type": "application/octet-stream", "X-Custom": "c1",
                 "Cookie": "session=abc; theme=dark", "Origin": "https://app.example"},
        timeout=120,
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["x-handler"] == "yes"
    assert resp.cookies["flavor"] == "oat"
    assert resp.headers["apigw-requestid"] == resp.headers["x-stratus-request-id"]
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
    event = resp.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /it/items/{id}/{rest+}"
    assert event["rawPath"] == "/it/items/7/a/b.bin"
    assert event["rawQueryString"] == "x=1&x=2&y=z"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "z"}
    assert event["pathParameters"] == {"id": "7", "rest": "a/b.bin"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["headers"]["x-custom"] == "c1"
    assert event["headers"]["content-type"] == "application/octet-stream"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "POST" and ctx["http"]["path"] == "/it/items/7/a/b.bin"
    assert ctx["http"]["sourceIp"] == "127.0.0.1"
    assert ctx["stage"] == "$default"
    assert ctx["requestId"] == resp.headers["x-stratus-request-id"]
    rows = wait_for(lambda: stack.rows(
        f"Invocation.objects.filter(request_id='{ctx['requestId']}').values('source', 'trigger')"
    ))
    assert rows[0]["source"] == "http" and rows[0]["trigger"].startswith("route:")


def test_it_answers_a_cors_preflight_without_invoking(stack, routes):
    time.sleep(1)  # records of earlier calls are written just after their answers
    before = stack.rows("Invocation.objects.filter(function__name='routed').values_list('pk', flat=True)")
    resp = requests.options(f"{stack.url}/http/it/items/1/x", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }, timeout=30)
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert resp.headers["Access-Control-Allow-Methods"] == "PUT,POST"
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type"
    assert resp.headers["Access-Control-Max-Age"] == "300"
    time.sleep(1)
    after = stack.rows("Invocation.objects.filter(function__name='routed').values_list('pk', flat=True)")
    assert after == before


def test_it_returns_a_plain_value_as_200_json(stack, routes):
    resp = requests.get(f"{stack.url}/http/it/hello/ada", timeout=120)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json() == {"hello": "ada"}


def test_it_answers_500_on_a_handler_error(stack, routes):
    """API Gateway HTTP APIs answer a function error with 500."""
    resp = requests.get(f"{stack.url}/http/it/fail", timeout=120)
    assert resp.status_code == 500
    assert resp.json() == {"message": "Internal Server Error"}
    assert "x-frame-options" not in resp.headers and "referrer-policy" not in resp.headers
    request_id = resp.headers["x-stratus-request-id"]
    # Recorded just after the answer; sync route calls are never retried.
    rows = wait_for(lambda: stack.rows(
        f"Invocation.objects.filter(request_id='{request_id}').values('status', 'attempts')"
    ), timeout=30)
    assert rows == [{"status": "failed", "attempts": 1}]


def test_it_answers_500_on_a_function_timeout(stack, routes):
    """A function's own timeout is a function error to an HTTP API: 500."""
    resp = requests.get(f"{stack.url}/http/it/slow", timeout=120)
    assert resp.status_code == 500
    request_id = resp.headers["x-stratus-request-id"]
    statuses = wait_for(lambda: stack.rows(
        f"Invocation.objects.filter(request_id='{request_id}').values_list('status', flat=True)"
    ), timeout=30)
    assert statuses == ["timed_out"]


def test_it_answers_404_to_an_unknown_route(stack, routes):
    resp = requests.get(f"{stack.url}/http/it/nothing", timeout=30)
    assert resp.status_code == 404
    assert resp.json() == {"message": "Not Found"}


def test_it_refuses_a_missing_or_wrong_api_key(stack, routes):
    url = f"{stack.url}/http/it/secure/bob"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers={"x-api-key": "wrong"}, timeout=30).status_code == 403
    resp = requests.get(url, headers={"x-api-key": routes["api_key"]}, timeout=120)
    assert resp.status_code == 200 and resp.json() == {"hello": "bob"}


def test_it_refuses_a_conflicting_route_in_the_form(stack, console, routes):
    url = f"{stack.url}/functions/{fn_id(stack, 'routed')}/triggers/routes/"
    resp = console.post(url, data={"method": "GET", "path": "/it/hello/{who}", "auth": "none",
                                   "priority": "normal"},
                        headers={"X-CSRFToken": console.cookies["csrftoken"], "Referer": url})
    assert resp.status_code == 400
    assert "conflicts with the route GET /it/hello/{name}" in resp.text


def test_it_fires_a_schedule_with_the_scheduled_event(stack, console, lam):
    create(lam, "ticker", PRINTER)
    add(stack, console, "ticker", "schedules",
        {"expression": "rate(1 minute)", "timezone": "UTC", "priority": "high"})
    # Bring the next fire forward instead of waiting a minute.
    stack.shell(
        "from django.utils import timezone\nfrom triggers.models import Schedule\n"
        "Schedule.objects.filter(function__name='ticker').update(next_fire_at=timezone.now())"
    )
    rows = wait_for(lambda: stack.rows(
        "Invocation.objects.filter(function__name='ticker', status='succeeded')"
        ".values('logs', 'source', 'priority', 'invocation_type')"
    ), timeout=90)
    row = rows[0]
    assert (row["source"], row["priority"], row["invocation_type"]) == ("schedule", "high", "Event")
    event = json.loads(row["logs"].split("EVENT ", 1)[1].splitlines()[0])
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert re.fullmatch(r"\d{12}", event["account"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["region"] == "us-east-1"
    arn_prefix = f"arn:aws:events:us-east-1:{event['account']}:rule/stratus-ticker-"
    assert event["resources"][0].startswith(arn_prefix)
    assert event["detail"] == {}
    # Fired once, and the next fire is a minute away, not now again.
    next_fire = stack.shell(
        "from django.utils import timezone\nfrom triggers.models import Schedule\n"
        "s = Schedule.objects.get(function__name='ticker')\n"
        "print((s.next_fire_at - timezone.now()).total_seconds() > 30, s.last_fired_at is not None)"
    ).split()
    assert next_fire[-2:] == ["True", "True"]
    assert len(stack.rows("Invocation.objects.filter(function__name='ticker').values('pk')")) == 1


def test_it_invokes_a_webhook_with_a_good_signature_only(stack, console, lam):
    create(lam, "hooked", PRINTER)
    page = add(stack, console, "hooked", "webhooks", {"secret": "whsec", "priority": "normal"})
    url = re.search(r'<pre id="new-webhook-url">([^<]+)</pre>', page.text).group(1)
    body = b'{"action": "opened"}'
    bad = requests.post(url, data=body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}, timeout=30)
    assert bad.status_code == 401
    good = requests.post(url, data=body, timeout=30, headers={
        "X-Hub-Signature-256": signature_for("whsec", body), "Content-Type": "application/json",
    })
    assert good.status_code == 202
    request_id = good.json()["requestId"]
    rows = wait_for(lambda: stack.rows(
        f"Invocation.objects.filter(request_id='{request_id}', status='succeeded').values('logs', 'source')"
    ))
    assert rows[0]["source"] == "webhook"
    event = json.loads(rows[0]["logs"].split("EVENT ", 1)[1].splitlines()[0])
    assert event["version"] == "2.0" and event["body"] == body.decode()
    assert len(stack.rows("Invocation.objects.filter(function__name='hooked').values('pk')")) == 1
