"""Reserved concurrency is the function's, for async events to its
versions and aliases too (boto3 -> daphne -> Celery -> Docker): with a
reservation of 0 an Event to an alias waits, throttled, without an
attempt; once the reservation is deleted it runs and reaches its alias's
OnSuccess destination. One worker process, so the process that waits the
event is the one that ran the alias before the reservation existed (the
copy of the version it kept then is what used to let the event through)."""

import json

import pytest

from tests.integration.helpers import create, wait_for, zip_of
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


def test_an_event_waiting_across_an_alias_move_runs_the_aliases_new_version(stack, client):
    """Lambda resolves an alias when its async queue invokes the function,
    not when the event is queued: an event throttled while the alias named
    version 1 runs version 2 once the alias moved there."""
    create(client, "rmv", RECORDER.replace('"EVENT "', '"V1 EVENT "'))
    client.publish_version(FunctionName="rmv")
    client.update_function_code(
        FunctionName="rmv", ZipFile=zip_of({"app.py": RECORDER.replace('"EVENT "', '"V2 EVENT "')}))
    client.get_waiter("function_updated").wait(FunctionName="rmv")
    assert client.publish_version(FunctionName="rmv")["Version"] == "2"
    client.create_alias(FunctionName="rmv", Name="mv", FunctionVersion="1")
    client.put_function_concurrency(FunctionName="rmv", ReservedConcurrentExecutions=0)
    client.invoke(FunctionName="rmv", Qualifier="mv", InvocationType="Event", Payload=b'{"n": 7}')
    # The worker resolved the alias to version 1 and throttled the event.
    wait_for(lambda: throttles(stack, "rmv", "1") >= 1, timeout=120, interval=0.5)
    assert [r["status"] for r in events(stack, "rmv", "mv")] == ["queued"]

    client.update_alias(FunctionName="rmv", Name="mv", FunctionVersion="2")
    client.delete_function_concurrency(FunctionName="rmv")
    wait_for(lambda: events(stack, "rmv", "mv")[-1]["status"] == "succeeded", timeout=120, interval=0.5)
    ran = events(stack, "rmv", "mv")[-1]
    assert 'V2 EVENT {"n": 7}' in ran["logs"] and "V1 EVENT" not in ran["logs"]
    version = stack.rows(
        f"Invocation.objects.filter(request_id='{ran['request_id']}').values('function_version')")
    assert version == [{"function_version": "2"}]
