"""SNS's wire protocol on the real path: boto3's `sns` client -> uvicorn ->
the AWS front door -> rows -> fan-out: Celery -> Docker for a `lambda`
subscription, a queue message read back with boto3's `sqs` for an `sqs` one."""

import json

import pytest
import requests

from messaging import sns_signing
from tests.integration.helpers import aws_client, create, wait_for
from tests.integration.test_messaging_real import logs_of

pytestmark = pytest.mark.integration

PRINTER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
'''


def boto(stack, service: str):
    return aws_client(stack, service)


def test_it_fans_a_boto3_publish_out_to_a_function_and_a_queue(stack):
    sns, sqs = boto(stack, "sns"), boto(stack, "sqs")
    fn_arn = create(stack.lambda_client(), "snsreader", PRINTER, Timeout=5)["FunctionArn"]
    topic = sns.create_topic(Name="boto-news")["TopicArn"]
    url = sqs.create_queue(QueueName="boto-news-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"FilterPolicy": json.dumps({"tags": [{"prefix": "ur"}]})})
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["Protocol"] for s in listed) == ["lambda", "sqs"]

    attributes = {"tags": {"DataType": "String.Array", "StringValue": '["urgent", "ops"]'}}
    sent = sns.publish(TopicArn=topic, Message="hello", Subject="News", MessageAttributes=attributes)

    def succeeded():
        return [r for r in logs_of(stack, "snsreader") if r["status"] == "succeeded"]

    rows = wait_for(succeeded, timeout=90)
    assert rows[0]["source"] == "topic"
    line = next(x for x in rows[0]["logs"].splitlines() if x.startswith("EVENT "))
    (record,) = json.loads(line[len("EVENT "):])["Records"]
    assert record["EventSource"] == "aws:sns"
    assert (record["Sns"]["MessageId"], record["Sns"]["Message"]) == (sent["MessageId"], "hello")
    assert record["Sns"]["TopicArn"] == topic and record["Sns"]["Subject"] == "News"
    tags = record["Sns"]["MessageAttributes"]["tags"]
    assert tags == {"Type": "String.Array", "Value": '["urgent", "ops"]'}

    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    envelope = json.loads(got[0]["Body"])
    assert (envelope["Type"], envelope["MessageId"], envelope["Message"]) == (
        "Notification", sent["MessageId"], "hello"
    )
    assert envelope["MessageAttributes"]["tags"]["Type"] == "String.Array"
    # Signed as SNS signs, with the certificate the platform serves.
    cert = requests.get(envelope["SigningCertURL"], timeout=10).content
    assert sns_signing.verify(envelope, cert)
    assert envelope["UnsubscribeURL"].startswith(stack.url + "/sns/?Action=Unsubscribe")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    sns.delete_topic(TopicArn=topic)
    assert topic not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
