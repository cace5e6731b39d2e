"""What other apps call to use topics and queues (async destinations, the
triggers app's webhooks, ...). Errors are messaging.validation.MessagingError
with a message fit to show a user."""

from django.conf import settings

from functions.models import Team
from messaging import queues, topics
from messaging.models import Queue, Topic
from messaging.validation import MessagingError

__all__ = ["MessagingError", "find_queue_by_arn", "find_topic_by_arn", "publish", "send"]


def publish(topic: Topic, message: str, subject: str | None = None, attributes: dict | None = None) -> str:
    """Publish to every matching subscriber (async fan-out); returns the
    MessageId. Attributes: {"name": "text" | number | {"DataType", "StringValue"}}."""
    return str(topics.publish(topic, message, subject, attributes).message_id)


def send(queue: Queue, body: str, attributes: dict | None = None, delay_s: int = 0) -> str:
    """Put a message on the queue (visible after delay_s, 0–900); returns the MessageId."""
    return str(queues.send(queue, body, attributes, delay_s).message_id)


def _name_from_arn(team: Team, arn: str, service: str) -> str | None:
    """`arn:aws:<service>:<region>:<account>:<name>` of this team, else None."""
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) != 6 or parts[:3] != ["arn", "aws", service]:
        return None
    if parts[3] != settings.STRATUS_REGION or parts[4] != team.account_id:
        return None
    return parts[5]


def find_topic_by_arn(team: Team, arn: str) -> Topic | None:
    name = _name_from_arn(team, arn, "sns")
    return Topic.objects.select_related("team").filter(team=team, name=name).first() if name else None


def find_queue_by_arn(team: Team, arn: str) -> Queue | None:
    name = _name_from_arn(team, arn, "sqs")
    return Queue.objects.select_related("team").filter(team=team, name=name).first() if name else None
