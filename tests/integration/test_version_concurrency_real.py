"""Reserved concurrency is the function's, for async events to its
versions and aliases too (boto3 -> daphne -> Celery -> Docker): with a
reservation of 0 an Event to an alias waits, throttled, without an
attempt; once the reservation is deleted it runs and reaches its alias's
OnSuccess destination. One worker process, so the process that waits the
event is the one that ran the alias before the reservation existed (the
copy of the version it kept then is what used to let the event through)."""

import json

import pytest

from tests.integration.helpers import create, wait_for
from tests.stack import Stack

pytestmark = pytest.mark.integration

RECORDER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"seen": event}
'''


class OneProcessStack(Stack):
    def start_worker(self, concurrency: int = 1, **kwargs) -> str:
        return super().start_worker(concurrency, **kwargs)


@pytest.fixture(scope="module")
def stack():
    s = OneProcessStack(STRATUS_TEAM_CONCURRENCY="10").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client()


def events(stack, function: str, qualifier: str = "") -> list[dict]:
    rows = stack.rows(
        f"Invocation.objects.filter(function__name='{function}', invocation_type='Event')"
        f".filter(qualifier='{qualifier}').order_by('created_at')"
        ".values('request_id', 'status', 'attempts', 'logs', 'event')"
    )
    return rows


def throttles(stack, function: str, qualifier: str) -> int:
    return int(stack.shell(
        "from django.db.models import Sum\nfrom metrics.models import MetricMinute\n"
        f"print(MetricMinute.objects.filter(function_name='{function}', qualifier='{qualifier}')"
        ".aggregate(t=Sum('throttles'))['t'] or 0)"
    ).strip().splitlines()[-1])


def test_an_event_to_an_alias_waits_for_the_functions_reservation_then_runs(stack, client):
    create(client, "rcv", RECORDER)
    create(client, "rcv-sink", RECORDER)
    client.publish_version(FunctionName="rcv")
    client.create_alias(FunctionName="rcv", Name="al", FunctionVersion="1")
    sink_arn = client.get_function_configuration(FunctionName="rcv-sink")["FunctionArn"]
    client.put_function_event_invoke_config(
        FunctionName="rcv", Qualifier="al", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": sink_arn}},
    )
    # The worker process runs the alias once while nothing is reserved.
    client.invoke(FunctionName="rcv", Qualifier="al", InvocationType="Event", Payload=b'{"n": 0}')
    wait_for(lambda: [r["status"] for r in events(stack, "rcv", "al")] == ["succeeded"], timeout=120)

    client.put_function_concurrency(FunctionName="rcv", ReservedConcurrentExecutions=0)
    resp = client.invoke(FunctionName="rcv", Qualifier="al", InvocationType="Event", Payload=b'{"n": 1}')
    assert resp["StatusCode"] == 202
    # The worker looked at it and throttled it (a throttle of version 1 in
    # the metrics); it did not run.
    wait_for(lambda: throttles(stack, "rcv", "1") >= 1, timeout=120, interval=0.5)
    waiting = events(stack, "rcv", "al")[-1]
    assert json.loads(waiting["event"]) == {"n": 1}
    assert (waiting["status"], waiting["attempts"]) == ("queued", 0)

    client.delete_function_concurrency(FunctionName="rcv")
    wait_for(lambda: events(stack, "rcv", "al")[-1]["status"] == "succeeded", timeout=120, interval=0.5)
    ran = events(stack, "rcv", "al")[-1]
    assert ran["attempts"] == 1 and 'EVENT {"n": 1}' in ran["logs"]
    # ... and reached the alias's OnSuccess destination.
    records = lambda: [  # noqa: E731
        json.loads(r["event"]) for r in events(stack, "rcv-sink") if r["status"] == "succeeded"
    ]
    wait_for(lambda: any(rec["requestPayload"] == {"n": 1} for rec in records()), timeout=120, interval=0.5)
    record = next(rec for rec in records() if rec["requestPayload"] == {"n": 1})
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"].endswith(":rcv:al")
    assert record["responseContext"]["executedVersion"] == "1"
