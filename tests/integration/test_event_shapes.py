"""Stratus's S3 and SQS events against AWS's documented examples (issue 8,
"Each event shape is validated in tests against AWS's documented
examples"). Real events, produced through the real stack with boto3 (a
put into a notifying bucket, a message into a mapped queue), are compared
with the examples in tests/fixtures/aws_events (their sources are in the
README there) key for key and type for type, their values are checked
against what the requests answered, and they are parsed with AWS Lambda
Powertools' models (`S3Model`, `SqsModel`, `S3SqsEventNotificationModel`).
SNS's own event (`Records[].Sns`) is not checked here."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    S3Model,
    S3SqsEventNotificationModel,
    SqsModel,
)
from botocore.config import Config

from tests.integration.helpers import create, login, wait_for
from tests.integration.test_messaging_real import ids, logs_of, submit

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws_events"
MB = 1024 * 1024

PRINTER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
'''

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ETAG = re.compile(r"^[0-9a-f]{32}(-\d+)?$")
HEX = re.compile(r"^[0-9A-F]+$")
EPOCH_MS = re.compile(r"^\d{13}$")


def example(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def mismatches(actual, documented, path: str = "$", may_lack: frozenset = frozenset()) -> list[str]:
    """Where `actual` differs from `documented` in shape: a key missing
    (unless its path is in `may_lack`) or not documented, a value of
    another JSON type. A list's items are compared with the documented
    list's first item. Values themselves are not compared."""
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {type(actual).__name__}, documented an object"]
        found = []
        for key, value in documented.items():
            where = f"{path}.{key}"
            if key in actual:
                found += mismatches(actual[key], value, where, may_lack)
            elif where not in may_lack:
                found.append(f"{where}: missing")
        found += [f"{path}.{key}: not in the documented example" for key in actual if key not in documented]
        return found
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return [f"{path}: {type(actual).__name__}, documented a list"]
        found = []
        if documented:
            for item in actual:
                found += mismatches(item, documented[0], f"{path}[]", may_lack)
        return found
    if type(actual) is not type(documented):
        return [f"{path}: {type(actual).__name__} {actual!r}, documented {type(documented).__name__} "
                f"{documented!r}"]
    return []


def events_printed(stack, function: str, done, timeout: float = 120) -> list[dict]:
    """The events the function printed in its succeeded runs, once
    `done(events)` holds."""

    def ready():
        events = [
            json.loads(line[len("EVENT "):])
            for row in logs_of(stack, function) if row["status"] == "succeeded"
            for line in row["logs"].splitlines() if line.startswith("EVENT ")
        ]
        return events if done(events) else None

    return wait_for(ready, timeout=timeout, interval=1)


def record_count(events: list[dict]) -> int:
    return sum(len(e["Records"]) for e in events)


def boto(stack, service: str, **config):
    key, secret = stack.api_key()
    client = boto3.client(
        service, endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, read_timeout=60, **config),
    )
    return client, key


def s3_client(stack):
    return boto(stack, "s3", signature_version="s3v4", s3={"addressing_style": "path"})


# S3 ------------------------------------------------------------------------------

# Documented, but only in some events (tests/fixtures/aws_events/README.md).
NOT_VERSIONED = frozenset({"$.Records[].s3.object.versionId"})
REMOVED = NOT_VERSIONED | {"$.Records[].s3.object.size", "$.Records[].s3.object.eTag"}


def check_s3_record(record: dict, *, bucket: str, account: str, key_id: str, config_id: str) -> None:
    """The values of one record, beyond its shape: formats as S3 writes them."""
    assert (record["eventVersion"], record["eventSource"], record["awsRegion"]) == (
        "2.1", "aws:s3", "us-east-1")
    assert ISO_MS_Z.match(record["eventTime"]), record["eventTime"]
    assert record["userIdentity"] == {"principalId": f"AWS:{key_id}"}
    assert record["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    s3 = record["s3"]
    assert (s3["s3SchemaVersion"], s3["configurationId"]) == ("1.0", config_id)
    assert s3["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": account},
                            "arn": f"arn:aws:s3:::{bucket}"}
    assert HEX.match(s3["object"]["sequencer"]), s3["object"]["sequencer"]
    if "eTag" in s3["object"]:
        assert ETAG.match(s3["object"]["eTag"]), s3["object"]["eTag"]
        assert type(s3["object"]["size"]) is int


def matches_answer(record: dict, answer: dict) -> None:
    """The request ids are those S3 answered the request with (S3 user
    guide: "the same as those that Amazon S3 returns in the response")."""
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert record["responseElements"] == {
        "x-amz-request-id": answer["ResponseMetadata"]["RequestId"], "x-amz-id-2": headers["x-amz-id-2"],
    }


def sequence_value(sequencer: str, width: int = 32) -> str:
    # S3: right-pad the shorter with zeros, then compare as text.
    return sequencer.ljust(width, "0")


def test_s3_events_to_a_function_have_the_documented_shape(stack):
    s3, key_id = s3_client(stack)
    fn_arn = create(stack.lambda_client(), "s3shape", PRINTER, Timeout=10)["FunctionArn"]
    account = fn_arn.split(":")[4]
    s3.create_bucket(Bucket="shapes")
    s3.put_bucket_notification_configuration(Bucket="shapes", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "every-change", "LambdaFunctionArn": fn_arn,
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
        }],
    })
    # S3 URL-encodes the key form-style: a space is "+", "(" "%28", "+"
    # "%2B", "é" its UTF-8 bytes; "/" stays.
    key, encoded = "in/day 1 (copy)+é.csv", "in/day+1+%28copy%29%2B%C3%A9.csv"
    body = b"a,b\n1,2\n"
    before = datetime.now(UTC)
    put = s3.put_object(Bucket="shapes", Key=key, Body=body)
    copied = s3.copy_object(Bucket="shapes", Key="copy.csv", CopySource={"Bucket": "shapes", "Key": key})
    upload = s3.create_multipart_upload(Bucket="shapes", Key="big.bin")["UploadId"]
    parts = [b"x" * (5 * MB), b"tail"]
    etags = [
        s3.upload_part(Bucket="shapes", Key="big.bin", UploadId=upload, PartNumber=n, Body=data)["ETag"]
        for n, data in enumerate(parts, 1)
    ]
    completed = s3.complete_multipart_upload(
        Bucket="shapes", Key="big.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    deleted = s3.delete_object(Bucket="shapes", Key=key)
    after = datetime.now(UTC)

    events = events_printed(stack, "s3shape", lambda found: len(found) >= 4)
    documented = example("s3_put.json")
    by_name = {}
    for event in events:
        assert len(event["Records"]) == 1
        record = event["Records"][0]
        removed = record["eventName"].startswith("ObjectRemoved:")
        assert mismatches(event, documented, may_lack=REMOVED if removed else NOT_VERSIONED) == []
        check_s3_record(record, bucket="shapes", account=account, key_id=key_id, config_id="every-change")
        moment = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= moment <= after + timedelta(seconds=1)
        S3Model.model_validate(event)
        by_name[record["eventName"]] = record
    assert sorted(by_name) == [
        "ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Copy", "ObjectCreated:Put",
        "ObjectRemoved:Delete",
    ]

    put_record = by_name["ObjectCreated:Put"]
    matches_answer(put_record, put)
    assert put_record["s3"]["object"]["key"] == encoded and unquote_plus(encoded) == key
    assert put_record["s3"]["object"]["size"] == len(body)
    assert f'"{put_record["s3"]["object"]["eTag"]}"' == put["ETag"]

    copy_record = by_name["ObjectCreated:Copy"]
    matches_answer(copy_record, copied)
    assert copy_record["s3"]["object"]["key"] == "copy.csv"
    assert copy_record["s3"]["object"]["size"] == len(body)
    assert f'"{copy_record["s3"]["object"]["eTag"]}"' == copied["CopyObjectResult"]["ETag"]

    multipart = by_name["ObjectCreated:CompleteMultipartUpload"]
    matches_answer(multipart, completed)
    assert multipart["s3"]["object"]["size"] == sum(map(len, parts))
    assert f'"{multipart["s3"]["object"]["eTag"]}"' == completed["ETag"]
    assert multipart["s3"]["object"]["eTag"].endswith("-2")

    removed = by_name["ObjectRemoved:Delete"]
    matches_answer(removed, deleted)
    assert removed["s3"]["object"].keys() == {"key", "sequencer"}
    assert removed["s3"]["object"]["key"] == encoded
    # The later event of one key has the greater sequencer.
    assert sequence_value(removed["s3"]["object"]["sequencer"]) > sequence_value(
        put_record["s3"]["object"]["sequencer"])


def test_s3_events_to_a_queue_and_a_topic_have_the_documented_shape(stack):
    s3, key_id = s3_client(stack)
    sqs, _ = boto(stack, "sqs")
    sns, _ = boto(stack, "sns")
    direct = sqs.create_queue(QueueName="s3-direct")["QueueUrl"]
    inbox = sqs.create_queue(QueueName="s3-topic-inbox")["QueueUrl"]
    mapped = sqs.create_queue(QueueName="s3-mapped", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    arn = {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
           for url in (direct, inbox, mapped)}
    account = arn[direct].split(":")[4]
    topic = sns.create_topic(Name="s3-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn[inbox])
    create(stack.lambda_client(), "s3viasqs", PRINTER, Timeout=10)
    queue_id = stack.rows("Queue.objects.filter(name='s3-mapped').values_list('id', flat=True)")[0]
    submit(stack, login(stack), f"/queues/{queue_id}/mappings/", {
        "function": ids(stack, "s3viasqs")["id"], "batch_size": "10", "batching_window_s": "0",
        "priority": "normal",
    })

    s3.create_bucket(Bucket="shapes-fanout")
    s3.put_bucket_notification_configuration(Bucket="shapes-fanout", NotificationConfiguration={
        "QueueConfigurations": [
            {"Id": "to-queue", "QueueArn": arn[direct], "Events": ["s3:ObjectCreated:Put"]},
            {"Id": "to-mapped", "QueueArn": arn[mapped], "Events": ["s3:ObjectCreated:Put"]},
        ],
        "TopicConfigurations": [{"Id": "to-topic", "TopicArn": topic, "Events": ["s3:ObjectCreated:Put"]}],
    })
    put = s3.put_object(Bucket="shapes-fanout", Key="report 2026.txt", Body=b"hello")

    def receive(url: str, count: int) -> list[str]:
        got: list[str] = []

        def enough():
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in answer.get("Messages", []):
                got.append(m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return len(got) >= count

        wait_for(enough, timeout=60)
        return got

    def check_test_event(text: str) -> None:
        test_event = json.loads(text)
        assert mismatches(test_event, example("s3_test_event.json")) == []
        assert (test_event["Service"], test_event["Event"], test_event["Bucket"]) == (
            "Amazon S3", "s3:TestEvent", "shapes-fanout")
        assert ISO_MS_Z.match(test_event["Time"]), test_event["Time"]
        assert re.match(r"^[0-9A-F]{16}$", test_event["RequestId"]), test_event["RequestId"]

    def check_records(text: str, config_id: str) -> None:
        event = json.loads(text)
        assert mismatches(event, example("s3_put.json"), may_lack=NOT_VERSIONED) == []
        S3Model.model_validate(event)
        (record,) = event["Records"]
        check_s3_record(record, bucket="shapes-fanout", account=account, key_id=key_id, config_id=config_id)
        matches_answer(record, put)
        assert record["eventName"] == "ObjectCreated:Put"
        assert record["s3"]["object"]["key"] == "report+2026.txt"

    # A queue gets S3's test message when the configuration is saved, then
    # each event, as the message body.
    first, second = sorted(receive(direct, 2), key=lambda text: "Records" in json.loads(text))
    check_test_event(first)
    check_records(second, "to-queue")

    # A topic publishes the same texts as the message, subject "Amazon S3 Notification".
    envelopes = sorted((json.loads(text) for text in receive(inbox, 2)),
                       key=lambda envelope: "Records" in json.loads(envelope["Message"]))
    assert [e["Subject"] for e in envelopes] == ["Amazon S3 Notification"] * 2
    check_test_event(envelopes[0]["Message"])
    check_records(envelopes[1]["Message"], "to-topic")

    # Through a mapped queue, the function gets them as SQS records' bodies;
    # Powertools' S3-in-SQS model parses the event's record.
    events = events_printed(stack, "s3viasqs", lambda found: record_count(found) >= 2)
    SqsModel.model_validate({"Records": [r for e in events for r in e["Records"]]})
    notified = [r for e in events for r in e["Records"] if "Records" in json.loads(r["body"])]
    assert [json.loads(r["body"])["Event"] for e in events for r in e["Records"] if r not in notified] == [
        "s3:TestEvent"]
    S3SqsEventNotificationModel.model_validate({"Records": notified})
    check_records(notified[0]["body"], "to-mapped")


# SQS -----------------------------------------------------------------------------


def test_sqs_events_to_a_function_have_the_documented_shape(stack):
    sqs, key_id = boto(stack, "sqs")
    create(stack.lambda_client(), "sqsshape", PRINTER, Timeout=10)
    url = sqs.create_queue(QueueName="shapes-queue", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_id = stack.rows("Queue.objects.filter(name='shapes-queue').values_list('id', flat=True)")[0]
    submit(stack, login(stack), f"/queues/{queue_id}/mappings/", {
        "function": ids(stack, "sqsshape")["id"], "batch_size": "10", "batching_window_s": "2",
        "priority": "normal",
    })

    attributes = {
        "myAttribute": {"DataType": "String", "StringValue": "myValue"},
        "price": {"DataType": "Number.float", "StringValue": "9.5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01bin"},
        "label": {"DataType": "String.custom", "StringValue": "rush"},
    }
    plain = sqs.send_message(QueueUrl=url, MessageBody="test")
    rich = sqs.send_message(QueueUrl=url, MessageBody='{"order": 7}', MessageAttributes=attributes)

    events = events_printed(stack, "sqsshape", lambda found: record_count(found) >= 2)
    for event in events:
        SqsModel.model_validate(event)
    records = {r["messageId"]: r for e in events for r in e["Records"]}
    assert records.keys() == {plain["MessageId"], rich["MessageId"]}

    # Without attributes: the Lambda guide's example record.
    record = records[plain["MessageId"]]
    assert mismatches({"Records": [record]}, example("sqs_lambda_event.json")) == []
    assert (record["body"], record["messageAttributes"]) == ("test", {})
    assert record["md5OfBody"] == plain["MD5OfMessageBody"] == "098f6bcd4621d373cade4e832627b4f6"

    # With attributes: the record of AWS's Go library, each attribute
    # against its documented entry of the same type.
    documented = example("sqs_lambda_event_attributes.json")
    by_type = {a["dataType"]: a for a in documented["Records"][0]["messageAttributes"].values()}
    documented["Records"][0]["messageAttributes"] = {
        name: by_type[a["DataType"].split(".", 1)[0]] for name, a in attributes.items()
    }
    record = records[rich["MessageId"]]
    assert mismatches({"Records": [record]}, documented) == []
    assert record["md5OfBody"] == rich["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == rich["MD5OfMessageAttributes"]
    assert record["messageAttributes"] == {
        "myAttribute": {"stringValue": "myValue", "stringListValues": [], "binaryListValues": [],
                        "dataType": "String"},
        "price": {"stringValue": "9.5", "stringListValues": [], "binaryListValues": [],
                  "dataType": "Number.float"},
        "blob": {"binaryValue": base64.b64encode(b"\x00\x01bin").decode(), "stringListValues": [],
                 "binaryListValues": [], "dataType": "Binary"},
        "label": {"stringValue": "rush", "stringListValues": [], "binaryListValues": [],
                  "dataType": "String.custom"},
    }

    for record in records.values():
        assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
            "aws:sqs", queue_arn, "us-east-1")
        assert record["receiptHandle"] and isinstance(record["receiptHandle"], str)
        system = record["attributes"]
        assert system["ApproximateReceiveCount"] == "1"
        assert system["SenderId"] == key_id
        assert EPOCH_MS.match(system["SentTimestamp"])
        assert EPOCH_MS.match(system["ApproximateFirstReceiveTimestamp"])
        assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])
