"""What an SQS or SNS call does, as IAM names it: (action, resource ARN)
pairs for execution policies (awsapi.principals.authorize). Source: the
Service Authorization Reference for Amazon SQS and Amazon SNS: SQS's
batch operations are the single action's (SendMessageBatch is
sqs:SendMessage), SNS's PublishBatch is sns:Publish; queue and topic
operations act on the queue's or topic's ARN, a subscription's on its
topic's, the List* calls on "*"."""

from __future__ import annotations

from urllib.parse import urlsplit

from awsapi import arns

SQS_BATCHES = {
    "SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def sqs(context, operation: str, params: dict) -> list[tuple[str, str]]:
    action = "sqs:" + SQS_BATCHES.get(operation, operation)
    account = context.team.account_id
    if params.get("QueueUrl"):
        parts = urlsplit(str(params["QueueUrl"])).path.strip("/").split("/")
        if len(parts) == 2:
            return [(action, arns.queue_arn(parts[0], parts[1]))]
        return [(action, str(params["QueueUrl"]))]
    if params.get("QueueName"):
        owner = params.get("QueueOwnerAWSAccountId") or account
        return [(action, arns.queue_arn(owner, params["QueueName"]))]
    return [(action, "*")]


def sns(context, operation: str, params: dict) -> list[tuple[str, str]]:
    action = "sns:" + ("Publish" if operation == "PublishBatch" else operation)
    arn = params.get("TopicArn") or params.get("TargetArn")
    if not arn and params.get("SubscriptionArn"):
        arn = str(params["SubscriptionArn"]).rsplit(":", 1)[0]
    if not arn and operation == "CreateTopic" and params.get("Name"):
        arn = arns.topic_arn(context.team.account_id, params["Name"])
    return [(action, arn or "*")]
