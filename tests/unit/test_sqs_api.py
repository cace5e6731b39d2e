"""SQS through the AWS front door, driven by a real boto3 `sqs` client (JSON
protocol, SigV4): its requests go through the production ASGI application
(console.asgi -> awsapi.door) and its answers are parsed by botocore, so
shapes and errors are what SDK users meet."""

import json
import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from awsapi import door
from functions.models import ApiKey
from messaging import queues, sqs_api, sqs_wire
from messaging.models import Queue, QueueMessage
from tests.unit.aws_clients import boto_client


@pytest.fixture
def reader_sqs(reader_key):
    key, secret = reader_key
    return boto_client("sqs", key.access_key_id, secret)


@pytest.fixture
def stranger_sqs(stranger_key):
    key, secret = stranger_key
    return boto_client("sqs", key.access_key_id, secret)


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def bodies(sqs, url: str) -> list[str]:
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]


def url_of(team, name: str) -> str:
    return f"http://testserver/{team.account_id}/{name}"


# The door --------------------------------------------------------------------


def test_it_refuses_a_wrong_secret(users, team):
    key, _ = ApiKey.issue(users["member"], team)
    sqs = boto_client("sqs", key.access_key_id, "not-the-secret")
    with pytest.raises(ClientError) as e:
        sqs.list_queues()
    assert code_of(e) == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_it_refuses_an_unknown_key(db):
    sqs = boto_client("sqs", "AKIANOSUCHKEY0000000", "secret")
    with pytest.raises(ClientError) as e:
        sqs.list_queues()
    assert code_of(e) == "InvalidClientTokenId"


def test_it_answers_an_unknown_service_in_its_protocol(users, team):
    key, secret = ApiKey.issue(users["member"], team)
    sts = boto_client("sts", key.access_key_id, secret)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert code_of(e) == "InvalidAction"
    assert "sts" in e.value.response["Error"]["Message"]


def test_it_answers_an_operation_it_does_not_serve(sqs):
    with pytest.raises(ClientError) as e:
        sqs.list_queue_tags(QueueUrl="http://testserver/1/q")
    assert code_of(e) == "UnknownOperationException"


def test_it_refuses_writes_to_a_read_only_member(reader_sqs, team):
    queues.create_queue(team, "jobs")
    with pytest.raises(ClientError) as e:
        reader_sqs.send_message(QueueUrl=url_of(team, "jobs"), MessageBody="x")
    assert code_of(e) == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        reader_sqs.receive_message(QueueUrl=url_of(team, "jobs"))
    assert code_of(e) == "AccessDenied"
    assert QueueMessage.objects.count() == 0
    # Reads are allowed.
    assert reader_sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url_of(team, "jobs")


def _scope(path: str, authorization: str = "", query: bytes = b"") -> dict:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return {"type": "http", "path": path, "headers": headers, "query_string": query}


def test_it_takes_aws_signed_requests_and_lambdas_paths():
    def signed(service: str) -> str:
        return (f"AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/{service}/aws4_request, "
                "SignedHeaders=host, Signature=" + "0" * 64)

    assert door.matches(_scope("/", signed("sqs")))
    presigned = b"X-Amz-Credential=AKIA%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    assert door.matches(_scope("/", query=presigned))
    assert not door.matches(_scope("/"))
    assert not door.matches(_scope("/queues/", "Basic abc"))
    # Lambda's REST API is the door's too, signed or not (its own error shape).
    assert door.matches(_scope("/2015-03-31/functions/", signed("lambda")))
    assert door.matches(_scope("/2019-09-25/functions/f/event-invoke-config"))
    assert door.matches(_scope("/2015-03-31/functions/", signed("sqs")))
    # ... but not GetFunction's code URL, nor messaging's JSON API, which is
    # signed for lambda too: those stay with Django.
    assert not door.matches(_scope("/2015-03-31/stratus-code/token"))
    assert not door.matches(_scope("/api/queues/q/messages", signed("lambda")))


# Queues --------------------------------------------------------------------


def test_it_creates_a_queue_with_attributes(sqs, team):
    dlq_url = sqs.create_queue(QueueName="dead")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{team.account_id}:dead",
                         "maxReceiveCount": "3"})
    url = sqs.create_queue(QueueName="work", Attributes={
        "VisibilityTimeout": "45", "DelaySeconds": "5", "MessageRetentionPeriod": "3600",
        "ReceiveMessageWaitTimeSeconds": "2", "MaximumMessageSize": "2048", "RedrivePolicy": policy,
    })["QueueUrl"]
    assert dlq_url == url_of(team, "dead") and url == url_of(team, "work")
    queue = Queue.objects.get(name="work")
    assert (queue.visibility_timeout_s, queue.delay_s, queue.retention_s, queue.receive_wait_s,
            queue.max_message_bytes, queue.max_receive_count) == (45, 5, 3600, 2, 2048, 3)
    assert queue.dead_letter_queue.name == "dead"

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:{team.account_id}:work"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{team.account_id}:dead", "maxReceiveCount": 3,
    }
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert int(attributes["CreatedTimestamp"]) > 0


def test_it_creates_the_same_queue_twice_but_not_a_different_one(sqs, team):
    first = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    again = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    assert first == again
    with pytest.raises(sqs.exceptions.QueueNameExists) as e:
        sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "61"})
    assert code_of(e) == "QueueAlreadyExists"
    assert "VisibilityTimeout" in e.value.response["Error"]["Message"]
    assert Queue.objects.filter(name="jobs").count() == 1


@pytest.mark.parametrize("name", ["", "has space", "x" * 81, "dots.not.allowed"])
def test_it_refuses_bad_queue_names(sqs, name):
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name)
    assert code_of(e) in ("InvalidParameterValue", "MissingParameter")
    assert Queue.objects.count() == 0


@pytest.mark.parametrize("attributes, code", [
    ({"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
    ({"DelaySeconds": "-1"}, "InvalidAttributeValue"),
    ({"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"),
    ({"ReceiveMessageWaitTimeSeconds": "21"}, "InvalidAttributeValue"),
    ({"MaximumMessageSize": "abc"}, "InvalidAttributeValue"),
    ({"RedrivePolicy": "{not json"}, "InvalidAttributeValue"),
    ({"RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:nope",
                                   "maxReceiveCount": 3})}, "InvalidAttributeValue"),
    ({"Colour": "blue"}, "InvalidAttributeName"),
    ({"Policy": "{}"}, "InvalidAttributeName"),
])
def test_it_refuses_bad_attributes(sqs, attributes, code):
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="jobs", Attributes=attributes)
    assert code_of(e) == code
    assert Queue.objects.count() == 0


def test_it_gets_a_queue_url(sqs, team):
    queues.create_queue(team, "jobs")
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url_of(team, "jobs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName="nope")
    assert code_of(e) == "AWS.SimpleQueueService.NonExistentQueue"
    assert e.value.response["Error"]["Message"] == "The specified queue does not exist."
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="jobs", QueueOwnerAWSAccountId="999999999999")


def test_it_keeps_teams_apart(sqs, stranger_sqs, team):
    queues.create_queue(team, "jobs")
    assert "QueueUrls" not in stranger_sqs.list_queues()
    with pytest.raises(stranger_sqs.exceptions.QueueDoesNotExist):
        stranger_sqs.send_message(QueueUrl=url_of(team, "jobs"), MessageBody="x")
    assert QueueMessage.objects.count() == 0


def test_it_lists_queues_by_prefix_and_pages(sqs, team):
    for name in ["alpha-1", "alpha-2", "alpha-3", "beta"]:
        queues.create_queue(team, name)
    assert sqs.list_queues()["QueueUrls"] == [
        url_of(team, n) for n in ["alpha-1", "alpha-2", "alpha-3", "beta"]
    ]
    assert sqs.list_queues(QueueNamePrefix="alpha")["QueueUrls"] == [
        url_of(team, n) for n in ["alpha-1", "alpha-2", "alpha-3"]
    ]
    first = sqs.list_queues(QueueNamePrefix="alpha", MaxResults=2)
    assert first["QueueUrls"] == [url_of(team, "alpha-1"), url_of(team, "alpha-2")]
    second = sqs.list_queues(QueueNamePrefix="alpha", MaxResults=2, NextToken=first["NextToken"])
    assert second["QueueUrls"] == [url_of(team, "alpha-3")] and "NextToken" not in second
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zeta")
    with pytest.raises(ClientError) as e:
        sqs.list_queues(MaxResults=1001)
    assert code_of(e) == "InvalidParameterValue"


def test_it_lists_the_queues_that_redrive_to_a_dead_letter_queue(sqs, team):
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})
    for name in ("b-work", "a-work"):
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})
    sqs.create_queue(QueueName="plain")
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [
        url_of(team, "a-work"), url_of(team, "b-work")]
    first = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=1)
    assert first["queueUrls"] == [url_of(team, "a-work")]
    second = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=1, NextToken=first["NextToken"])
    assert second["queueUrls"] == [url_of(team, "b-work")] and "NextToken" not in second
    assert sqs.list_dead_letter_source_queues(QueueUrl=url_of(team, "plain"))["queueUrls"] == []
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.list_dead_letter_source_queues(QueueUrl=url_of(team, "missing"))


def test_it_deletes_a_queue(sqs, team):
    queue = queues.create_queue(team, "jobs")
    queues.send(queue, "hello")
    sqs.delete_queue(QueueUrl=url_of(team, "jobs"))
    assert not Queue.objects.exists() and not QueueMessage.objects.exists()
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.delete_queue(QueueUrl=url_of(team, "jobs"))


def test_it_purges_once_a_minute(sqs, team):
    queue = queues.create_queue(team, "jobs")
    queues.send(queue, "one")
    queues.send(queue, "two")
    sqs.purge_queue(QueueUrl=url_of(team, "jobs"))
    assert not QueueMessage.objects.exists()
    queues.send(queue, "three")
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as e:
        sqs.purge_queue(QueueUrl=url_of(team, "jobs"))
    assert code_of(e) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert QueueMessage.objects.count() == 1
    Queue.objects.filter(pk=queue.pk).update(purged_at=timezone.now() - timedelta(seconds=61))
    sqs.purge_queue(QueueUrl=url_of(team, "jobs"))
    assert not QueueMessage.objects.exists()


def test_it_sets_queue_attributes(sqs, team):
    queues.create_queue(team, "dead")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{team.account_id}:dead",
                         "maxReceiveCount": 2})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "90", "RedrivePolicy": policy})
    queue = Queue.objects.get(name="jobs")
    assert queue.visibility_timeout_s == 90
    assert (queue.dead_letter_queue.name, queue.max_receive_count) == ("dead", 2)
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"])
    assert set(got["Attributes"]) == {"VisibilityTimeout", "RedrivePolicy"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    assert Queue.objects.get(name="jobs").dead_letter_queue is None
    assert "RedrivePolicy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5", "DelaySeconds": "901"})
    assert code_of(e) == "InvalidAttributeValue"
    assert Queue.objects.get(name="jobs").visibility_timeout_s == 90
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])
    assert code_of(e) == "InvalidAttributeName"


def test_it_refuses_a_visibility_timeout_shorter_than_a_reading_function(sqs, team, make_function):
    queue = queues.create_queue(team, "jobs", visibility_timeout_s=60)
    queues.add_mapping(queue, make_function(timeout_s=30))
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url_of(team, "jobs"), Attributes={"VisibilityTimeout": "10"})
    assert code_of(e) == "InvalidAttributeValue"
    assert "hello" in e.value.response["Error"]["Message"]
    assert Queue.objects.get(pk=queue.pk).visibility_timeout_s == 60


# Messages --------------------------------------------------------------------


def test_it_computes_attribute_digests_as_sqs_does():
    # The vector AWS returned in moto's and LocalStack's test suites.
    attributes = {"timestamp": {"DataType": "Number", "StringValue": "1493147359900"}}
    assert sqs_wire.md5_of_attributes(attributes) == "235c5c510d26fb653d073faed50ae77c"
    assert sqs_wire.md5_of_body("derp") == "58fd9edd83341c29f1aebba81c31e257"


def test_it_sends_and_receives_with_attributes_and_labels(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    attributes = {
        "price": {"DataType": "Number.float", "StringValue": "1.5"},
        "who": {"DataType": "String", "StringValue": "ann"},
        "blob": {"DataType": "Binary.gz", "BinaryValue": b"\x00\x01\xff"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == sqs_wire.md5_of_body("hello")
    assert sent["MD5OfMessageAttributes"] == sqs_wire.md5_of_attributes(attributes)
    stored = QueueMessage.objects.get()
    assert stored.attributes["price"] == {"Type": "Number.float", "Value": "1.5"}
    assert stored.sender_id

    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])
    (msg,) = got["Messages"]
    assert msg["MessageId"] == sent["MessageId"] and msg["Body"] == "hello"
    assert msg["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert msg["MessageAttributes"] == attributes
    assert msg["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"
    assert set(msg["Attributes"]) >= {"SenderId", "SentTimestamp", "ApproximateFirstReceiveTimestamp"}
    assert msg["ReceiptHandle"]


def test_it_returns_only_the_attributes_asked_for(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
        "a.one": {"DataType": "String", "StringValue": "1"},
        "a.two": {"DataType": "String", "StringValue": "2"},
        "b": {"DataType": "String", "StringValue": "3"},
    })
    (msg,) = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["a.*"], MessageSystemAttributeNames=["SentTimestamp"],
    )["Messages"]
    assert set(msg["MessageAttributes"]) == {"a.one", "a.two"}
    assert msg["MD5OfMessageAttributes"] == sqs_wire.md5_of_attributes(msg["MessageAttributes"])
    assert set(msg["Attributes"]) == {"SentTimestamp"}
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    (again,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "MessageAttributes" not in again and "Attributes" not in again


@pytest.mark.parametrize("kwargs, code", [
    ({"MessageBody": ""}, "MissingParameter"),
    ({"MessageBody": "bad \x01 char"}, "InvalidMessageContents"),
    ({"MessageBody": "x", "DelaySeconds": 901}, "InvalidParameterValue"),
    ({"MessageBody": "x" * (256 * 1024 + 1)}, "InvalidParameterValue"),
    ({"MessageBody": "x", "MessageGroupId": "g"}, "InvalidParameterValue"),
    ({"MessageBody": "x", "MessageAttributes": {"a": {"DataType": "Number", "StringValue": "many"}}},
     "InvalidParameterValue"),
    ({"MessageBody": "x", "MessageAttributes": {"a": {"DataType": "Text", "StringValue": "v"}}},
     "InvalidParameterValue"),
    ({"MessageBody": "x", "MessageAttributes": {"a": {"DataType": "String"}}}, "InvalidParameterValue"),
])
def test_it_refuses_bad_messages(sqs, team, kwargs, code):
    queues.create_queue(team, "jobs")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url_of(team, "jobs"), **kwargs)
    assert code_of(e) == code
    assert QueueMessage.objects.count() == 0


def test_it_sends_to_a_missing_queue_as_sqs_says(sqs, team):
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.send_message(QueueUrl=url_of(team, "nope"), MessageBody="x")
    assert e.value.response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"


def test_it_delays_by_the_queue_default_or_the_message(sqs, team):
    url = sqs.create_queue(QueueName="jobs", Attributes={"DelaySeconds": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="late")
    sqs.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
    assert bodies(sqs, url) == ["now"]
    counted = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counted["ApproximateNumberOfMessagesDelayed"] == "1"
    assert counted["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_it_receives_up_to_max_with_a_visibility_timeout(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    for n in range(12):
        queues.send(Queue.objects.get(name="jobs"), f"m{n}")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120)["Messages"]
    assert len(got) == 10
    hidden = QueueMessage.objects.filter(receive_count=1).values_list("visible_at", flat=True)
    assert all(v > timezone.now() + timedelta(seconds=100) for v in hidden)
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 2
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    for bad in [{"MaxNumberOfMessages": 11}, {"MaxNumberOfMessages": 0}, {"WaitTimeSeconds": 21},
                {"VisibilityTimeout": 43201}]:
        with pytest.raises(ClientError) as e:
            sqs.receive_message(QueueUrl=url, **bad)
        assert code_of(e) == "InvalidParameterValue"


def test_it_long_polls_until_a_message_is_visible(sqs, team, monkeypatch):
    monkeypatch.setattr(sqs_api, "LONG_POLL_INTERVAL_S", 0.05)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert 0.9 < time.monotonic() - started < 3
    # Visible a moment after the receive began: the waiting receive gets it.
    queues.send(Queue.objects.get(name="jobs"), "soon", now=timezone.now() - timedelta(seconds=0.5),
                delay_s=1)
    started = time.monotonic()
    (msg,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert msg["Body"] == "soon" and time.monotonic() - started < 3


def test_it_moves_a_message_to_the_dead_letter_queue_after_max_receives(sqs, team):
    queues.create_queue(team, "dead")
    policy = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{team.account_id}:dead",
                         "maxReceiveCount": 1})
    url = sqs.create_queue(QueueName="jobs", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    (first,) = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    (dead,) = sqs.receive_message(QueueUrl=url_of(team, "dead"), AttributeNames=["All"])["Messages"]
    assert dead["Body"] == "poison"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"].endswith(":jobs")


def test_it_deletes_a_message_by_its_latest_receipt_only(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    (old,) = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"], VisibilityTimeout=0)
    (new,) = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])
    assert QueueMessage.objects.count() == 1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])
    assert QueueMessage.objects.count() == 0
    # Deleting again is not an error, as in SQS.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="nonsense")
    assert code_of(e) == "ReceiptHandleIsInvalid"


def test_it_changes_visibility_of_messages_in_flight_only(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    (msg,) = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=600)
    assert QueueMessage.objects.get().visible_at > timezone.now() + timedelta(seconds=590)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=5)
    assert code_of(e) == "InvalidParameterValue"
    assert "not available for visibility timeout change" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=43201
        )
    assert code_of(e) == "InvalidParameterValue"


# Batches --------------------------------------------------------------------


def test_it_sends_a_batch_with_per_entry_failures(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"},
        {"Id": "b", "MessageBody": "two", "MessageAttributes": {
            "n": {"DataType": "Number.int", "StringValue": "2"}}},
        {"Id": "c", "MessageBody": "three", "DelaySeconds": 901},
    ])
    assert [s["Id"] for s in result["Successful"]] == ["a", "b"]
    assert result["Successful"][1]["MD5OfMessageAttributes"] == sqs_wire.md5_of_attributes(
        {"n": {"DataType": "Number.int", "StringValue": "2"}}
    )
    assert result["Failed"] == [{
        "Id": "c", "SenderFault": True, "Code": "InvalidParameterValue",
        "Message": result["Failed"][0]["Message"],
    }]
    assert sorted(QueueMessage.objects.values_list("body", flat=True)) == ["one", "two"]


@pytest.mark.parametrize("entries, code", [
    ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
    ([{"Id": str(n), "MessageBody": "x"} for n in range(11)],
     "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
    ([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}],
     "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
    ([{"Id": "no spaces", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
    ([{"Id": "a", "MessageBody": "x" * 200_000}, {"Id": "b", "MessageBody": "y" * 100_000}],
     "AWS.SimpleQueueService.BatchRequestTooLong"),
])
def test_it_refuses_bad_batches_whole(sqs, team, entries, code):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert code_of(e) == code
    assert QueueMessage.objects.count() == 0


def test_it_deletes_and_changes_visibility_in_batches(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"m{n}", "MessageBody": f"m{n}"} for n in range(3)])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 3
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "y", "ReceiptHandle": "bogus", "VisibilityTimeout": 0},
    ])
    assert [s["Id"] for s in changed["Successful"]] == ["x"]
    assert changed["Failed"][0]["Id"] == "y" and changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "p", "ReceiptHandle": got[1]["ReceiptHandle"]},
        {"Id": "q", "ReceiptHandle": got[2]["ReceiptHandle"]},
        {"Id": "r", "ReceiptHandle": "bogus"},
    ])
    assert [s["Id"] for s in deleted["Successful"]] == ["p", "q"]
    assert [f["Id"] for f in deleted["Failed"]] == ["r"]
    assert list(QueueMessage.objects.values_list("body", flat=True)) == [got[0]["Body"]]


def test_it_keeps_messages_for_the_retention_period_only(sqs, team):
    url = sqs.create_queue(QueueName="jobs", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    queues.send(Queue.objects.get(name="jobs"), "old", now=timezone.now() - timedelta(seconds=61))
    sqs.send_message(QueueUrl=url, MessageBody="new")
    assert bodies(sqs, url) == ["new"]
    assert list(QueueMessage.objects.values_list("body", flat=True)) == ["new"]


def test_receipt_handles_never_look_like_a_cli_option(monkeypatch):
    # `aws sqs delete-message --receipt-handle -abc...` fails to parse.
    made = iter(["-" + "x" * 63, "y" * 64])
    monkeypatch.setattr(queues.secrets, "token_urlsafe", lambda n: next(made))
    first, second = queues.new_receipt(), queues.new_receipt()
    assert (first, second) == ("A" + "x" * 63, "y" * 64)
    assert sqs_api.RECEIPT_RE.fullmatch(first)
