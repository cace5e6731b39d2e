"""Issue 11 on the real stack (boto3 -> daphne -> Celery -> Docker):

- event invoke configs per qualifier: an async call through an alias
  follows the alias's config (its on-success queue, its qualified
  FunctionArn), an unqualified call the $LATEST one;
- a function that is not Active (its dependency build failed: State
  Failed, the same rule as Pending) runs nothing from any way in: an HTTP
  route answers 503, its URL 409, an SQS mapping leaves the message in the
  queue, a Kinesis mapping leaves its shard unread, an SNS event waits
  queued; once the code is fixed (Active) the held message, record and
  event run."""

import base64
import json

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.helpers import aws_client, create, login, wait_for, zip_of

pytestmark = pytest.mark.integration

RECORDER = "def handler(event, context):\n    return {'ok': True}\n"
PLAIN = (
    "import json\n\n"
    "def handler(event, context):\n"
    "    print('EVENT ' + json.dumps(event))\n"
    "    return {'statusCode': 200, 'body': 'ran'}\n"
)
WAIT = {"Delay": 1, "MaxAttempts": 240}


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


@pytest.fixture(scope="module")
def sqs(stack):
    return aws_client(stack, "sqs")


def queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(sqs, url: str) -> list[dict]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def test_an_alias_call_follows_the_alias_config(lam, sqs):
    create(lam, "eic-q", RECORDER)
    version = lam.publish_version(FunctionName="eic-q")["Version"]
    lam.create_alias(FunctionName="eic-q", Name="live", FunctionVersion=version)
    live_url, live_arn = queue(sqs, "eic-live-dest")
    latest_url, latest_arn = queue(sqs, "eic-latest-dest")
    put = lam.put_function_event_invoke_config(
        FunctionName="eic-q", Qualifier="live", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": live_arn}},
    )
    fn_arn = lam.get_function_configuration(FunctionName="eic-q")["FunctionArn"]
    assert put["FunctionArn"] == f"{fn_arn}:live"
    lam.put_function_event_invoke_config(
        FunctionName="eic-q", DestinationConfig={"OnSuccess": {"Destination": latest_arn}},
    )
    listed = lam.list_function_event_invoke_configs(FunctionName="eic-q")["FunctionEventInvokeConfigs"]
    assert [(c["FunctionArn"], c["MaximumRetryAttempts"]) for c in listed] == [
        (f"{fn_arn}:$LATEST", 2), (f"{fn_arn}:live", 0),
    ]
    assert lam.invoke(FunctionName="eic-q", Qualifier="live", InvocationType="Event",
                      Payload=b'{"via": "alias"}')["StatusCode"] == 202
    unqualified = lam.invoke(FunctionName="eic-q", InvocationType="Event", Payload=b'{"via": "none"}')
    assert unqualified["StatusCode"] == 202

    live = wait_for(lambda: received(sqs, live_url), timeout=120)
    assert len(live) == 1 and live[0]["requestPayload"] == {"via": "alias"}
    assert live[0]["requestContext"]["functionArn"] == f"{fn_arn}:live"
    assert live[0]["requestContext"]["condition"] == "Success"
    assert live[0]["responseContext"]["executedVersion"] == version
    latest = wait_for(lambda: received(sqs, latest_url), timeout=120)
    assert len(latest) == 1 and latest[0]["requestPayload"] == {"via": "none"}
    assert latest[0]["requestContext"]["functionArn"] == f"{fn_arn}:$LATEST"

    lam.delete_function_event_invoke_config(FunctionName="eic-q:live")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="eic-q", Qualifier="live")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.get_function_event_invoke_config(FunctionName="eic-q")["FunctionArn"] == f"{fn_arn}:$LATEST"


def fn_id(stack, name: str) -> str:
    return stack.rows(f"Function.objects.filter(name='{name}').values_list('id', flat=True)")[0]


def add_route(stack, name: str, path: str) -> None:
    console = login(stack)
    url = f"{stack.url}/functions/{fn_id(stack, name)}/triggers/routes/"
    data = {"method": "GET", "path": path, "auth": "none", "priority": "normal"}
    resp = console.post(url, data=data, headers={
        "X-CSRFToken": console.cookies["csrftoken"], "Referer": url, "HX-Request": "true",
    })
    assert resp.status_code == 200, resp.text[:2000]


def rows(stack, name: str, source: str) -> list[dict]:
    return stack.rows(
        f"Invocation.objects.filter(function__name='{name}', source='{source}')"
        ".values('status', 'attempts', 'created_at', 'queued_at', 'logs')"
    )


def test_a_function_that_is_not_active_holds_its_events(stack, lam, sqs):
    name = "eic-held"
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Timeout=10,
        Code={"ZipFile": zip_of({"app.py": PLAIN, "requirements.txt": "stratus-no-such-package-xyz\n"})},
    )
    # The real dependency build fails: Failed, which holds events as Pending does.
    wait_for(lambda: lam.get_function_configuration(FunctionName=name)["State"] == "Failed", timeout=240)
    add_route(stack, name, "/eic/held")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    q_url, q_arn = queue(sqs, "eic-held-in")
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=q_arn, BatchSize=1)
    sqs.send_message(QueueUrl=q_url, MessageBody="kept")
    sns = aws_client(stack, "sns")
    topic = sns.create_topic(Name="eic-held-news")["TopicArn"]
    fn_arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    sns.publish(TopicArn=topic, Message="waits")
    kinesis = aws_client(stack, "kinesis")
    kinesis.create_stream(StreamName="eic-held-stream", ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(
        StreamName="eic-held-stream")["StreamDescriptionSummary"]["StreamARN"]
    lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=1)
    kinesis.put_record(StreamName="eic-held-stream", Data=b"streamed", PartitionKey="k")

    routed = requests.get(f"{stack.url}/http/eic/held", timeout=60)
    assert routed.status_code == 503 and "state: Failed" in routed.json()["message"]
    assert routed.headers["Retry-After"]
    direct = requests.get(url, timeout=60)
    assert direct.status_code == 409 and "state: Failed" in direct.json()["Message"]
    # The SNS event is looked at and held (queued again, no attempt) ...
    held = wait_for(lambda: [r for r in rows(stack, name, "topic") if r["queued_at"] > r["created_at"]],
                    timeout=60)
    assert (held[0]["status"], held[0]["attempts"]) == ("queued", 0)
    # ... while the mapping leaves the message in the queue, never received.
    attrs = sqs.get_queue_attributes(QueueUrl=q_url, AttributeNames=["All"])["Attributes"]
    counts = (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"])
    assert counts == ("1", "0")
    assert rows(stack, name, "queue") == [] and rows(stack, name, "http") == []
    assert rows(stack, name, "kinesis") == []  # the shard is left unread

    lam.update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": PLAIN}))
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    ran = wait_for(lambda: [r for r in rows(stack, name, "topic") if r["status"] == "succeeded"], timeout=120)
    assert ran[0]["attempts"] == 1 and "waits" in ran[0]["logs"]
    batch = wait_for(
        lambda: [r for r in rows(stack, name, "queue") if r["status"] == "succeeded"], timeout=120)
    assert '"body": "kept"' in batch[0]["logs"]
    streamed = wait_for(
        lambda: [r for r in rows(stack, name, "kinesis") if r["status"] == "succeeded"], timeout=120)
    assert base64.b64encode(b"streamed").decode() in streamed[0]["logs"]
    wait_for(lambda: sqs.get_queue_attributes(
        QueueUrl=q_url, AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"] == "0", timeout=60)
    assert requests.get(f"{stack.url}/http/eic/held", timeout=60).text == "ran"
    assert requests.get(url, timeout=60).text == "ran"
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
