"""SQS's wire protocol on the real path: boto3's `sqs` client -> uvicorn ->
the AWS front door -> rows -> beat's queue poller -> Celery -> Docker."""

import json
import threading
import time

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


@pytest.fixture(scope="module")
def sqs(stack):
    return aws_client(stack, "sqs")


def test_it_sends_long_polls_receives_and_deletes(stack, sqs):
    url = sqs.create_queue(QueueName="roundtrip", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    assert url.endswith("/roundtrip") and sqs.get_queue_url(QueueName="roundtrip")["QueueUrl"] == url
    attributes = {"price": {"DataType": "Number.float", "StringValue": "9.5"}}
    sent = {}

    def send_later():
        time.sleep(1)
        sent.update(sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attributes))

    sender = threading.Thread(target=send_later)
    started = time.monotonic()
    sender.start()
    got = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )
    sender.join()
    # The long poll was answered when the message came, not at its end.
    assert time.monotonic() - started < 8
    (msg,) = got["Messages"]
    assert (msg["MessageId"], msg["Body"]) == (sent["MessageId"], "hello")
    assert msg["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert msg["MessageAttributes"] == attributes
    assert msg["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"

    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    counted = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counted["ApproximateNumberOfMessages"] == counted["ApproximateNumberOfMessagesNotVisible"] == "0"
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="roundtrip")


def test_it_runs_a_mapped_function_for_a_message_sent_with_boto3(stack, sqs):
    client = stack.lambda_client()
    create(client, "sqsreader", PRINTER, Timeout=5)
    url = sqs.create_queue(QueueName="boto-work", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    queue_id = stack.rows("Queue.objects.filter(name='boto-work').values_list('id', flat=True)")[0]
    console = login(stack)
    submit(stack, console, f"/queues/{queue_id}/mappings/", {
        "function": ids(stack, "sqsreader")["id"], "batch_size": "10", "batching_window_s": "0",
        "priority": "normal",
    })

    sent = sqs.send_message(QueueUrl=url, MessageBody="from boto3", MessageAttributes={
        "kind": {"DataType": "String.label", "StringValue": "rush"},
    })

    def succeeded():
        return [r for r in logs_of(stack, "sqsreader") if r["status"] == "succeeded"]

    rows = wait_for(succeeded, timeout=90)
    assert rows[0]["source"] == "queue"
    line = next(x for x in rows[0]["logs"].splitlines() if x.startswith("EVENT "))
    (record,) = json.loads(line[len("EVENT "):])["Records"]
    assert (record["messageId"], record["body"]) == (sent["MessageId"], "from boto3")
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["messageAttributes"]["kind"]["dataType"] == "String.label"
    assert record["eventSourceARN"].endswith(":boto-work")
    # The batch succeeded, so its message was deleted.
    wait_for(lambda: sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0")
    assert stack.rows("QueueMessage.objects.filter(queue__name='boto-work').values('body')") == []
