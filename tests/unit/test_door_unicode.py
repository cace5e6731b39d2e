"""Text that is not Unicode never reaches a service: a JSON string holding
an unpaired surrogate (the escape "\\ud800", or its UTF-8-like bytes
ED A0 80, which Python's json reads) or a query parameter with bytes that
are not UTF-8 is refused by the AWS front door's parser (one place,
awsapi.protocols.parser) in the protocol's words, naming the member, and
nothing is stored. Before, such a queue name reached SQLite and failed
there (UnicodeEncodeError, a 500: the flake of
test_fuzz_api.py::test_fuzz_every_sqs_operation[GetQueueUrl]).

One test per service on the door: SQS and DynamoDB (JSON 1.0), Kinesis
(JSON 1.1), SNS (query), Lambda (REST-JSON: its own input check answers
ValidationException for a modeled member; the door's parser
InvalidRequestContentException, Lambda's name for the rest).

Also here: a timestamp member no date can hold (found by
test_fuzz_api_streams.py) is the parser's SerializationException too."""

import base64
import json
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.models import ApiKey, Function
from kinesis import streams
from kinesis.models import Record
from mappings.models import EventSourceMapping
from messaging import queues
from messaging.models import Queue, QueueMessage, Topic
from tables.models import Item, Table
from tests.unit import asgi_client
from tests.unit.test_bad_input_answers import json_error, xml_error

LONE = "\ud800"
# JSON bodies may carry it escaped (json.dumps) or as raw bytes.
RAW_LONE = b"\xed\xa0\x80"


@pytest.fixture
def call(users, team):
    """call(signing service, headers, body bytes) -> Response from the
    production ASGI app, signed with a member's key."""
    team.account_id = "123456789012"
    team.save()
    key, secret = ApiKey.issue(users["member"], team)

    def send(service: str, headers: dict, body: bytes, path: str = "/", method: str = "POST"):
        request = AWSRequest(method=method, url=f"http://testserver{path}", data=body, headers=headers)
        SigV4Auth(Credentials(key.access_key_id, secret), service, "us-east-1").add_auth(request)
        return asgi_client.call(method, path, body, dict(request.headers.items()))

    return send


def _json(target: str, version: str = "1.0") -> dict:
    return {"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"}


@pytest.mark.parametrize("body", [
    json.dumps({"QueueName": LONE}).encode(),
    b'{"QueueName": "q' + RAW_LONE + b'"}',
])
def test_sqs_refuses_a_queue_name_that_is_no_unicode_text(call, team, body):
    answer = call("sqs", _json("AmazonSQS.GetQueueUrl"), body)
    status, code, message = json_error(answer)
    assert (status, code) == (400, "SerializationException")
    assert "'QueueName'" in message and "unpaired surrogate" in message
    assert not Queue.objects.exists()


def test_sqs_stores_no_message_with_a_lone_surrogate(call, team):
    queues.create_queue(team, "q")
    body = json.dumps({
        "QueueUrl": f"http://testserver/{team.account_id}/q", "MessageBody": "ok",
        "MessageAttributes": {"a": {"DataType": "String", "StringValue": "x" + LONE}},
    }).encode()
    status, code, message = json_error(call("sqs", _json("AmazonSQS.SendMessage"), body))
    assert (status, code) == (400, "SerializationException")
    assert "'MessageAttributes.a.StringValue'" in message
    assert not QueueMessage.objects.exists()


@pytest.mark.parametrize("name", ["%ED%A0%80", "%FF", "t%C3"])
def test_sns_refuses_a_parameter_that_is_not_utf8(call, name):
    body = f"Action=CreateTopic&Version=2010-03-31&Name={name}".encode()
    answer = call("sns", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body)
    status, code, message = xml_error(answer)
    assert (status, code) == (400, "InvalidParameter")
    assert "'Name'" in message and "not UTF-8" in message
    assert not Topic.objects.exists()


def test_sns_refuses_raw_bytes_that_are_not_utf8(call):
    # Before, decoding the form to find its Action failed: a 500.
    body = b"Action=CreateTopic&Version=2010-03-31&Name=t\xff\xfe"
    answer = call("sns", {"Content-Type": "application/x-www-form-urlencoded"}, body)
    status, code, _ = xml_error(answer)
    assert (status, code) == (400, "InvalidParameter")
    assert not Topic.objects.exists()


def test_sns_still_takes_text_that_is_utf8(call):
    body = urlencode({"Action": "CreateTopic", "Version": "2010-03-31", "Name": "t",
                      "Attributes.entry.1.key": "DisplayName",
                      "Attributes.entry.1.value": "é😀"}).encode()
    answer = call("sns", {"Content-Type": "application/x-www-form-urlencoded"}, body)
    assert answer.status_code == 200, answer.content
    assert Topic.objects.get().name == "t"
    assert "é😀" in call("sns", {"Content-Type": "application/x-www-form-urlencoded"}, urlencode({
        "Action": "GetTopicAttributes", "Version": "2010-03-31", "TopicArn": Topic.objects.get().arn,
    }).encode()).content.decode()


def _table(call):
    answer = call("dynamodb", _json("DynamoDB_20120810.CreateTable"), json.dumps({
        "TableName": "things", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    }).encode())
    assert answer.status_code == 200, answer.content


@pytest.mark.parametrize("item, where", [
    ({"id": {"S": "a"}, "v": {"S": LONE}}, "Item.v.S"),
    ({"id": {"S": "a"}, LONE: {"S": "x"}}, "Item."),
    ({"id": {"S": "a"}, "l": {"L": [{"N": "1"}, {"SS": ["x", "y" + LONE]}]}}, "Item.l.L.2.SS.2"),
])
def test_dynamodb_refuses_an_item_with_a_lone_surrogate(call, item, where):
    _table(call)
    body = json.dumps({"TableName": "things", "Item": item}).encode()
    status, code, message = json_error(call("dynamodb", _json("DynamoDB_20120810.PutItem"), body))
    assert (status, code) == (400, "SerializationException")
    assert f"'{where}" in message
    assert Table.objects.count() == 1 and not Item.objects.exists()


def test_dynamodb_still_takes_a_paired_surrogate(call):
    _table(call)
    body = json.dumps({"TableName": "things", "Item": {"id": {"S": "a"}, "v": {"S": "😀"}}}).encode()
    assert b"\\ud83d\\ude00" in body  # json.dumps escapes it as a surrogate pair
    answer = call("dynamodb", _json("DynamoDB_20120810.PutItem"), body)
    assert answer.status_code == 200, answer.content
    assert Item.objects.count() == 1


def test_dynamodb_streams_refuses_a_lone_surrogate(call):
    body = json.dumps({"StreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/" + LONE})
    answer = call("dynamodb", _json("DynamoDBStreams_20120810.DescribeStream"), body.encode())
    status, code, message = json_error(answer)
    assert (status, code) == (400, "SerializationException")
    assert "'StreamArn'" in message


def test_kinesis_refuses_a_partition_key_with_a_lone_surrogate(call, team):
    streams.create(team, "s", 1)
    body = json.dumps({
        "StreamName": "s", "PartitionKey": "k" + LONE, "Data": base64.b64encode(b"x").decode(),
    }).encode()
    status, code, message = json_error(call("kinesis", _json("Kinesis_20131202.PutRecord", "1.1"), body))
    assert (status, code) == (400, "SerializationException")
    assert "'PartitionKey'" in message
    assert not Record.objects.exists()


def lambda_error(response) -> tuple[int, str, str]:
    return response.status_code, response.headers["x-amzn-errortype"], response.json()["message"]


def test_lambda_refuses_a_lone_surrogate(call, make_function):
    make_function("target")
    headers = {"Content-Type": "application/json"}
    # A modeled member: Lambda's own input check, in its words.
    answer = call("lambda", headers, json.dumps({
        "FunctionName": "target", "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q" + LONE,
    }).encode(), "/2015-03-31/event-source-mappings/")
    status, code, message = lambda_error(answer)
    assert (status, code) == (400, "ValidationException")
    assert "'eventSourceArn'" in message
    # A member the model does not know is no way past the door's parser.
    answer = call("lambda", headers, json.dumps({"Description": "d", "Extra": LONE}).encode(),
                  "/2015-03-31/functions/target/configuration", "PUT")
    status, code, message = lambda_error(answer)
    assert (status, code) == (400, "InvalidRequestContentException")
    assert "'Extra'" in message
    assert Function.objects.get(name="target").description != "d"
    assert not EventSourceMapping.objects.exists()


@pytest.mark.parametrize("timestamp", [6.77680361916768e16, -1e300, 1e300, "9999999999999999999"])
def test_a_timestamp_no_date_can_hold_is_a_serialization_exception(call, timestamp):
    # botocore's parse_timestamp raised RuntimeError for these: a 500 before.
    body = json.dumps({
        "StreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x", "ShardId": "shardId-1",
        "ShardIteratorType": "AT_TIMESTAMP", "StreamName": "s", "Timestamp": timestamp,
    }).encode()
    answer = call("kinesis", _json("Kinesis_20131202.GetShardIterator", "1.1"), body)
    status, code, message = json_error(answer)
    assert (status, code) == (400, "SerializationException")
    assert "Invalid timestamp" in message
