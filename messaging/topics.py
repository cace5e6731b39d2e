"""Topics: creating them, subscribing functions, queues and loopback HTTP/S
endpoints, and publishing with fan-out. Every message delivered is signed
as SNS signs it (messaging.sns_signing)."""

import json
import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from functions.models import Function, Team
from invocations import qualified
from messaging import fifo, filter_policy, queues, sns_http, sns_signing, sqs_wakeup
from messaging.models import HttpDelivery, Queue, Subscription, Topic, TopicMessage
from messaging.sns_signing import iso_ms
from messaging.validation import (
    MAX_SUBJECT_CHARS,
    MessagingError,
    check_size,
    clean_attributes,
    clean_priority,
    clean_topic_name,
)

log = logging.getLogger(__name__)


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
    priority: str = "normal", scope: str = filter_policy.ATTRIBUTES, qualifier: str = "",
) -> Subscription:
    """A lambda subscription of `function` (its version or alias
    `qualifier`, "" for $LATEST: the caller checks that it exists)."""
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
        qualifier=qualifier or "",
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


def subscribe_http(
    topic: Topic, protocol: str, url: str, *, policy: dict | None = None,
    scope: str = filter_policy.ATTRIBUTES, base_url: str = "", raw: bool = False, now=None,
) -> Subscription:
    """Subscribe a loopback HTTP/S endpoint (messaging.sns_http.check_endpoint):
    the subscription is pending, and a signed SubscriptionConfirmation is
    stored and POSTed to the endpoint after the commit."""
    url = sns_http.check_endpoint(protocol, url)
    now = now or timezone.now()
    with transaction.atomic():
        sub = Subscription.objects.create(
            topic=topic, url=url, pending=True, token=sns_http.new_token(),
            token_expires_at=now + sns_http.TOKEN_LIFETIME, base_url=base_url,
            filter_policy=filter_policy.validate(policy, scope), filter_policy_scope=scope,
            raw_message_delivery=raw,
        )
        sns_http.send_confirmation(sub, now)
    return sub


def resend_confirmation(sub: Subscription, now=None) -> None:
    """Subscribe again to a pending endpoint: a new confirmation with the
    same token, whose lifetime starts again (as SNS resends it)."""
    now = now or timezone.now()
    with transaction.atomic():
        Subscription.objects.filter(pk=sub.pk).update(token_expires_at=now + sns_http.TOKEN_LIFETIME)
        sns_http.send_confirmation(sub, now)


def confirm(topic: Topic, token: str, *, authenticated: bool, authenticate_on_unsubscribe: bool = False,
            now=None) -> Subscription:
    """ConfirmSubscription: the topic's subscription whose token this is
    stops being pending (confirming twice is harmless). MessagingError
    when no subscription of the topic has the token, or it expired."""
    now = now or timezone.now()
    sub = topic.subscriptions.select_related("topic__team").filter(token=token).first() if token else None
    if sub is None and token:
        sub = _restore(topic, token, now)
    if sub is None:
        raise MessagingError("Invalid token", "token")
    if sub.pending:
        if sub.token_expires_at and sub.token_expires_at < now:
            raise MessagingError("Token has expired; subscribe again for a new one", "token")
        Subscription.objects.filter(pk=sub.pk, pending=True).update(
            pending=False, confirmation_authenticated=authenticated,
            authenticate_on_unsubscribe=authenticate_on_unsubscribe,
        )
        sub.refresh_from_db()
    return sub


def _restore(topic: Topic, token: str, now) -> Subscription | None:
    """The SubscribeURL of an UnsubscribeConfirmation (within 3 days)
    brings the removed HTTP/S subscription back, with its ARN and settings,
    as SNS restores it; None when the token is no such link's."""
    row = HttpDelivery.objects.filter(
        message_type="UnsubscribeConfirmation", topic_arn=topic.arn, token=token,
        created_at__gte=now - sns_http.TOKEN_LIFETIME,
    ).first()
    if row is None or not row.restore:
        return None
    kept = row.restore
    existing = topic.subscriptions.filter(url=kept["url"]).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            Subscription.objects.create(
                id=kept["id"], topic=topic, url=kept["url"], filter_policy=kept["filter_policy"],
                filter_policy_scope=kept["filter_policy_scope"],
                raw_message_delivery=kept["raw_message_delivery"], base_url=kept["base_url"],
            )
    except IntegrityError:
        pass  # Restored by a concurrent visit of the same link.
    return topic.subscriptions.select_related("topic__team").filter(id=kept["id"]).first()


def unsubscribe(sub: Subscription) -> None:
    """Remove the subscription, counted in the topic's SubscriptionsDeleted;
    a confirmed HTTP/S endpoint is sent an UnsubscribeConfirmation, as SNS
    sends one."""
    with transaction.atomic():
        if sub.url and not sub.pending and Subscription.objects.filter(pk=sub.pk).exists():
            sns_http.unsubscribe_confirmation(sub)
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


class Signer:
    """Signs one published message for its subscribers. The signature
    covers the message's text, id, subject, timestamp, topic and type, not
    the subscriber, so subscribers of one protocol share one signature."""

    def __init__(self, topic: Topic, msg: TopicMessage):
        self.topic, self.msg = topic, msg
        self._signatures: dict[str, str] = {}

    def signed_fields(self, sub: Subscription, text: str) -> dict:
        """SignatureVersion, Signature and the two URLs (named as in the
        SQS and HTTP/S JSON: SigningCertURL, UnsubscribeURL)."""
        version = self.topic.signature_version or "1"
        signature = self._signatures.get(text)
        if signature is None:
            canonical = {
                "Type": "Notification", "MessageId": str(self.msg.message_id), "TopicArn": self.topic.arn,
                "Subject": self.msg.subject, "Message": text, "Timestamp": iso_ms(self.msg.published_at),
            }
            signature = self._signatures[text] = sns_signing.sign(canonical, version)
        base = sns_signing.base_url(sub.base_url)
        return {
            "SignatureVersion": version,
            "Signature": signature,
            "SigningCertURL": sns_signing.signing_cert_url(base),
            "UnsubscribeURL": sns_signing.unsubscribe_url(base, sub.arn),
        }


def sns_envelope(topic: Topic, sub: Subscription, msg: TopicMessage, signer: Signer | None = None) -> dict:
    """The JSON SNS puts on a queue (without RawMessageDelivery) and POSTs
    to an HTTP/S endpoint (AWS: "HTTP/HTTPS notification JSON format"):
    Subject only when there is one, MessageAttributes only when there are
    some, signed."""
    signer = signer or Signer(topic, msg)
    text = message_for(msg, sub.protocol)
    envelope = {
        "Type": "Notification",
        "MessageId": str(msg.message_id),
        "TopicArn": topic.arn,
    }
    if msg.subject:
        envelope["Subject"] = msg.subject
    envelope.update({"Message": text, "Timestamp": iso_ms(msg.published_at)})
    envelope.update(signer.signed_fields(sub, text))
    if msg.attributes:
        envelope["MessageAttributes"] = _attributes_out(msg)
    return envelope


def sns_event(topic: Topic, sub: Subscription, msg: TopicMessage, signer: Signer | None = None) -> dict:
    """The Lambda event for one subscriber, in the shape SNS sends (AWS's
    "Example SNS message event"): Subject null when there is none, the
    URLs spelled SigningCertUrl / UnsubscribeUrl, MessageAttributes always."""
    signer = signer or Signer(topic, msg)
    text = message_for(msg, "lambda")
    signed = signer.signed_fields(sub, text)
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
                    "Message": text,
                    "Timestamp": iso_ms(msg.published_at),
                    "SignatureVersion": signed["SignatureVersion"],
                    "Signature": signed["Signature"],
                    "SigningCertUrl": signed["SigningCertURL"],
                    "UnsubscribeUrl": signed["UnsubscribeURL"],
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
    keep_labels: bool = True,
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
    "Number.float"), as SNS keeps them (False: the base type); `per_protocol`: the message
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
    if not topic.fifo and not topic.subscriptions.filter(enabled=True, pending=False).exists():
        # Nobody to deliver to: the row alone (the console's recent
        # messages), one INSERT, with nothing read while holding the write lock.
        msg = TopicMessage.objects.create(
            topic=topic, subject=subject, message=message, attributes=cleaned, published_at=now,
            per_protocol=per_protocol,
        )
        msg.duplicate = False
        return msg
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
        # Pending HTTP/S subscriptions get nothing until confirmed, as in SNS.
        subs = topic.subscriptions.filter(enabled=True, pending=False).select_related(
            "function", "queue__team", "topic__team"
        )
        signer = Signer(topic, msg)
        delivered = []
        for sub in subs:
            body = message_for(msg, sub.protocol)
            if not filter_policy.matches(sub.filter_policy, cleaned, body, sub.filter_policy_scope):
                continue
            if sub.queue_id:
                if _deliver_to_queue(topic, sub, msg, now, signer):
                    delivered.append(sub.id)
                continue
            if sub.url and sub.raw_message_delivery:
                sns_http.store_raw(sub, message_id=str(msg.message_id), text=body)
                delivered.append(sub.id)
                continue
            if sub.url:
                sns_http.store(sub, sns_envelope(topic, sub, msg, signer))
                delivered.append(sub.id)
                continue
            # The subscription's version or alias, resolved now; a missing
            # one fails this delivery (a failed event, its on-failure path).
            qualified.submit_async(
                sub.function,
                sub.qualifier,
                json.dumps(sns_event(topic, sub, msg, signer)),
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


def _deliver_to_queue(topic: Topic, sub: Subscription, msg: TopicMessage, now, signer: Signer) -> bool:
    """Put the message on the subscribed queue: SNS's envelope, or with
    RawMessageDelivery the message itself with its attributes as SQS
    message attributes. A message the queue refuses (its MaximumMessageSize)
    is logged and skipped, as SNS drops what it cannot deliver to SQS."""
    if sub.raw_message_delivery:
        body, attributes = message_for(msg, "sqs"), msg.attributes
    else:
        envelope = sns_envelope(topic, sub, msg, signer)
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
