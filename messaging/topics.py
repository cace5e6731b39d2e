"""Topics: creating them, subscribing functions, and publishing with fan-out."""

import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from functions.models import Function, Team
from invocations import dispatch
from messaging import filter_policy
from messaging.models import Subscription, Topic, TopicMessage
from messaging.validation import (
    MAX_SUBJECT_CHARS,
    MessagingError,
    check_size,
    clean_attributes,
    clean_priority,
    clean_topic_name,
)


def iso_ms(when) -> str:
    """SNS's timestamp form: 2019-08-20T18:47:13.322Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def create_topic(team: Team, name: str) -> Topic:
    name = clean_topic_name(name)
    if Topic.objects.filter(team=team, name=name).exists():
        raise MessagingError(f"A topic named {name} already exists in {team.name}.", "name")
    try:
        with transaction.atomic():
            return Topic.objects.create(team=team, name=name)
    except IntegrityError:
        # Two creates raced past the check above.
        raise MessagingError(f"A topic named {name} already exists in {team.name}.", "name") from None


def subscribe(
    topic: Topic | None, function: Function | None, *, policy: dict | None = None,
    priority: str = "normal",
) -> Subscription:
    if topic is None:
        raise MessagingError("Choose the topic to subscribe to.", "topic")
    if function is None:
        raise MessagingError("Choose the function to subscribe.", "function")
    if function.team_id != topic.team_id:
        raise MessagingError("The function must belong to the topic's team.", "function")
    return Subscription.objects.create(
        topic=topic,
        function=function,
        filter_policy=filter_policy.validate(policy),
        priority=clean_priority(priority),
    )


def sns_event(topic: Topic, sub: Subscription, msg: TopicMessage) -> dict:
    """The Lambda event for one subscriber, in the shape SNS sends. We do not
    sign messages, so Signature and SigningCertUrl are empty, and there is no
    unsubscribe link outside the console, so UnsubscribeUrl is empty too."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": sub.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(msg.message_id),
                    "TopicArn": topic.arn,
                    "Subject": msg.subject,
                    "Message": msg.message,
                    "Timestamp": iso_ms(msg.published_at),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {
                        name: {"Type": a["Type"], "Value": a["Value"]}
                        for name, a in msg.attributes.items()
                    },
                },
            }
        ]
    }


def publish(
    topic: Topic,
    message: str,
    subject: str | None = None,
    attributes: dict | None = None,
    *,
    now=None,
) -> TopicMessage:
    """Store the message and queue one async invocation per matching
    subscriber, all in one transaction: a crash part-way publishes to
    nobody rather than to half the subscribers. The tasks are queued only
    after the commit (dispatch.submit_async uses on_commit)."""
    if not isinstance(message, str) or message == "":
        raise MessagingError("The message must be a non-empty string.", "message")
    if subject is not None and not isinstance(subject, str):
        raise MessagingError("The subject must be a string.", "subject")
    subject = subject or None
    if subject and (len(subject) > MAX_SUBJECT_CHARS or "\n" in subject):
        raise MessagingError(
            f"The subject must be one line of at most {MAX_SUBJECT_CHARS} characters.", "subject"
        )
    cleaned = clean_attributes(attributes)
    check_size(message, cleaned, "message")
    now = now or timezone.now()
    with transaction.atomic():
        msg = TopicMessage.objects.create(
            topic=topic, subject=subject, message=message, attributes=cleaned, published_at=now
        )
        subs = topic.subscriptions.filter(enabled=True).select_related("function", "topic__team")
        delivered = []
        for sub in subs:
            if not filter_policy.matches(sub.filter_policy, cleaned):
                continue
            dispatch.submit_async(
                sub.function,
                json.dumps(sns_event(topic, sub, msg)),
                source="topic",
                priority=sub.priority,
                trigger=sub.trigger,
                origin={
                    "topic_id": str(topic.id),
                    "subscription_id": str(sub.id),
                    "message_id": str(msg.message_id),
                },
            )
            delivered.append(sub.id)
        if delivered:
            Subscription.objects.filter(id__in=delivered).update(last_fired_at=now)
            msg.deliveries = len(delivered)
            msg.save(update_fields=["deliveries"])
    return msg
