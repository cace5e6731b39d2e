"""Topics: creating them, subscribing functions and queues, and publishing
with fan-out."""

import json
import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from functions.models import Function, Team
from invocations import dispatch
from messaging import fifo, filter_policy, queues, sqs_wakeup
from messaging.models import Queue, Subscription, Topic, TopicMessage
from messaging.validation import (
    MAX_SUBJECT_CHARS,
    MessagingError,
    check_size,
    clean_attributes,
    clean_priority,
    clean_topic_name,
)

log = logging.getLogger(__name__)


def iso_ms(when) -> str:
    """SNS's timestamp form: 2019-08-20T18:47:13.322Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def create_topic(
    team: Team, name: str, *, fifo_topic: bool = False, content_based_dedup: bool = False
) -> Topic:
    """A new topic; a FIFO topic's name ends with ".fifo" (SNS's rule)."""
    if fifo_topic:
        if not isinstance(name, str) or not fifo.FIFO_TOPIC_NAME_RE.fullmatch(name):
            raise MessagingError(
                "A FIFO topic's name must be 1 to 251 letters, digits, hyphens or underscores followed "
                "by .fifo.", "name",
            )
    else:
        name = clean_topic_name(name)
    if Topic.objects.filter(team=team, name=name).exists():
        raise MessagingError(f"A topic named {name} already exists in {team.name}.", "name")
    try:
        with transaction.atomic():
            return Topic.objects.create(
                team=team, name=name, fifo=fifo_topic, content_based_dedup=content_based_dedup and fifo_topic
            )
    except IntegrityError:
        # Two creates raced past the check above.
        raise MessagingError(f"A topic named {name} already exists in {team.name}.", "name") from None


def subscribe(
    topic: Topic | None, function: Function | None, *, policy: dict | None = None,
    priority: str = "normal", scope: str = filter_policy.ATTRIBUTES,
) -> Subscription:
    if topic is None:
        raise MessagingError("Choose the topic to subscribe to.", "topic")
    if function is None:
        raise MessagingError("Choose the function to subscribe.", "function")
    if function.team_id != topic.team_id:
        raise MessagingError("The function must belong to the topic's team.", "function")
    if topic.fifo:
        raise MessagingError(
            f"{topic.name} is a FIFO topic: it delivers to SQS FIFO queues only, not to functions.",
            "function",
        )
    return Subscription.objects.create(
        topic=topic,
        function=function,
        filter_policy=filter_policy.validate(policy, scope),
        filter_policy_scope=scope,
        priority=clean_priority(priority),
    )


def subscribe_queue(
    topic: Topic, queue: Queue, *, policy: dict | None = None, scope: str = filter_policy.ATTRIBUTES,
    raw: bool = False,
) -> Subscription:
    """Deliver the topic's messages to the queue (SNS's `sqs` protocol)."""
    if queue.team_id != topic.team_id:
        raise MessagingError("The queue must belong to the topic's team.", "queue")
    if topic.fifo != queue.fifo:
        # SNS's rule: order and deduplication hold end to end or not at all.
        raise MessagingError(
            f"{topic.name} is a FIFO topic: subscribe a FIFO queue (name ending .fifo)." if topic.fifo
            else f"{queue.name} is a FIFO queue: subscribe it to a FIFO topic.", "queue",
        )
    return Subscription.objects.create(
        topic=topic, queue=queue, filter_policy=filter_policy.validate(policy, scope),
        filter_policy_scope=scope, raw_message_delivery=raw,
    )


def unsubscribe(sub: Subscription) -> None:
    """Remove the subscription, counted in the topic's SubscriptionsDeleted."""
    with transaction.atomic():
        if Subscription.objects.filter(pk=sub.pk).delete()[0]:
            Topic.objects.filter(pk=sub.topic_id).update(subscriptions_deleted=F("subscriptions_deleted") + 1)


def message_for(msg: TopicMessage, protocol: str) -> str:
    """The text a subscriber gets: with MessageStructure=json, its
    protocol's entry or "default"."""
    if not msg.per_protocol:
        return msg.message
    texts = json.loads(msg.message)
    return texts.get(protocol, texts["default"])


def _attributes_out(msg: TopicMessage) -> dict:
    return {name: {"Type": a["Type"], "Value": a["Value"]} for name, a in msg.attributes.items()}


def sns_envelope(topic: Topic, sub: Subscription, msg: TopicMessage) -> dict:
    """The JSON SNS puts on a queue (without RawMessageDelivery). Messages
    are not signed (yet): Signature and SigningCertURL are empty, and
    UnsubscribeURL too (unsubscribe with the API or the console)."""
    envelope = {
        "Type": "Notification",
        "MessageId": str(msg.message_id),
        "TopicArn": topic.arn,
    }
    if msg.subject:
        envelope["Subject"] = msg.subject
    envelope.update({
        "Message": message_for(msg, "sqs"),
        "Timestamp": iso_ms(msg.published_at),
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
        "UnsubscribeURL": "",
    })
    if msg.attributes:
        envelope["MessageAttributes"] = _attributes_out(msg)
    return envelope


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
                    "Message": message_for(msg, "lambda"),
                    "Timestamp": iso_ms(msg.published_at),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": _attributes_out(msg),
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
    keep_labels: bool = False,
    per_protocol: bool = False,
    group_id: str | None = None,
    dedup_id: str | None = None,
) -> TopicMessage:
    """Store the message, then queue one async invocation per matching
    function subscriber and put one message on each matching queue
    subscriber, all in one transaction: a crash part-way publishes to
    nobody rather than to half the subscribers. The tasks are queued only
    after the commit (dispatch.submit_async uses on_commit).

    `keep_labels`: attribute types keep their label ("String.Array",
    "Number.float"), as SNS's API keeps them; `per_protocol`: the message
    is MessageStructure=json's object, already checked (messaging.sns_wire).

    FIFO topics: `group_id` is required, the deduplication id is `dedup_id`
    or (ContentBasedDeduplication) the message's SHA-256. A duplicate within
    the 5-minute window is not stored nor delivered: the answer is an
    unsaved TopicMessage with the first one's message_id and sequence, and
    `duplicate` True. Queue subscribers (FIFO queues) get the group and
    deduplication ids."""
    if not isinstance(message, str) or message == "":
        raise MessagingError("The message must be a non-empty string.", "message")
    if subject is not None and not isinstance(subject, str):
        raise MessagingError("The subject must be a string.", "subject")
    subject = subject or None
    if subject and (len(subject) > MAX_SUBJECT_CHARS or "\n" in subject):
        raise MessagingError(
            f"The subject must be one line of at most {MAX_SUBJECT_CHARS} characters.", "subject"
        )
    cleaned = clean_attributes(attributes, keep_labels=keep_labels)
    check_size(message, cleaned, "message")
    group_id, dedup_id = _fifo_ids(topic, message, group_id, dedup_id)
    now = now or timezone.now()
    with transaction.atomic():
        sequence = None
        if topic.fifo:
            original = fifo.find_duplicate(topic.deduplications, now, dedup_id=dedup_id)
            if original is not None:
                msg = TopicMessage(topic=topic, message_id=original.message_id, sequence=original.sequence,
                                   message=message, group_id=group_id, dedup_id=dedup_id)
                msg.duplicate = True
                return msg
            sequence = fifo.next_sequence(Topic, topic.pk)
        msg = TopicMessage.objects.create(
            topic=topic, subject=subject, message=message, attributes=cleaned, published_at=now,
            per_protocol=per_protocol, group_id=group_id, dedup_id=dedup_id, sequence=sequence,
        )
        msg.duplicate = False
        if topic.fifo:
            fifo.remember(topic.deduplications, now, msg.message_id, sequence, dedup_id=dedup_id)
        subs = topic.subscriptions.filter(enabled=True).select_related(
            "function", "queue__team", "topic__team"
        )
        delivered = []
        for sub in subs:
            body = message_for(msg, sub.protocol)
            if not filter_policy.matches(sub.filter_policy, cleaned, body, sub.filter_policy_scope):
                continue
            if sub.queue_id:
                if _deliver_to_queue(topic, sub, msg, now):
                    delivered.append(sub.id)
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


def _fifo_ids(topic: Topic, message: str, group_id, dedup_id) -> tuple[str, str]:
    if not topic.fifo:
        if group_id or dedup_id:
            raise MessagingError(
                f"{topic.name} is a standard topic: message group and deduplication ids are for FIFO topics.",
                "group_id",
            )
        return "", ""
    if not group_id:
        raise MessagingError(f"{topic.name} is a FIFO topic: give a message group id.", "group_id")
    fifo.check_id(group_id, "MessageGroupId")
    if not dedup_id and not topic.content_based_dedup:
        raise MessagingError(
            f"{topic.name} has no content-based deduplication: give a deduplication id.", "dedup_id"
        )
    return group_id, fifo.dedup_id_for(message, dedup_id, True)


def _deliver_to_queue(topic: Topic, sub: Subscription, msg: TopicMessage, now) -> bool:
    """Put the message on the subscribed queue: SNS's envelope, or with
    RawMessageDelivery the message itself with its attributes as SQS
    message attributes. A message the queue refuses (its MaximumMessageSize)
    is logged and skipped, as SNS drops what it cannot deliver to SQS."""
    if sub.raw_message_delivery:
        body, attributes = message_for(msg, "sqs"), msg.attributes
    else:
        envelope = sns_envelope(topic, sub, msg)
        if msg.sequence is not None:  # SNS FIFO's notification carries its number.
            envelope["SequenceNumber"] = fifo.sequence_text(msg.sequence)
        body, attributes = json.dumps(envelope, ensure_ascii=False), None
    try:
        queued = queues.prepare(
            sub.queue, body, attributes, sender_id=topic.team.account_id, now=now,
            group_id=msg.group_id or None, dedup_id=msg.dedup_id or None,
        )
    except MessagingError as e:
        log.warning("Not delivered to the queue %s (subscription %s): %s", sub.queue.name, sub.id, e.message)
        return False
    queues.enqueue(sub.queue, [queued], now)
    queue_id = sub.queue_id
    transaction.on_commit(lambda: sqs_wakeup.notify(queue_id))
    return True
