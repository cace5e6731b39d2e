"""FIFO queues and topics on the real path: boto3's `sqs` and `sns` clients
-> uvicorn -> the AWS front door -> rows; a FIFO queue mapped to a function
-> beat's queue poller -> Celery -> Docker."""

import hashlib
import json
import uuid

import pytest

from tests.integration.helpers import aws_client, create, login, wait_for
from tests.integration.test_messaging_real import ids, logs_of, submit

pytestmark = pytest.mark.integration

PRINTER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
'''


def boto(stack, service: str):
    return aws_client(stack, service)


@pytest.fixture(scope="module")
def sqs(stack):
    return boto(stack, "sqs")


@pytest.fixture(scope="module")
def sns(stack):
    return boto(stack, "sns")


def arn_of(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive(sqs, url: str, n: int = 10) -> list[dict]:
    # A new attempt id for each receive: the same one within 5 minutes is a
    # retry and gets the same messages again, as in SQS.
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=n, AttributeNames=["All"],
        ReceiveRequestAttemptId=f"try-{uuid.uuid4()}",
    ).get("Messages", [])


def test_a_group_goes_out_in_order_and_waits_while_one_is_in_flight(sqs):
    url = sqs.create_queue(QueueName="ordered.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "60",
    })["QueueUrl"]
    sent = {}
    for body, group in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A")):
        sent[body] = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                                      MessageDeduplicationId=body)
    numbers = [int(sent[b]["SequenceNumber"]) for b in ("a1", "a2", "b1", "a3")]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4

    (first,) = receive(sqs, url, 1)
    assert first["Body"] == "a1" and first["Attributes"]["MessageGroupId"] == "A"
    assert first["Attributes"]["SequenceNumber"] == sent["a1"]["SequenceNumber"]
    # a1 is in flight: group A gives nothing, group B still does.
    assert [m["Body"] for m in receive(sqs, url)] == ["b1"]
    assert receive(sqs, url) == []
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url)] == ["a2", "a3"]


def test_duplicates_within_the_window_are_answered_but_not_queued(sqs):
    url = sqs.create_queue(QueueName="dedup.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true",
    })["QueueUrl"]
    by_id = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="k")
    again = sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="k")
    assert (again["MessageId"], again["SequenceNumber"]) == (by_id["MessageId"], by_id["SequenceNumber"])
    by_content = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    copy = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="h")
    assert copy["MessageId"] == by_content["MessageId"]
    got = receive(sqs, url)
    assert [m["Body"] for m in got] == ["x", "same"]
    assert got[1]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()
    # Received and deleted, a duplicate is still a duplicate within the window.
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")["MessageId"] == \
        by_content["MessageId"]
    assert receive(sqs, url) == []


def test_a_fifo_topic_fans_out_to_fifo_queues_in_order(sqs, sns):
    topic = sns.create_topic(Name="orders.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "true",
    })["TopicArn"]
    urls = [sqs.create_queue(QueueName=f"fan{i}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            for i in (1, 2)]
    plain = sqs.create_queue(QueueName="fan-plain")["QueueUrl"]
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn_of(sqs, plain))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn_of(sqs, urls[0]))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn_of(sqs, urls[1]),
                  Attributes={"RawMessageDelivery": "true"})
    answers = [sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="order-7") for i in range(3)]
    dup = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="order-7")
    assert dup["MessageId"] == answers[0]["MessageId"]

    enveloped, raw = receive(sqs, urls[0]), receive(sqs, urls[1])
    assert [json.loads(m["Body"])["Message"] for m in enveloped] == ["m0", "m1", "m2"]
    numbers = [json.loads(m["Body"])["SequenceNumber"] for m in enveloped]
    assert numbers == [a["SequenceNumber"] for a in answers]
    assert [m["Body"] for m in raw] == ["m0", "m1", "m2"]
    for m in enveloped + raw:
        assert m["Attributes"]["MessageGroupId"] == "order-7"
    assert raw[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"m0").hexdigest()


def test_a_mapped_function_reads_a_fifo_queue_in_group_order(stack, sqs):
    client = stack.lambda_client()
    create(client, "fiforeader", PRINTER, Timeout=5)
    url = sqs.create_queue(QueueName="work.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "30",
    })["QueueUrl"]
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"step{i}", MessageGroupId="job",
                         MessageDeduplicationId=str(i))
    queue_id = stack.rows("Queue.objects.filter(name='work.fifo').values_list('id', flat=True)")[0]
    console = login(stack)
    submit(stack, console, f"/queues/{queue_id}/mappings/", {
        "function": ids(stack, "fiforeader")["id"], "batch_size": "10", "batching_window_s": "0",
        "priority": "normal",
    })

    def batches() -> list[list[dict]]:
        found = []
        for row in logs_of(stack, "fiforeader"):
            if row["status"] != "succeeded":
                continue
            line = next(x for x in row["logs"].splitlines() if x.startswith("EVENT "))
            found.append(json.loads(line[len("EVENT "):])["Records"])
        return found if sum(map(len, found)) >= 4 else []

    found = wait_for(batches, timeout=120)
    for batch in found:  # Each batch hands its group over in order.
        numbers = [int(r["attributes"]["SequenceNumber"]) for r in batch]
        assert numbers == sorted(numbers)
    got = sorted((r for batch in found for r in batch), key=lambda r: int(r["attributes"]["SequenceNumber"]))
    assert [r["body"] for r in got] == ["step0", "step1", "step2", "step3"]
    assert {r["attributes"]["MessageGroupId"] for r in got} == {"job"}
    assert [r["attributes"]["MessageDeduplicationId"] for r in got] == ["0", "1", "2", "3"]
    assert got[0]["eventSourceARN"].endswith(":work.fifo")
    wait_for(lambda: stack.rows("QueueMessage.objects.filter(queue__name='work.fifo').values('body')") == [])
