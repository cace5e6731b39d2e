"""The real path: boto3 -> daphne -> Celery -> Docker -> back."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import create, invoke_json, wait_for

pytestmark = pytest.mark.integration

ECHO = '''
import os
calls = 0

def handler(event, context):
    global calls
    calls += 1
    print("hello", event.get("name"), context.aws_request_id)
    return {"calls": calls, "event": event, "fn": context.function_name,
            "remaining": context.get_remaining_time_in_millis() > 0,
            "greeting": os.environ.get("GREETING")}
'''


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client()


@pytest.fixture(scope="module")
def echo(client):
    create(client, "echo", ECHO, Environment={"Variables": {"GREETING": "hi"}})
    return "echo"


def test_it_invokes_sync_and_returns_the_result(client, echo):
    resp, body = invoke_json(client, echo, {"name": "ada"})
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert body["event"] == {"name": "ada"}
    assert body["fn"] == "echo"
    assert body["remaining"] is True
    assert body["greeting"] == "hi"


def test_it_tails_the_log(client, echo):
    resp, _ = invoke_json(client, echo, {"name": "tail"}, LogType="Tail")
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "hello tail" in tail
    assert "REPORT RequestId:" in tail


def test_it_reuses_a_warm_environment(client, echo):
    _, first = invoke_json(client, echo, {})
    _, second = invoke_json(client, echo, {})
    # Module-level state survives between invocations on one environment.
    assert second["calls"] == first["calls"] + 1


def test_it_invokes_async(client, echo, stack):
    resp = client.invoke(FunctionName=echo, InvocationType="Event", Payload=b'{"name": "later"}')
    assert resp["StatusCode"] == 202
    rows = wait_for(lambda: stack.rows(
        "Invocation.objects.filter(function__name='echo', invocation_type='Event', status='succeeded')"
        ".values('event', 'logs')"
    ))
    assert json.loads(rows[0]["event"]) == {"name": "later"}
    assert "hello later" in rows[0]["logs"]


def test_it_reports_a_handler_error(client):
    create(client, "boom", "def handler(event, context):\n    raise ValueError('bad input')\n")
    resp, body = invoke_json(client, "boom", {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input"
    assert isinstance(body["stackTrace"], list)


def test_it_times_out_and_kills_the_environment(client, stack):
    create(client, "sleepy", "import time\ndef handler(e, c):\n    print('going to sleep')\n"
           "    time.sleep(30)\n", Timeout=1)
    resp, body = invoke_json(client, "sleepy", {})
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    # A sync call is recorded just after its answer.
    rows = wait_for(lambda: stack.rows(
        "Invocation.objects.filter(function__name='sleepy').values('status', 'logs')"
    ))
    assert rows[0]["status"] == "timed_out"
    assert "going to sleep" in rows[0]["logs"]
    # The environment was killed, not returned to the pool.
    assert stack.rows("Environment.objects.filter(function__name='sleepy').values('id')") == []


def test_it_reports_out_of_memory(client, stack):
    create(client, "hog", "def handler(e, c):\n    blocks = []\n    while True:\n"
           "        blocks.append(bytearray(16 * 1024 * 1024))\n", MemorySize=128)
    resp, body = invoke_json(client, "hog", {})
    assert resp["FunctionError"] == "Unhandled"
    rows = wait_for(lambda: stack.rows("Invocation.objects.filter(function__name='hog').values('status')"))
    assert rows[0]["status"] == "out_of_memory"


def test_it_refuses_an_unknown_function(client):
    with pytest.raises(ClientError) as e:
        client.invoke(FunctionName="nope", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_it_refuses_a_bad_signature(stack):
    import boto3

    bad = boto3.client(
        "lambda", endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id="AKIAXXXXXXXXXXXXXXXX", aws_secret_access_key="wrong",
    )
    with pytest.raises(ClientError) as e:
        bad.list_functions()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_it_requeues_a_lost_task(stack, client, echo):
    # A row whose task never reached Redis, as after a crash between commit
    # and publish: the reconciler (beat, every second here) must run it.
    out = stack.shell(
        "from datetime import timedelta\nfrom django.utils import timezone\n"
        "from functions.models import Function\nfrom invocations.models import Invocation\n"
        "fn = Function.objects.get(name='echo')\n"
        "inv = Invocation.objects.create(function=fn, event='{\"name\": \"lost\"}', "
        "invocation_type='Event', queued_at=timezone.now() - timedelta(minutes=5))\n"
        "print(inv.request_id)"
    )
    request_id = out.strip().splitlines()[-1]
    rows = wait_for(lambda: stack.rows(
        f"Invocation.objects.filter(request_id='{request_id}', status='succeeded').values('logs')"
    ))
    assert "hello lost" in rows[0]["logs"]
