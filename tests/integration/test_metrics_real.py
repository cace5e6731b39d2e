"""Metrics on the real path: boto3 -> daphne -> Celery -> Docker, then the
figures in GET /metrics (with its token, parsed by prometheus-client) and
in metrics.series, before and after the flusher moved them to the
database."""

import json

import pytest
import requests
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import create, invoke_json, running, settle
from tests.stack import Stack

pytestmark = pytest.mark.integration
TOKEN = "metrics-token-for-tests"

WORK = '''
import time

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
'''


@pytest.fixture(scope="module")
def stack():
    with running(Stack(STRATUS_METRICS_TOKEN=TOKEN)) as s:
        yield s


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client()


def scrape(stack) -> dict:
    answer = requests.get(f"{stack.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    return {f.name: f for f in text_string_to_metric_families(answer.text)}


def value(families: dict, name: str, **labels) -> float:
    family = families.get(name)
    if family is None:
        return 0
    found = [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())
             and not s.name.endswith(("_created", "_bucket", "_sum"))]
    return sum(found)


def series_of(stack, function_name: str) -> dict:
    code = (
        "import json, time\n"
        "from functions.models import Function\n"
        "from metrics.series import series\n"
        f"fn = Function.objects.get(name={function_name!r})\n"
        "now = int(time.time()) // 60 * 60\n"
        "print(json.dumps(series(teams=[fn.team], function_id=fn.id, since=now - 600, until=now + 60)))\n"
    )
    return json.loads(stack.shell(code).strip().splitlines()[-1])


def test_calls_errors_and_throttles_reach_prometheus_and_the_series(stack, client):
    create(client, "metered", WORK)
    create(client, "closed", WORK)
    for sleep in (0, 0.2, 0):
        resp, _ = invoke_json(client, "metered", {"sleep": sleep})
        assert "FunctionError" not in resp
    resp, body = invoke_json(client, "metered", {"fail": True})
    assert resp["FunctionError"] == "Unhandled" and body["errorType"] == "ValueError"
    assert client.invoke(FunctionName="metered", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    client.put_function_concurrency(FunctionName="closed", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName="closed", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"

    # The series has them at once (Redis), and keeps them once flushed.
    got = settle(lambda: series_of(stack, "metered"), lambda s: s["totals"]["invocations"] >= 5)
    totals = got["totals"]
    assert (totals["invocations"], totals["errors"], totals["errors_failed"]) == (5, 1, 1)
    assert totals["cold_starts"] >= 1 and totals["throttles"] == 0
    assert totals["p99"] >= 200 * 0.97 and totals["p50"] is not None and totals["gb_seconds"] > 0
    assert totals["concurrency"] >= 1
    assert len(got["t"]) == 11 and sum(got["invocations"]) == 5
    closed = series_of(stack, "closed")["totals"]
    assert (closed["throttles"], closed["invocations"]) == (1, 0)
    flushed = settle(
        lambda: stack.shell(
            "from metrics.models import MetricMinute\nfrom django.db.models import Sum\n"
            "print(MetricMinute.objects.filter(function_name='metered')"
            ".aggregate(n=Sum('invocations'))['n'])"
        ).strip().splitlines()[-1],
        lambda n: n == "5",
    )
    assert flushed == "5"
    assert series_of(stack, "metered")["totals"] == totals

    team = stack.shell(
        "from functions.models import Function\nprint(Function.objects.get(name='metered').team.name)"
    ).strip().splitlines()[-1]
    labels = {"function": "metered", "team": team, "qualifier": "$LATEST"}
    families = settle(lambda: scrape(stack), lambda f: value(f, "stratus_invocations", **labels) >= 5)
    assert value(families, "stratus_invocations", **labels) == 5
    assert value(families, "stratus_errors", kind="failed", **labels) == 1
    assert value(families, "stratus_errors", kind="timed_out", **labels) == 0
    assert value(families, "stratus_throttles", function="closed") == 1
    assert value(families, "stratus_cold_starts", **labels) >= 1
    assert value(families, "stratus_gb_seconds", **labels) == pytest.approx(totals["gb_seconds"], rel=1e-6)
    hist = families["stratus_duration_seconds"]
    count = [s.value for s in hist.samples if s.name == "stratus_duration_seconds_count"
             and s.labels["function"] == "metered"]
    assert count == [5]
    assert families["stratus_concurrent_executions"].type == "gauge"


def test_metrics_need_the_token(stack):
    assert requests.get(f"{stack.url}/metrics", timeout=30).status_code == 401
    wrong = requests.get(f"{stack.url}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=30)
    assert wrong.status_code == 401 and "token is wrong" in wrong.text
