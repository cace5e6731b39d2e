"""Bad input on the real path (uvicorn -> the AWS front door -> rows): a 400
in AWS's shape, never a 500. Requests a client SDK would refuse to write
are sent raw, SigV4-signed with botocore; the rest with boto3."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.helpers import aws_client

pytestmark = pytest.mark.integration


def boto(stack, service: str):
    return aws_client(stack, service)


def raw_sqs(stack, operation: str, body: dict) -> tuple[int, dict]:
    key, secret = stack.api_key()
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=stack.url + "/", data=data, headers={
        "X-Amz-Target": f"AmazonSQS.{operation}", "Content-Type": "application/x-amz-json-1.0",
    })
    SigV4Auth(Credentials(key, secret), "sqs", "us-east-1").add_auth(request)
    sent = urllib.request.Request(stack.url + "/", data=data, headers=dict(request.headers.items()),
                                  method="POST")
    try:
        with urllib.request.urlopen(sent, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_sqs_answers_nulls_and_wrong_types_with_400s(stack):
    sqs = boto(stack, "sqs")
    url = sqs.create_queue(QueueName="bad-input")["QueueUrl"]
    for operation, body in [
        ("SendMessage", {"QueueUrl": url, "MessageBody": "x", "MessageAttributes": {"a": None}}),
        ("SendMessageBatch", {"QueueUrl": url, "Entries": [None]}),
        ("SendMessage", {"QueueUrl": url, "MessageBody": ["x"]}),
    ]:
        status, error = raw_sqs(stack, operation, body)
        assert status == 400 and error["__type"].endswith("SerializationException"), error
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x",
                         MessageAttributes={"x": {"DataType": "Text", "StringValue": "1"}})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "supported type prefixes: Binary, Number, String" in e.value.response["Error"]["Message"]
    counted = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert counted["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_body_too_deep_for_a_body_policy_still_reaches_other_subscribers(stack):
    sns, sqs = boto(stack, "sns"), boto(stack, "sqs")
    topic = sns.create_topic(Name="deep-bodies")["TopicArn"]
    queues = {}
    for name in ("deep-filtered", "deep-everything"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[name] = url
        attributes = {"RawMessageDelivery": "true"}
        if name == "deep-filtered":
            attributes.update(FilterPolicyScope="MessageBody", FilterPolicy='{"a": {"exists": [true]}}')
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    body = "[" * 100_000 + "]" * 100_000
    assert sns.publish(TopicArn=topic, Message=body)["MessageId"]
    got = sqs.receive_message(QueueUrl=queues["deep-everything"], WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in got] == [body]
    assert "Messages" not in sqs.receive_message(QueueUrl=queues["deep-filtered"], WaitTimeSeconds=1)

    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={
            "FilterPolicyScope": "MessageBody", "FilterPolicy": '{"a":' * 5000 + '["x"]' + "}" * 5000,
        })
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
