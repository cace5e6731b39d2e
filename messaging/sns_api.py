"""SNS's operations, as boto3's `sns` client and the AWS CLI call them
through the AWS front door (awsapi.door, query protocol): each handler is
named after the operation, takes the caller's context and the parsed
parameters, and returns the output as boto3 shows it. Topics,
subscriptions and messages are the messaging app's rows (messaging.topics),
shared with the console, the topic webhook and async destinations."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from awsapi import principals, services
from awsapi.protocols import ServiceError
from messaging import fifo, iam_resources, sns_fifo, sns_http, topics
from messaging.models import Subscription, Topic
from messaging.sns_wire import (
    check_message,
    check_size,
    check_subject,
    error,
    function_for,
    invalid,
    message_attributes_in,
    queue_for,
    required,
    subscription_attributes,
    subscription_for,
    subscription_settings,
    subscription_summary,
    topic_attributes,
    topic_for,
    topic_setting,
)
from messaging.validation import MAX_MESSAGE_BYTES, MessagingError

PAGE_SIZE = 100  # ListTopics and ListSubscriptions(ByTopic) answer 100 at a time.
MAX_BATCH_ENTRIES = 10
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
PROTOCOLS = ("lambda", "sqs", "http", "https")
# Protocols SNS has that Stratus does not deliver to (yet).
OTHER_PROTOCOLS = ("email", "email-json", "sms", "application", "firehose")
_FIELD_OF_ATTRIBUTE = {
    "FilterPolicy": "filter_policy", "FilterPolicyScope": "filter_policy_scope",
    "RawMessageDelivery": "raw_message_delivery",
}


def _token_in(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("NextToken") from None


def _token_out(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Topics ------------------------------------------------------------------------------


def create_topic(context: services.Context, params: dict) -> dict:
    name = params.get("Name")
    attributes = dict(params.get("Attributes") or {})
    fifo_fields = sns_fifo.create_fields(name, attributes)  # Takes FifoTopic & co. out of `attributes`.
    if params.get("Tags"):
        raise invalid("Tags Reason: Stratus does not keep topic tags yet; leave Tags out")
    if params.get("DataProtectionPolicy"):
        raise invalid("DataProtectionPolicy Reason: Stratus does not support data protection policies")
    fields = dict(topic_setting(k, v) for k, v in attributes.items())
    fields.pop("", None)
    fields.update(fifo_fields)
    team = context.team
    topic = Topic.objects.select_related("team").filter(team=team, name=name).first()
    if topic is None:
        try:
            with transaction.atomic():
                topic = Topic.objects.create(team=team, name=name, **fields)
        except IntegrityError:  # Created by a concurrent call since we looked.
            topic = Topic.objects.select_related("team").get(team=team, name=name)
        else:
            return {"TopicArn": topic.arn}
    if any(getattr(topic, field) != value for field, value in fields.items()):
        raise invalid("Attributes Reason: Topic already exists with different attributes")
    return {"TopicArn": topic.arn}


def delete_topic(context: services.Context, params: dict) -> dict:
    # Deleting a topic that does not exist is not an error, as in SNS.
    try:
        topic = topic_for(context.team, params.get("TopicArn"))
    except ServiceError as e:
        if e.code == "NotFound":
            return {}
        raise
    topic.delete()
    return {}


def list_topics(context: services.Context, params: dict) -> dict:
    found = Topic.objects.select_related("team").filter(team=context.team).order_by("name")
    after = _token_in(params.get("NextToken"))
    if after is not None:
        found = found.filter(name__gt=after)
    page = list(found[: PAGE_SIZE + 1])
    output: dict = {"Topics": [{"TopicArn": t.arn} for t in page[:PAGE_SIZE]]}
    if len(page) > PAGE_SIZE:
        output["NextToken"] = _token_out(page[PAGE_SIZE - 1].name)
    return output


def get_topic_attributes(context: services.Context, params: dict) -> dict:
    topic = topic_for(context.team, params.get("TopicArn"))
    return {"Attributes": {**topic_attributes(topic), **sns_fifo.attributes_of(topic)}}


def set_topic_attributes(context: services.Context, params: dict) -> dict:
    topic = topic_for(context.team, params.get("TopicArn"))
    name = required(params, "AttributeName")
    if name in sns_fifo.TOPIC_ATTRIBUTES:
        field, value = sns_fifo.set_field(topic, name, params.get("AttributeValue"))
    else:
        field, value = topic_setting(name, params.get("AttributeValue"))
    if field:
        setattr(topic, field, value)
        topic.save(update_fields=[field])
    return {}


# Subscriptions ------------------------------------------------------------------------


def subscribe(context: services.Context, params: dict) -> dict:
    team = context.team
    topic = topic_for(team, params.get("TopicArn"))
    protocol = required(params, "Protocol").lower()
    if protocol in OTHER_PROTOCOLS:
        raise invalid(f"Protocol Reason: Stratus does not deliver to {protocol} endpoints yet; "
                      f"use {', '.join(PROTOCOLS)}")
    if protocol not in PROTOCOLS:
        raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
    endpoint = required(params, "Endpoint")
    if protocol in sns_http.PROTOCOLS:
        sns_fifo.check_subscription(topic, protocol, None)  # FIFO topics deliver to SQS only.
    attributes = params.get("Attributes") or {}
    fields = subscription_settings(attributes, protocol)
    if protocol in sns_http.PROTOCOLS:
        return _subscribe_http(context, topic, protocol, endpoint, attributes, fields,
                               bool(params.get("ReturnSubscriptionArn")))
    target = function_for(team, endpoint) if protocol == "lambda" else queue_for(team, endpoint)
    sns_fifo.check_subscription(topic, protocol, target)
    if protocol == "lambda":
        same = Q(function=target, qualifier=target.subscription_qualifier)
    else:
        same = Q(queue=target)
    existing = topic.subscriptions.filter(same).select_related("topic__team").first()
    if existing is not None:
        _same_settings(existing, attributes, fields)
        return {"SubscriptionArn": existing.arn}
    options = {"policy": fields.get("filter_policy"), "scope": fields["filter_policy_scope"]}
    try:
        if protocol == "lambda":
            sub = topics.subscribe(topic, target, qualifier=target.subscription_qualifier, **options)
        else:
            raw = fields.get("raw_message_delivery", False)
            sub = topics.subscribe_queue(topic, target, raw=raw, **options)
    except MessagingError as e:
        raise invalid(e.message) from None
    Subscription.objects.filter(pk=sub.pk).update(base_url=_base_url(context))
    return {"SubscriptionArn": sub.arn}


def _base_url(context: services.Context) -> str:
    """Where the subscription's links (SigningCertURL, UnsubscribeURL...)
    point: the address the caller used, except a function's, whose
    `AWS_ENDPOINT_URL` is a port inside its own container ("": the
    platform's own address, messaging.sns_signing.base_url)."""
    return "" if principals.is_function(context.key) else context.endpoint


def _same_settings(existing: Subscription, attributes: dict, fields: dict) -> None:
    """Subscribing again is idempotent, unless it asks for other settings."""
    asked = [_FIELD_OF_ATTRIBUTE[name] for name in attributes if name in _FIELD_OF_ATTRIBUTE]
    if any(getattr(existing, f) != fields[f] for f in asked if f in fields):
        raise invalid("Attributes Reason: Subscription already exists with different attributes")


def _subscribe_http(context, topic: Topic, protocol: str, endpoint: str, attributes: dict, fields: dict,
                    return_arn: bool) -> dict:
    """An HTTP/S endpoint is pending until it confirms: Subscribe answers
    "pending confirmation" (the ARN with ReturnSubscriptionArn), and SNS
    sends the confirmation again to an endpoint subscribed again while
    pending."""
    try:
        url = sns_http.check_endpoint(protocol, endpoint)
    except MessagingError as e:
        raise invalid(f"Endpoint Reason: {e.message}") from None
    existing = topic.subscriptions.filter(url=url).select_related("topic__team").first()
    if existing is not None:
        _same_settings(existing, attributes, fields)
        if existing.pending:
            topics.resend_confirmation(existing)
        sub = existing
    else:
        try:
            sub = topics.subscribe_http(
                topic, protocol, url, policy=fields.get("filter_policy"),
                scope=fields["filter_policy_scope"], base_url=_base_url(context),
                raw=fields.get("raw_message_delivery", False),
            )
        except MessagingError as e:
            raise invalid(e.message) from None
    if sub.pending and not return_arn:
        return {"SubscriptionArn": "pending confirmation"}
    return {"SubscriptionArn": sub.arn}


def confirm_subscription(context: services.Context, params: dict) -> dict:
    """ConfirmSubscription through the signed API: the confirmation is
    authenticated, and AuthenticateOnUnsubscribe="true" makes the
    UnsubscribeURL refuse to unsubscribe (only a signed Unsubscribe may)."""
    topic = topic_for(context.team, params.get("TopicArn"))
    token = required(params, "Token")
    flag = str(params.get("AuthenticateOnUnsubscribe") or "false").lower()
    if flag not in ("true", "false"):
        raise invalid("AuthenticateOnUnsubscribe Reason: must be true or false")
    try:
        sub = topics.confirm(topic, token, authenticated=True, authenticate_on_unsubscribe=flag == "true")
    except MessagingError as e:
        raise invalid(e.message) from None
    return {"SubscriptionArn": sub.arn}


def unsubscribe(context: services.Context, params: dict) -> dict:
    # Unsubscribing twice is not an error, as in SNS.
    try:
        sub = subscription_for(context.team, params.get("SubscriptionArn"))
    except ServiceError as e:
        if e.code == "NotFound":
            return {}
        raise
    topics.unsubscribe(sub)
    return {}


def _subscription_page(found, params: dict, extra: dict) -> dict:
    found = found.select_related("topic__team", "function__team", "queue__team").order_by("created_at", "id")
    after = _token_in(params.get("NextToken"))
    if after is not None:
        stamp, _, ident = after.partition("|")
        try:
            stamp, ident = datetime.fromisoformat(stamp), uuid.UUID(ident)
        except ValueError:
            raise invalid("NextToken") from None
        found = found.filter(Q(created_at__gt=stamp) | Q(created_at=stamp, id__gt=ident))
    page = list(found[: PAGE_SIZE + 1])
    output = {"Subscriptions": [subscription_summary(s) for s in page[:PAGE_SIZE]], **extra}
    if len(page) > PAGE_SIZE:
        last = page[PAGE_SIZE - 1]
        output["NextToken"] = _token_out(f"{last.created_at.isoformat()}|{last.id}")
    return output


def list_subscriptions(context: services.Context, params: dict) -> dict:
    return _subscription_page(Subscription.objects.filter(topic__team=context.team), params, {})


def list_subscriptions_by_topic(context: services.Context, params: dict) -> dict:
    topic = topic_for(context.team, params.get("TopicArn"))
    return _subscription_page(topic.subscriptions.all(), params, {})


def get_subscription_attributes(context: services.Context, params: dict) -> dict:
    sub = subscription_for(context.team, params.get("SubscriptionArn"))
    return {"Attributes": subscription_attributes(sub)}


def set_subscription_attributes(context: services.Context, params: dict) -> dict:
    sub = subscription_for(context.team, params.get("SubscriptionArn"))
    name = required(params, "AttributeName")
    fields = subscription_settings({name: params.get("AttributeValue")}, sub.protocol, sub)
    for field, value in fields.items():
        setattr(sub, field, value)
    sub.save(update_fields=list(fields))
    return {}


# Publishing ---------------------------------------------------------------------------


def _prepare(topic: Topic, entry: dict) -> dict:
    """A publish's checked arguments for topics.publish."""
    ids = sns_fifo.publish_ids(topic, entry)
    message, per_protocol = check_message(entry.get("Message"), entry.get("MessageStructure"))
    subject = check_subject(entry.get("Subject"))
    attributes = message_attributes_in(entry.get("MessageAttributes"))
    check_size(message, attributes)
    return {"message": message, "subject": subject, "attributes": attributes, "per_protocol": per_protocol,
            **ids}


def _publish(topic: Topic, prepared: dict) -> dict:
    """{"MessageId"} and, on a FIFO topic, "SequenceNumber" (a duplicate
    within the window answers with the first message's, as SNS does)."""
    try:
        msg = topics.publish(
            topic, prepared["message"], prepared["subject"], prepared["attributes"],
            keep_labels=True, per_protocol=prepared["per_protocol"],
            group_id=prepared.get("group_id"), dedup_id=prepared.get("dedup_id"),
        )
    except MessagingError as e:
        raise invalid(e.message) from None
    answer = {"MessageId": str(msg.message_id)}
    if msg.sequence is not None:
        answer["SequenceNumber"] = fifo.sequence_text(msg.sequence)
    return answer


def publish(context: services.Context, params: dict) -> dict:
    if params.get("PhoneNumber"):
        raise invalid("PhoneNumber Reason: Stratus does not send SMS; publish to a topic")
    arn = params.get("TopicArn") or params.get("TargetArn")
    if not arn:
        raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
    topic = topic_for(context.team, arn, "TopicArn" if params.get("TopicArn") else "TargetArn", cached=True)
    return _publish(topic, _prepare(topic, params))


def publish_batch(context: services.Context, params: dict) -> dict:
    topic = topic_for(context.team, params.get("TopicArn"), cached=True)
    entries = params.get("PublishBatchRequestEntries") or []
    if not entries:
        raise error("EmptyBatchRequest", "The batch request doesn't contain any entries.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise error(
            "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible."
        )
    seen = set()
    for entry in entries:
        ident = entry.get("Id")
        if not isinstance(ident, str) or not BATCH_ID_RE.fullmatch(ident):
            raise error(
                "InvalidBatchEntryId",
                "The Id of a batch entry in a batch request doesn't abide by the specification.",
            )
        if ident in seen:
            raise error(
                "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id."
            )
        seen.add(ident)
    size = sum(len((e.get("Message") or "").encode()) for e in entries)
    if size > MAX_MESSAGE_BYTES:
        raise error(
            "BatchRequestTooLong", "The length of all the messages put together is more than the limit."
        )
    good, failed = [], []
    for entry in entries:
        try:
            good.append({"Id": entry["Id"], **_publish(topic, _prepare(topic, entry))})
        except ServiceError as e:
            failed.append(
                {"Id": entry["Id"], "Code": e.code, "Message": e.message, "SenderFault": e.sender_fault}
            )
    return {"Successful": good, "Failed": failed}


def register() -> None:
    services.register(
        "sns",
        {
            "CreateTopic": create_topic,
            "DeleteTopic": delete_topic,
            "ListTopics": list_topics,
            "GetTopicAttributes": get_topic_attributes,
            "SetTopicAttributes": set_topic_attributes,
            "Subscribe": subscribe,
            "ConfirmSubscription": confirm_subscription,
            "Unsubscribe": unsubscribe,
            "ListSubscriptions": list_subscriptions,
            "ListSubscriptionsByTopic": list_subscriptions_by_topic,
            "GetSubscriptionAttributes": get_subscription_attributes,
            "SetSubscriptionAttributes": set_subscription_attributes,
            "Publish": publish,
            "PublishBatch": publish_batch,
        },
        reads={
            "ListTopics", "GetTopicAttributes", "ListSubscriptions", "ListSubscriptionsByTopic",
            "GetSubscriptionAttributes",
        },
        denied_code="AuthorizationError",
        resources=iam_resources.sns,
    )
