"""Async delivery on the real path (boto3 -> daphne -> Celery -> Docker):
retries then the on-failure destination, an on-success chain, priority, and
reserved concurrency. Its own stack, so the retry backoff can be short."""

import json
import threading
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import create, invoke_json, wait_for
from tests.stack import Stack

pytestmark = pytest.mark.integration

# Prints the event it got, so the test reads it back from the logs.
RECORDER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"seen": True}
'''
SLEEPER = """
import time

def handler(event, context):
    time.sleep({seconds})
    return {{"slept": {seconds}}}
"""
SLOW_BY_EVENT = """
import time

def handler(event, context):
    time.sleep(event.get("seconds", 3))
    return {"slept": event.get("seconds", 3)}
"""
FAILING = "def handler(event, context):\n    raise RuntimeError('always fails')\n"


@pytest.fixture(scope="module")
def stack():
    # The priority test keeps every worker process busy with one team's
    # backlog: Lambda's account limit, not the share kept for other teams.
    s = Stack(STRATUS_RETRY_BACKOFF_SCALE="0.01", STRATUS_TEAM_CONCURRENCY="1000").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client()


def events_seen(stack, function: str) -> list[dict]:
    rows = stack.rows(
        f"Invocation.objects.filter(function__name='{function}', status='succeeded').values('logs')"
    )
    return [
        json.loads(line[len("EVENT "):])
        for row in rows for line in row["logs"].splitlines() if line.startswith("EVENT ")
    ]


def arn_of(client, name: str) -> str:
    return client.get_function_configuration(FunctionName=name)["FunctionArn"]


def test_it_retries_twice_then_delivers_to_the_on_failure_destination(stack, client):
    create(client, "fails", FAILING)
    create(client, "failure-sink", RECORDER)
    client.put_function_event_invoke_config(
        FunctionName="fails", MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": arn_of(client, "failure-sink")}},
    )
    resp = client.invoke(FunctionName="fails", InvocationType="Event", Payload=b'{"order": 7}')
    assert resp["StatusCode"] == 202
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    records = wait_for(lambda: events_seen(stack, "failure-sink"), timeout=120)
    record = records[0]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "always fails"

    row = stack.rows(
        f"Invocation.objects.filter(request_id='{request_id}').values('status', 'attempts', 'logs')"
    )[0]
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["logs"].count("always fails") >= 3
    attempts = stack.rows(
        f"Invocation.objects.filter(request_id='{request_id}')"
        ".values_list('attempt_set__number', 'attempt_set__status').order_by('attempt_set__number')"
    )
    assert attempts == [[1, "failed"], [2, "failed"], [3, "failed"]]
    dead = stack.rows(
        f"Invocation.objects.filter(request_id='{request_id}').values_list('dead_letter__condition')"
    )
    assert dead == [["RetriesExhausted"]]


def test_it_chains_on_success_destinations(stack, client):
    create(client, "chain-a", "def handler(event, context):\n    return {'a': event['x'] + 1}\n")
    create(client, "chain-b", "def handler(event, context):\n"
                              "    return {'b': event['responsePayload']['a'] * 10}\n")
    create(client, "chain-c", RECORDER)
    for name, target in [("chain-a", "chain-b"), ("chain-b", "chain-c")]:
        client.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn_of(client, target)}}
        )
    client.invoke(FunctionName="chain-a", InvocationType="Event", Payload=b'{"x": 1}')

    record = wait_for(lambda: events_seen(stack, "chain-c"), timeout=90)[0]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"] == arn_of(client, "chain-b") + ":$LATEST"
    assert record["requestPayload"]["requestPayload"] == {"x": 1}  # what B got from A
    assert record["requestPayload"]["responsePayload"] == {"a": 2}  # A's result reached B
    assert record["responsePayload"] == {"b": 20}  # B's result reached C
    sources = stack.rows(
        "Invocation.objects.filter(function__name__startswith='chain-').values_list('source', flat=True)"
    )
    assert sorted(sources) == ["api", "destination", "destination"]


def test_a_high_priority_event_overtakes_a_backlog_of_low_ones(stack, client):
    create(client, "sleeper", SLEEPER.format(seconds=1))
    backlog = 40  # ten times the worker's concurrency of 4: room for a slow machine
    submit = (
        "from functions.models import Function\nfrom invocations import dispatch\n"
        "fn = Function.objects.get(name='sleeper')\n"
        "for i in range({count}):\n"
        "    dispatch.submit_async(fn, '{{}}', source='api', priority='{priority}')\n"
    )
    # One process submits the backlog, waits until the worker is busy with
    # it, then submits the high one: no process start-up between the two
    # (seconds on a loaded machine, by which time the backlog could be gone).
    busy = (
        "import time\nfrom invocations.models import Invocation\n"
        "deadline = time.monotonic() + 60\n"
        "while (Invocation.objects.filter(function=fn, status='running').count() < 4\n"
        "       and time.monotonic() < deadline):\n"
        "    time.sleep(0.05)\n"
    )
    stack.shell(
        submit.format(count=backlog, priority="low") + busy
        + submit.format(count=1, priority="high").split("fn = Function.objects.get(name='sleeper')\n")[1]
    )

    def all_finished():
        rows = stack.rows(
            "Invocation.objects.filter(function__name='sleeper')"
            ".values('priority', 'status', 'started_at', 'created_at')"
        )
        done = len(rows) == backlog + 1 and all(r["status"] == "succeeded" for r in rows)
        return rows if done else None

    rows = wait_for(all_finished, timeout=180, interval=1)
    high = next(r for r in rows if r["priority"] == "high")
    lows = [r for r in rows if r["priority"] == "low"]
    assert all(r["created_at"] < high["created_at"] for r in lows)
    overtaken = [r for r in lows if r["started_at"] > high["started_at"]]
    # In arrival order the high one would start last. The worker runs 4 at
    # once and may hold a few more reserved (prefetch), and some of the
    # backlog is done while the high one is submitted; the rest must wait.
    assert len(overtaken) >= 5, f"only {len(overtaken)} of {backlog} low events started later"


def _intervals(stack, name: str) -> list[tuple[datetime, datetime]]:
    rows = stack.rows(
        f"Invocation.objects.filter(function__name='{name}', invocation_type='Event')"
        ".values_list('started_at', 'finished_at')"
    )
    return sorted((datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in rows)


def test_reserved_concurrency_throttles_sync_and_makes_async_wait(stack, client):
    create(client, "slow", SLOW_BY_EVENT, Timeout=60)
    client.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=1)
    first: dict = {}
    # Long enough to be seen holding its slot by the polls below, each a
    # process start (seconds on a loaded machine).
    runner = threading.Thread(
        target=lambda: first.update(resp=invoke_json(client, "slow", {"seconds": 20}))
    )
    runner.start()
    # A sync call has no row while it runs: wait until it holds the slot.
    holders = (
        "from functions.models import Function\nfrom invocations import concurrency\n"
        "print(concurrency.holders(Function.objects.get(name='slow').id))"
    )
    wait_for(lambda: stack.shell(holders).strip().endswith("1"), timeout=60, interval=0.1)
    with pytest.raises(ClientError) as e:
        client.invoke(FunctionName="slow", Payload=b"{}")
    runner.join(timeout=120)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert first["resp"][1] == {"slept": 20}

    for i in range(3):
        client.invoke(FunctionName="slow", InvocationType="Event", Payload=json.dumps({"i": i}).encode())
    wait_for(lambda: len(stack.rows(
        "Invocation.objects.filter(function__name='slow', invocation_type='Event', status='succeeded')"
        ".values('request_id')"
    )) == 3, timeout=120, interval=0.5)
    attempts = stack.rows(
        "Invocation.objects.filter(function__name='slow', invocation_type='Event')"
        ".values_list('attempts', flat=True)"
    )
    assert attempts == [1, 1, 1]  # waiting for a slot is not an attempt
    intervals = _intervals(stack, "slow")
    # One at a time, across the worker's four processes: no two runs overlap.
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= end
