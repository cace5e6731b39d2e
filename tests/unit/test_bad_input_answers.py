"""Bad input to the SQS and SNS doors is a 400 in AWS's shape that says
what was wrong, never a 500: nulls and wrong JSON types where botocore's
model expects a structure, list, map or scalar (SerializationException,
as AWS's JSON services answer), query entries without their Name or with a
gap in their numbering (SNS: InvalidParameter), an unknown message
attribute type (SQS's words), and message bodies too deeply nested to read
(they match no MessageBody-scoped filter policy; other subscriptions still
get them). Requests go through the production ASGI app, raw (a client SDK
would refuse to send most of them) or through boto3."""

import json
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.models import ApiKey
from messaging import filter_policy, queues, topics
from messaging.models import QueueMessage, Subscription, TopicMessage
from tests.unit import asgi_client
from tests.unit.test_sns_api import fail, message_of, status_of
from tests.unit.aws_clients import boto_client
from tests.unit.test_sqs_api import code_of

DEEP_LIST = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000


def signed_call(service: str, akid: str, secret: str, body: bytes, headers: dict, path: str = "/"):
    """One SigV4-signed POST to the production ASGI app (the AWS front door)."""
    request = AWSRequest(method="POST", url=f"http://testserver{path}", data=body, headers=headers)
    SigV4Auth(Credentials(akid, secret), service, "us-east-1").add_auth(request)
    return asgi_client.call("POST", path, body, dict(request.headers.items()))


@pytest.fixture
def keys(users, team):
    return ApiKey.issue(users["member"], team)


@pytest.fixture
def sqs_json(keys):
    """call(operation, body dict or bytes) -> Response, SQS's JSON protocol."""
    key, secret = keys

    def call(operation: str, body):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return signed_call("sqs", key.access_key_id, secret, raw, {
            "X-Amz-Target": f"AmazonSQS.{operation}", "Content-Type": "application/x-amz-json-1.0",
        })

    return call


@pytest.fixture
def sns_query(keys):
    """call(form pairs) -> Response, SNS's query protocol."""
    key, secret = keys

    def call(pairs: list[tuple[str, str]]):
        body = urlencode([("Version", "2010-03-31"), *pairs]).encode()
        return signed_call("sns", key.access_key_id, secret, body, {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        })

    return call


@pytest.fixture
def sns(keys):
    key, secret = keys
    return boto_client("sns", key.access_key_id, secret)


@pytest.fixture
def sqs(keys):
    key, secret = keys
    return boto_client("sqs", key.access_key_id, secret)


def json_error(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["__type"].rpartition("#")[2], body["message"]


def xml_error(response) -> tuple[int, str, str]:
    text = response.content.decode()
    code = text.split("<Code>")[1].split("</Code>")[0]
    message = text.split("<Message>")[1].split("</Message>")[0]
    return response.status_code, code, message


# SQS (JSON protocol) ----------------------------------------------------------


@pytest.mark.parametrize("operation, extra, words", [
    ("SendMessage", {"MessageBody": "x", "MessageAttributes": {"a": None}},
     "Null value found where not expected: 'MessageAttributes.a' must be an object"),
    ("SendMessageBatch", {"Entries": [None]},
     "Null value found where not expected: 'Entries.1' must be an object"),
    ("SendMessage", {"MessageBody": ["x"]},
     "Start of list found where not expected: 'MessageBody' must be a string"),
    ("SendMessage", {"MessageBody": {"a": 1}},
     "Start of structure or map found where not expected: 'MessageBody' must be a string"),
    ("SendMessage", {"MessageBody": "x", "DelaySeconds": "soon"}, "Invalid number"),
    ("SendMessage", {"MessageBody": "x", "DelaySeconds": 2**40},
     "Number value out of range: 'DelaySeconds'"),
    ("SendMessageBatch", {"Entries": {"Id": "1"}},
     "Start of structure or map found where not expected: 'Entries' must be an array"),
    ("DeleteMessageBatch", {"Entries": [{"Id": "1", "ReceiptHandle": 5}]},
     "Number value found where not expected: 'Entries.1.ReceiptHandle' must be a string"),
    ("ReceiveMessage", {"MaxNumberOfMessages": [1]}, "Start of list found where not expected"),
])
def test_sqs_answers_wrong_json_types_with_a_serialization_exception(
    sqs_json, team, operation, extra, words
):
    queue = queues.create_queue(team, "q")
    url = f"http://testserver/{team.account_id}/q"
    status, code, message = json_error(sqs_json(operation, {"QueueUrl": url, **extra}))
    assert (status, code) == (400, "SerializationException"), message
    assert words in message
    assert not QueueMessage.objects.filter(queue=queue).exists()


@pytest.mark.parametrize("raw", [b"null", b"[]", b'"x"', b"[" * 5000 + b"]" * 5000, b'{"QueueUrl": 1e999}'])
def test_sqs_answers_bodies_that_are_no_request_object(sqs_json, raw):
    status, code, _ = json_error(sqs_json("SendMessage", raw))
    assert (status, code) == (400, "SerializationException")


def test_sqs_names_an_unknown_attribute_type_in_its_own_words(sqs, team):
    queue = queues.create_queue(team, "q")
    e = fail(sqs.send_message, QueueUrl=f"http://testserver/{team.account_id}/q", MessageBody="x",
             MessageAttributes={"x": {"DataType": "Text", "StringValue": "1"}})
    assert code_of(e) == "InvalidParameterValue" and status_of(e) == 400
    assert message_of(e) == (
        "The type of message (user) attribute 'x' is invalid. You must use only the following "
        "supported type prefixes: Binary, Number, String."
    )
    assert not QueueMessage.objects.filter(queue=queue).exists()


# SNS (query protocol) ----------------------------------------------------------


def test_sns_refuses_a_message_attribute_without_its_name(sns_query, team, sqs):
    topic = topics.create_topic(team, "t")
    answer = sns_query([
        ("Action", "Publish"), ("TopicArn", topic.arn), ("Message", "hi"),
        ("MessageAttributes.entry.1.Value.DataType", "String"),
        ("MessageAttributes.entry.1.Value.StringValue", "v"),
    ])
    status, code, message = xml_error(answer)
    assert (status, code) == (400, "InvalidParameter")
    assert "MessageAttributes.entry.1.Name" in message
    assert not TopicMessage.objects.exists()


def test_sns_refuses_a_gap_in_the_entry_numbers(sns_query, team):
    topic = topics.create_topic(team, "t")
    answer = sns_query([
        ("Action", "Publish"), ("TopicArn", topic.arn), ("Message", "hi"),
        ("MessageAttributes.entry.1.Name", "a"),
        ("MessageAttributes.entry.1.Value.DataType", "String"),
        ("MessageAttributes.entry.1.Value.StringValue", "v"),
        ("MessageAttributes.entry.3.Name", "b"),
        ("MessageAttributes.entry.3.Value.DataType", "String"),
        ("MessageAttributes.entry.3.Value.StringValue", "w"),
    ])
    status, code, message = xml_error(answer)
    assert (status, code) == (400, "InvalidParameter")
    assert "MessageAttributes.entry.2 is missing" in message
    assert not TopicMessage.objects.exists()


def test_sns_still_reads_well_numbered_entries(sns_query, team):
    topic = topics.create_topic(team, "t")
    answer = sns_query([
        ("Action", "Publish"), ("TopicArn", topic.arn), ("Message", "hi"),
        ("MessageAttributes.entry.2.Name", "b"),
        ("MessageAttributes.entry.2.Value.DataType", "Number"),
        ("MessageAttributes.entry.2.Value.StringValue", "2"),
        ("MessageAttributes.entry.1.Name", "a"),
        ("MessageAttributes.entry.1.Value.DataType", "String"),
        ("MessageAttributes.entry.1.Value.StringValue", "v"),
    ])
    assert answer.status_code == 200, answer.content
    assert set(TopicMessage.objects.get().attributes) == {"a", "b"}


def test_a_pending_http_subscription_is_not_said_to_be_authenticated(sns, team):
    topic = topics.create_topic(team, "t")
    sns.subscribe(TopicArn=topic.arn, Protocol="http", Endpoint="http://127.0.0.1:9/hook")
    sub = Subscription.objects.get(topic=topic)
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub.arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "true"
    assert attributes["ConfirmationWasAuthenticated"] == "false"


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT])
def test_a_body_too_deep_to_read_matches_no_body_policy_and_others_still_get_it(sns, team, body):
    topic = topics.create_topic(team, "t")
    filtered = queues.create_queue(team, "filtered")
    everything = queues.create_queue(team, "everything")
    sns.subscribe(TopicArn=topic.arn, Protocol="sqs", Endpoint=filtered.arn, Attributes={
        "FilterPolicyScope": "MessageBody", "FilterPolicy": '{"a": {"exists": [true]}}',
        "RawMessageDelivery": "true",
    })
    sns.subscribe(TopicArn=topic.arn, Protocol="sqs", Endpoint=everything.arn,
                  Attributes={"RawMessageDelivery": "true"})
    assert sns.publish(TopicArn=topic.arn, Message=body)["MessageId"]
    assert list(QueueMessage.objects.filter(queue=everything).values_list("body", flat=True)) == [body]
    assert not QueueMessage.objects.filter(queue=filtered).exists()


def test_a_string_array_attribute_too_deep_to_read_is_refused(sns, team):
    topic = topics.create_topic(team, "t")
    e = fail(sns.publish, TopicArn=topic.arn, Message="x", MessageAttributes={
        "a": {"DataType": "String.Array", "StringValue": DEEP_LIST},
    })
    assert status_of(e) == 400 and "String.Array" in message_of(e)


# Filter policies ---------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ('{"a":' * 5000 + '["x"]' + "}" * 5000, "nested too deeply"),
    ('{"a": ["' + "x" * (256 * 1024) + '"]}', "too large"),
    # 2**20 alternatives: refused before they are all built.
    (json.dumps({f"k{i}": {"$or": [{"a": ["1"]}, {"b": ["2"]}]} for i in range(20)}), "too complex"),
])
def test_over_complex_policies_are_refused(text, words):
    with pytest.raises(filter_policy.FilterPolicyError) as e:
        filter_policy.parse(text, filter_policy.BODY)
    assert words in e.value.message


def test_the_api_refuses_an_over_deep_policy_with_invalid_parameter(sns, team):
    topic = topics.create_topic(team, "t")
    queue = queues.create_queue(team, "q")
    e = fail(sns.subscribe, TopicArn=topic.arn, Protocol="sqs", Endpoint=queue.arn, Attributes={
        "FilterPolicyScope": "MessageBody", "FilterPolicy": '{"a":' * 5000 + '["x"]' + "}" * 5000,
    })
    assert code_of(e) == "InvalidParameter" and "nested too deeply" in message_of(e)
    assert not Subscription.objects.exists()


def test_a_policy_within_the_limits_still_matches():
    policy = filter_policy.parse('{"a": {"b": ["x", "y"]}}', filter_policy.BODY)
    assert filter_policy.matches(policy, {}, '{"a": {"b": "y"}}', filter_policy.BODY)
    assert not filter_policy.matches(policy, {}, DEEP_OBJECT, filter_policy.BODY)


# S3 (REST-XML) -------------------------------------------------------------------


def test_a_string_payload_that_is_not_utf8_is_malformed_xml_not_a_failure(keys):
    # Found by the S3 fuzz test: PutBucketPolicy's payload is a string member.
    from botocore.auth import S3SigV4Auth

    key, secret = keys
    request = AWSRequest(method="PUT", url="http://testserver/fuzz?policy", data=b"\x80\xbb")
    S3SigV4Auth(Credentials(key.access_key_id, secret), "s3", "us-east-1").add_auth(request)
    response = asgi_client.call("PUT", "/fuzz?policy", b"\x80\xbb", dict(request.headers.items()))
    status, code, _ = xml_error(response)
    assert (status, code) == (400, "MalformedXML")
