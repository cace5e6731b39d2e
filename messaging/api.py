"""What other apps call to use topics and queues (async destinations, the
triggers app's webhooks, ...). Errors are messaging.validation.MessagingError
with a message fit to show a user."""

from awsapi import arns
from functions.models import Team
from messaging import queues, topics
from messaging.models import Queue, Topic
from messaging.validation import MessagingError

__all__ = ["MessagingError", "find_queue_by_arn", "find_topic_by_arn", "publish", "send"]


def publish(topic: Topic, message: str, subject: str | None = None, attributes: dict | None = None) -> str:
    """Publish to every matching subscriber (async fan-out); returns the
    MessageId. Attributes: {"name": "text" | number | {"DataType", "StringValue"}}."""
    return str(topics.publish(topic, message, subject, attributes).message_id)


def send(queue: Queue, body: str, attributes: dict | None = None, delay_s: int | None = None) -> str:
    """Put a message on the queue (visible after delay_s, 0–900; None: the
    queue's DelaySeconds); returns the MessageId."""
    return str(queues.send(queue, body, attributes, delay_s).message_id)


def find_topic_by_arn(team: Team, arn: str) -> Topic | None:
    name = arns.local_name(arn, "sns", team.account_id)
    return Topic.objects.select_related("team").filter(team=team, name=name).first() if name else None


def find_queue_by_arn(team: Team, arn: str) -> Queue | None:
    name = arns.local_name(arn, "sqs", team.account_id)
    return Queue.objects.select_related("team").filter(team=team, name=name).first() if name else None
