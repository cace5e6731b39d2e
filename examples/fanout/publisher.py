"""Fan-out, the publishing side: one SNS publish from inside a function;
the topic delivers it to every subscribed SQS queue, and each queue runs
its own function (fanout/worker.py). TOPIC_ARN names the topic; the
execution policy allows sns:Publish on it (see policy.json)."""

import json
import os

import boto3

sns = boto3.client("sns")


def handler(event, context):
    answer = sns.publish(
        TopicArn=os.environ["TOPIC_ARN"], Message=json.dumps(event),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": event.get("kind", "order")}},
    )
    return {"MessageId": answer["MessageId"]}
