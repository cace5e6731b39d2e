"""A restart of every process loses no object, message or subscription
(issue 8, "Done means"). On a stack of its own whose Redis keeps nothing
(no append-only file: it comes back empty, the worst case), boto3 makes a
bucket with objects (one put, one multipart upload completed, one still in
progress), a queue with messages (some in flight), and a topic with a
`lambda` and an `sqs` subscription; then every process (web, worker,
periodic worker, beat, Redis) is killed with SIGKILL at once and started
again, and everything is read back and used through boto3.

Run alone: `.venv/bin/pytest tests/integration/test_restart_keeps_all.py`."""

import hashlib
import json
import os

import pytest

from tests.integration.helpers import aws_client, create, running, wait_for
from tests.integration.test_messaging_real import logs_of
from tests.stack import Stack

pytestmark = pytest.mark.integration

MB = 1024 * 1024

PRINTER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
'''


@pytest.fixture(scope="module")
def stack():
    with running(Stack(redis_appendonly=False)) as s:
        yield s


def clients(stack) -> dict:
    """New boto3 clients (a client's pooled connections die with the web)."""
    key, secret = stack.api_key()
    made = {}
    for service in ("s3", "sqs", "sns"):
        extra = {"signature_version": "s3v4", "s3": {"addressing_style": "path"}} if service == "s3" else {}
        made[service] = aws_client(stack, service, key, secret, **extra)
    return made


def head(s3, key: str) -> dict:
    answer = s3.head_object(Bucket="keep", Key=key)
    return {k: answer[k] for k in ("ContentLength", "ETag", "ContentType", "Metadata", "LastModified")}


def listing(s3) -> list[tuple]:
    return [(o["Key"], o["Size"], o["ETag"], o["LastModified"])
            for o in s3.list_objects_v2(Bucket="keep")["Contents"]]


def subscriptions(sns, topic: str) -> dict[str, dict]:
    """Each subscription's attributes, by ARN."""
    keep = ("TopicArn", "Protocol", "Endpoint", "FilterPolicy", "RawMessageDelivery", "Owner")
    found = {}
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
        found[sub["SubscriptionArn"]] = {k: attributes.get(k) for k in keep}
    return found


def receive_all(sqs, url: str, count: int, timeout: float = 120) -> list[dict]:
    """Receive (and delete) until `count` distinct messages came."""
    got: dict[str, dict] = {}

    def enough():
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        )
        for m in answer.get("Messages", []):
            got.setdefault(m["MessageId"], m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= count

    wait_for(enough, timeout=timeout, interval=0)
    return list(got.values())


def published_messages(stack) -> list[str]:
    """The SNS messages the subscribed function ran for."""
    return [
        record["Sns"]["Message"]
        for row in logs_of(stack, "keeper") if row["status"] == "succeeded"
        for line in row["logs"].splitlines() if line.startswith("EVENT ")
        for record in json.loads(line[len("EVENT "):])["Records"]
    ]


def test_a_restart_of_every_process_loses_no_object_message_or_subscription(stack):
    c = clients(stack)
    s3, sqs, sns = c["s3"], c["sqs"], c["sns"]

    # Objects: a put, a completed multipart upload, one still in progress.
    s3.create_bucket(Bucket="keep")
    small, blob = b"hello, restart\n", os.urandom(300 * 1024)
    s3.put_object(Bucket="keep", Key="notes/small.txt", Body=small, ContentType="text/plain",
                  Metadata={"owner": "ops"})
    s3.put_object(Bucket="keep", Key="blob.bin", Body=blob)
    first, tail = os.urandom(5 * MB), os.urandom(1000)
    done_id = s3.create_multipart_upload(Bucket="keep", Key="done.bin")["UploadId"]
    done_parts = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket="keep", Key="done.bin", UploadId=done_id,
                                                 PartNumber=n, Body=data)["ETag"]}
        for n, data in ((1, first), (2, tail))
    ]
    s3.complete_multipart_upload(Bucket="keep", Key="done.bin", UploadId=done_id,
                                 MultipartUpload={"Parts": done_parts})
    open_id = s3.create_multipart_upload(Bucket="keep", Key="open.bin", ContentType="application/x-test")[
        "UploadId"]
    part_a, part_b = os.urandom(5 * MB), os.urandom(2000)
    s3.upload_part(Bucket="keep", Key="open.bin", UploadId=open_id, PartNumber=1, Body=part_a)
    expected = {"notes/small.txt": small, "blob.bin": blob, "done.bin": first + tail}
    heads = {key: head(s3, key) for key in expected}
    listed = listing(s3)
    parts = s3.list_parts(Bucket="keep", Key="open.bin", UploadId=open_id)["Parts"]

    # A queue with four messages.
    url = sqs.create_queue(QueueName="keep-q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sent = {}
    for n in range(4):
        attributes = {"n": {"DataType": "Number", "StringValue": str(n)},
                      "tag": {"DataType": "String.custom", "StringValue": f"t{n}"}}
        answer = sqs.send_message(QueueUrl=url, MessageBody=f"message {n}", MessageAttributes=attributes)
        sent[answer["MessageId"]] = (f"message {n}", attributes, answer)

    # A topic with a function and a queue subscribed; one publish delivered
    # before the restart, whose queue copy is left unread.
    fn_arn = create(stack.lambda_client(), "keeper", PRINTER, Timeout=10)["FunctionArn"]
    topic = sns.create_topic(Name="keep-t", Attributes={"DisplayName": "Keep"})["TopicArn"]
    inbox = sqs.create_queue(QueueName="keep-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={
        "RawMessageDelivery": "true", "FilterPolicy": json.dumps({"kind": ["keep"]}),
    })
    kind = {"kind": {"DataType": "String", "StringValue": "keep"}}
    sns.publish(TopicArn=topic, Message="before the restart", MessageAttributes=kind)
    wait_for(lambda: published_messages(stack) == ["before the restart"], timeout=90, interval=1)
    subscribed = subscriptions(sns, topic)
    assert sorted(s["Protocol"] for s in subscribed.values()) == ["lambda", "sqs"]

    # Two of them in flight when the processes die (received just before).
    in_flight: dict[str, dict] = {}

    def two_in_flight():
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2 - len(in_flight),
                                     VisibilityTimeout=20).get("Messages", []):
            in_flight[m["MessageId"]] = m
        return len(in_flight) == 2

    wait_for(two_in_flight, timeout=30)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    visible, hidden = (counts[f"ApproximateNumberOfMessages{s}"] for s in ("", "NotVisible"))
    assert (visible, hidden) == ("2", "2")

    pids = {name: proc.pid for name, proc in stack.procs.items()}
    stack.restart_all()
    assert set(stack.procs) == set(pids)
    assert all(stack.procs[name].pid != pid for name, pid in pids.items()), "a process was not restarted"

    c = clients(stack)
    s3, sqs, sns = c["s3"], c["sqs"], c["sns"]

    # Every object byte for byte, with its metadata; the open upload goes on.
    assert listing(s3) == listed
    for key, data in expected.items():
        assert head(s3, key) == heads[key]
        body = s3.get_object(Bucket="keep", Key=key)["Body"].read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest(), key
    assert s3.list_parts(Bucket="keep", Key="open.bin", UploadId=open_id)["Parts"] == parts
    last = s3.upload_part(Bucket="keep", Key="open.bin", UploadId=open_id, PartNumber=2, Body=part_b)["ETag"]
    s3.complete_multipart_upload(Bucket="keep", Key="open.bin", UploadId=open_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": parts[0]["ETag"]}, {"PartNumber": 2, "ETag": last}],
    })
    finished = s3.get_object(Bucket="keep", Key="open.bin")
    assert finished["ContentType"] == "application/x-test"
    assert hashlib.sha256(finished["Body"].read()).digest() == hashlib.sha256(part_a + part_b).digest()

    # Every message: the two in flight come back after their visibility
    # timeout, received a second time; the others once.
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert sum(int(counts[f"ApproximateNumberOfMessages{s}"]) for s in ("", "NotVisible")) == 4
    for m in receive_all(sqs, url, 4):
        body, attributes, answer = sent[m["MessageId"]]
        assert (m["Body"], m["MD5OfBody"]) == (body, answer["MD5OfMessageBody"])
        assert m["MessageAttributes"] == attributes
        assert m["MD5OfMessageAttributes"] == answer["MD5OfMessageAttributes"]
        assert m["Attributes"]["ApproximateReceiveCount"] == ("2" if m["MessageId"] in in_flight else "1")

    # Every subscription, with its attributes; a publish reaches both.
    assert topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "Keep"
    assert subscriptions(sns, topic) == subscribed
    sns.publish(TopicArn=topic, Message="after the restart", MessageAttributes=kind)
    both = ["after the restart", "before the restart"]
    wait_for(lambda: sorted(published_messages(stack)) == both, timeout=120, interval=1)
    assert sorted(m["Body"] for m in receive_all(sqs, inbox, 2)) == both
