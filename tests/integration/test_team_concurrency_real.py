"""Each team is an account with a concurrency limit, on the real stack (real
Docker, Redis, Celery, uvicorn; boto3 inside the functions).

The cross-tenant stall this guards against: a function that invokes itself
synchronously holds a lane thread while its inner call waits for one; a
chain deeper than the installation's lane threads held them all, the
innermost call waited until its queue timeout, and every other team's
synchronous Invoke got TooManyRequestsException meanwhile. With a team limit
(derived here: the stack's worker runs 4 lane threads, so a team gets 3),
the chain's call over the limit is throttled at once, and another team's
call still finds a worker."""

import json
import threading

import boto3
import pytest
from botocore.config import Config

from tests.integration.helpers import login, wait_for, zip_of
from tests.integration.test_messaging_real import ids, submit

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# Calls itself with depth - 1. The call that is throttled does not unwind at
# once: it waits for the test's "go" on an SQS queue, so the test can invoke
# another team's function while the chain still holds its slots.
RECUR = '''
import json

import boto3

lam = boto3.client("lambda")
sqs = boto3.client("sqs")


def handler(event, context):
    depth = event["depth"]
    if depth <= 0:
        return {"reached": "the bottom"}
    try:
        answer = lam.invoke(FunctionName="recur", Payload=json.dumps({"depth": depth - 1}))
    except lam.exceptions.TooManyRequestsException as e:
        print("throttled at depth", depth, "reason", e.response.get("Reason"))
        url = sqs.get_queue_url(QueueName="go")["QueueUrl"]
        while not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages"):
            pass
        raise RuntimeError(f"throttled at depth {depth} ({e.response.get('Reason')}): {e}") from e
    body = json.loads(answer["Payload"].read())
    if "FunctionError" in answer:
        raise RuntimeError(body["errorMessage"])
    return body
'''

ECHO = '''
def handler(event, context):
    return {"echo": event}
'''

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"},
        {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:ReceiveMessage"], "Resource": "*"},
    ],
}


def clients_for(stack, key: tuple[str, str], *services: str):
    return [
        boto3.client(
            service, endpoint_url=stack.url, region_name="us-east-1",
            aws_access_key_id=key[0], aws_secret_access_key=key[1],
            config=Config(retries={"max_attempts": 0}, read_timeout=180),
        )
        for service in services
    ]


def four_lanes_alive(stack) -> None:
    """Until the worker's 4 processes are the lanes counted: a child Celery
    replaced while it started (slow to report, on a busy machine) counts
    until its beat is STRATUS_WORKER_LOST_AFTER old."""
    wait_for(lambda: stack.shell(
        "from invocations import concurrency\nprint('lanes', concurrency.lanes_alive())"
    ).strip().endswith("lanes 4"), timeout=90, interval=1)


@pytest.fixture(scope="module")
def other_team_key(stack):
    stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from functions.models import Membership, Team\n"
        "user = get_user_model().objects.create_user('tenant-b', password='pw-tenant-b-123')\n"
        "Membership.objects.create(team=Team.objects.create(name='tenant-b'), user=user, role='owner')\n"
    )
    return stack.api_key("tenant-b")


def test_a_nested_chain_is_throttled_at_its_teams_limit_and_other_teams_still_run(stack, other_team_key):
    lam, sqs = clients_for(stack, stack.api_key(), "lambda", "sqs")
    [their_lam] = clients_for(stack, other_team_key, "lambda")
    sqs.create_queue(QueueName="go")
    lam.create_function(
        FunctionName="recur", Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": RECUR})}, Timeout=120, MemorySize=128,
    )
    submit(stack, login(stack), f"/functions/{ids(stack, 'recur')['id']}/policy/",
           {"execution_policy": json.dumps(POLICY)})
    their_lam.create_function(
        FunctionName="echo", Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": ECHO})}, Timeout=30, MemorySize=128,
    )

    four_lanes_alive(stack)
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 3  # 4 lane threads, less a quarter
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 3
    # Every page: ListFunctions answers 50 at a time.
    listed = [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]]
    assert settings["AccountUsage"]["FunctionCount"] == len(listed)

    outcome = {}

    def top_call():
        answer = lam.invoke(FunctionName="recur", Payload=json.dumps({"depth": 12}).encode())
        outcome["answer"] = answer
        outcome["body"] = json.loads(answer["Payload"].read())

    chain = threading.Thread(target=top_call, daemon=True)
    chain.start()

    def throttled_rows():
        return stack.rows(
            "Invocation.objects.filter(function__name='recur', status='throttled').values('error')"
        )

    # The chain's fourth call is refused at once, while three run (and wait).
    [row, *_] = wait_for(throttled_rows, timeout=120, interval=0.5)
    assert row["error"]["Reason"] == "ConcurrentInvocationLimitExceeded"

    # Meanwhile another team's call finds a worker.
    answer = their_lam.invoke(FunctionName="echo", Payload=b'{"from": "tenant-b"}')
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"echo": {"from": "tenant-b"}}

    # And the chain unwinds with the throttle, never reaching the bottom.
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="go")["QueueUrl"], MessageBody="go")
    chain.join(timeout=300)
    assert outcome["answer"].get("FunctionError") == "Unhandled", outcome
    message = outcome["body"]["errorMessage"]
    assert "throttled at depth 10 (ConcurrentInvocationLimitExceeded)" in message
    assert "TooManyRequestsException" in message
    statuses = [r["status"] for r in stack.rows(
        "Invocation.objects.filter(function__name='recur').values('status')"
    )]
    assert "timed_out" not in statuses and "cancelled" not in statuses
    assert statuses.count("failed") == 3, statuses

    # Slots were given back: the team's whole pool is free again.
    held = []

    def pool_is_free():
        held.append(stack.shell(
            "from invocations import concurrency\n"
            "from functions.models import Function\n"
            "print('held', concurrency.team_holders(Function.objects.get(name='recur').team_id))"
        ).strip())
        return held[-1].endswith("held 0")

    assert wait_for(pool_is_free, timeout=30, interval=0.5), held[-1]


def test_put_function_concurrency_keeps_the_unreserved_minimum(stack):
    [lam] = clients_for(stack, stack.api_key(), "lambda")
    four_lanes_alive(stack)
    lam.create_function(
        FunctionName="reserver", Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": ECHO})}, Timeout=3, MemorySize=128,
    )
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_function_concurrency(FunctionName="reserver", ReservedConcurrentExecutions=3)
    assert "below its minimum value of [1]" in str(e.value)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="reserver")
    lam.put_function_concurrency(FunctionName="reserver", ReservedConcurrentExecutions=2)
    limits = lam.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (3, 1)
    lam.delete_function_concurrency(FunctionName="reserver")
