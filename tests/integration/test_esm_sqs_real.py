"""Lambda's event source mappings on SQS on the real path: boto3's `lambda`
client creates the mapping (FilterCriteria, ReportBatchItemFailures)
through uvicorn and the AWS front door; boto3's `sqs` client sends; beat's
queue poller, Celery and Docker run the function. Only matching messages
reach it, a message no filter matches is gone from the queue, and a
message the handler reports in batchItemFailures comes back."""

import json

import pytest

from tests.integration.helpers import aws_client, create, wait_for
from tests.integration.test_messaging_real import logs_of

pytestmark = pytest.mark.integration

# Fails the records whose body says so (ReportBatchItemFailures), prints
# every event.
HANDLER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    failures = []
    for record in event["Records"]:
        if json.loads(record["body"]).get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
'''


def records_seen(stack, name: str) -> list[dict]:
    found = []
    for row in logs_of(stack, name):
        for line in (row["logs"] or "").splitlines():
            if line.startswith("EVENT "):
                found += json.loads(line[len("EVENT "):])["Records"]
    return found


def test_filtered_mapping_with_batch_item_failures(stack):
    lam, sqs = stack.lambda_client(), aws_client(stack, "sqs")
    create(lam, "esmfilter", HANDLER, Timeout=3)
    url = sqs.create_queue(QueueName="esm-orders", Attributes={"VisibilityTimeout": "3"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"body": {"kind": ["order"]}})

    made = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="esmfilter", BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": pattern}]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert made["State"] == "Creating"
    uuid = made["UUID"]
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="esmfilter")

    good = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "order", "id": 1}))
    bad = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "order", "id": 2, "fail": True}))
    other = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "refund", "id": 3}))
    plain = sqs.send_message(QueueUrl=url, MessageBody="not json at all")

    # The reported failure comes back after the visibility timeout: a
    # second delivery of `bad`, with its receive count raised.
    def redelivered():
        seen = records_seen(stack, "esmfilter")
        again = [r for r in seen if r["messageId"] == bad["MessageId"]
                 and int(r["attributes"]["ApproximateReceiveCount"]) >= 2]
        return seen if again else None

    seen = wait_for(redelivered, timeout=120, interval=0.5)
    ids = {r["messageId"] for r in seen}
    # Only the matching messages ever reached the function.
    assert ids == {good["MessageId"], bad["MessageId"]}
    assert all(json.loads(r["body"])["kind"] == "order" for r in seen)
    assert all(r["eventSourceARN"] == arn for r in seen)
    # `good` was delivered once and deleted; the non-matching ones are gone
    # from the queue without a call; `bad` is still in it.
    assert sum(r["messageId"] == good["MessageId"] for r in seen) == 1
    left = {row["message_id"] for row in stack.rows(
        "QueueMessage.objects.filter(queue__name='esm-orders').values('message_id')"
    )}
    assert left == {bad["MessageId"]}
    assert other and plain

    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["LastProcessingResult"] == "OK"
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}

    # Disabled: nothing more is read; deleted: gone.
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    assert lam.list_event_source_mappings(FunctionName="esmfilter")["EventSourceMappings"] == []
