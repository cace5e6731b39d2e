"""What SNS's API says that the console does not: its errors (named after
AWS's codes, with AWS's messages), resolving topic, subscription and
endpoint ARNs within the caller's account, topic and subscription
attributes as strings, and message attributes in the API's shape.
Used by messaging.sns_api; no HTTP here."""

from __future__ import annotations

import base64
import json
import re
import uuid

from django.conf import settings

from awsapi import arns
from awsapi.protocols import ServiceError
from functions import qualifiers
from functions.models import Function, Team
from messaging import copies, filter_policy
from messaging.models import Queue, Subscription, Topic
from messaging.validation import (
    MAX_MESSAGE_BYTES,
    MAX_SUBJECT_CHARS,
    MessagingError,
    clean_attributes,
    message_size,
)

MAX_DISPLAY_NAME = 100
MAX_POLICY_BYTES = 30 * 1024
_STATUS = {"NotFound": 404, "AuthorizationError": 403}


def error(code: str, message: str) -> ServiceError:
    return ServiceError(code, message, status=_STATUS.get(code, 400))


def invalid(message: str) -> ServiceError:
    """SNS's InvalidParameter: the message starts "Invalid parameter: "."""
    return error("InvalidParameter", f"Invalid parameter: {message}")


def invalid_value(message: str) -> ServiceError:
    """SNS's InvalidParameterValue (its code on the wire: ParameterValueInvalid)."""
    return error("ParameterValueInvalid", message)


def required(params: dict, name: str, label: str | None = None) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise invalid(label or name)
    return value


# ARNs --------------------------------------------------------------------------------


def _own_arn(team: Team, text, service: str, what: str) -> arns.Arn:
    """An ARN of `service` in this region; AuthorizationError for another
    account's (the team's key may not touch it), InvalidParameter otherwise."""
    try:
        arn = arns.parse(text)
    except arns.ArnError:
        raise invalid(f"{what} Reason: An ARN must have at least 6 elements, not "
                      f"{len(str(text).split(':'))}") from None
    if arn.service != service:
        raise invalid(f"{what} Reason: {text} is not an {service} ARN")
    if arn.region != settings.STRATUS_REGION:
        raise invalid(f"{what} Reason: {text} is in the region {arn.region}; "
                      f"this endpoint serves {settings.STRATUS_REGION}")
    if arn.account != team.account_id:
        raise error(
            "AuthorizationError",
            f"The account {team.account_id} is not authorized to access {text}: "
            "it belongs to another account.",
        )
    return arn


def topic_for(team: Team, text, name: str = "TopicArn", *, cached: bool = False) -> Topic:
    """The team's topic an ARN names, else NotFound. `cached`: this
    process's shared copy (messaging.copies), for operations that only read it."""
    if not text:
        raise invalid(name)
    arn = _own_arn(team, text, "sns", name)
    if ":" in arn.resource:
        raise invalid(f"{name} Reason: {text} is a subscription ARN, not a topic ARN")
    if cached:
        topic = copies.topic(team, arn.resource)
    else:
        topic = Topic.objects.select_related("team").filter(team=team, name=arn.resource).first()
    if topic is None:
        raise error("NotFound", "Topic does not exist")
    return topic


def subscription_for(team: Team, text) -> Subscription:
    if not text:
        raise invalid("SubscriptionArn")
    arn = _own_arn(team, text, "sns", "SubscriptionArn")
    topic_name, _, ident = arn.resource.partition(":")
    if not ident:
        raise invalid("SubscriptionId")
    try:
        ident = uuid.UUID(ident)
    except ValueError:
        raise error("NotFound", "Subscription does not exist") from None
    sub = Subscription.objects.select_related("topic__team", "function__team", "queue__team").filter(
        topic__team=team, topic__name=topic_name, id=ident
    ).first()
    if sub is None:
        raise error("NotFound", "Subscription does not exist")
    return sub


def function_for(team: Team, endpoint: str) -> Function:
    """The function a `lambda` endpoint names: a function ARN of the
    caller's account, unqualified or with a version or alias that exists
    (`.subscription_qualifier` on the result: "" for none or $LATEST)."""
    arn = _own_arn(team, endpoint, "lambda", "Endpoint")
    parts = arn.resource.split(":")
    if parts[0] != "function" or len(parts) not in (2, 3):
        raise invalid(f"Endpoint Reason: {endpoint} is not a function ARN")
    fn = Function.objects.select_related("team").filter(team=team, name=parts[1]).first()
    if fn is None:
        raise invalid(f"Endpoint Reason: no function named {parts[1]} in the account {team.account_id}")
    qualifier = parts[2] if len(parts) == 3 and parts[2] != qualifiers.LATEST else ""
    if qualifier:
        try:
            qualifiers.resolve(fn, qualifier)
        except qualifiers.QualifierNotFound:
            raise invalid(
                f"Endpoint Reason: the function {fn.name} has no version or alias {qualifier}"
            ) from None
    fn.subscription_qualifier = qualifier
    return fn


def queue_for(team: Team, endpoint: str) -> Queue:
    """The queue an `sqs` endpoint names: a queue ARN of the caller's account."""
    arn = _own_arn(team, endpoint, "sqs", "Endpoint")
    queue = Queue.objects.select_related("team").filter(team=team, name=arn.resource).first()
    if queue is None:
        raise invalid(f"Endpoint Reason: no queue named {arn.resource} in the account {team.account_id}")
    return queue


# Topic attributes ---------------------------------------------------------------------

SETTABLE_TOPIC_ATTRIBUTES = ("DisplayName", "Policy", "SignatureVersion")
# SNS attributes Stratus does not have (yet): refused by name, not ignored.
UNSUPPORTED_TOPIC_ATTRIBUTES = {
    "DeliveryPolicy", "KmsMasterKeyId", "TracingConfig", "FifoTopic",
    "ContentBasedDeduplication", "ArchivePolicy", "FifoThroughputScope", "DataProtectionPolicy",
    "ApplicationSuccessFeedbackRoleArn", "ApplicationSuccessFeedbackSampleRate",
    "ApplicationFailureFeedbackRoleArn", "HTTPSuccessFeedbackRoleArn", "HTTPSuccessFeedbackSampleRate",
    "HTTPFailureFeedbackRoleArn", "LambdaSuccessFeedbackRoleArn", "LambdaSuccessFeedbackSampleRate",
    "LambdaFailureFeedbackRoleArn", "SQSSuccessFeedbackRoleArn", "SQSSuccessFeedbackSampleRate",
    "SQSFailureFeedbackRoleArn", "FirehoseSuccessFeedbackRoleArn", "FirehoseSuccessFeedbackSampleRate",
    "FirehoseFailureFeedbackRoleArn",
}
EFFECTIVE_DELIVERY_POLICY = json.dumps({
    "http": {
        "defaultHealthyRetryPolicy": {
            "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear",
        },
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
}, separators=(",", ":"))


def default_policy(topic: Topic) -> str:
    """The policy SNS gives a new topic: its owner account may do everything."""
    return json.dumps({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish",
            ],
            "Resource": topic.arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": topic.team.account_id}},
        }],
    }, separators=(",", ":"))


def topic_setting(name: str, value) -> tuple[str, str]:
    """(model field, value) for a settable topic attribute, checked."""
    if name in UNSUPPORTED_TOPIC_ATTRIBUTES:
        if name == "FifoTopic" and str(value).lower() == "false":
            return "", ""
        raise invalid(
            f"AttributeName Reason: Stratus does not support the topic attribute {name} yet "
            f"(supported: {', '.join(SETTABLE_TOPIC_ATTRIBUTES)})"
        )
    if name not in SETTABLE_TOPIC_ATTRIBUTES:
        raise invalid("AttributeName")
    value = "" if value is None else str(value)
    if name == "DisplayName":
        if len(value) > MAX_DISPLAY_NAME:
            raise invalid(f"DisplayName Reason: at most {MAX_DISPLAY_NAME} characters")
        return "display_name", value
    if name == "SignatureVersion":
        if value not in ("1", "2"):
            raise invalid("SignatureVersion Reason: must be 1 (SHA1withRSA) or 2 (SHA256withRSA)")
        return "signature_version", value
    return "policy", _check_policy(value)


def _check_policy(text: str) -> str:
    """A topic policy is kept as the text given (Stratus does not enforce
    it); it must at least be a JSON policy document."""
    if text == "":
        return ""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise invalid(f"Policy Error: the policy is longer than {MAX_POLICY_BYTES} bytes")
    try:
        policy = json.loads(text)
    except (ValueError, RecursionError):
        raise invalid("Policy Error: the policy is not valid JSON") from None
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements or not all(
        isinstance(s, dict) and s.get("Effect") in ("Allow", "Deny") for s in statements
    ):
        raise invalid('Policy Error: a policy is an object with a "Statement" list whose statements '
                      'have "Effect": "Allow" or "Deny"')
    return text


def topic_attributes(topic: Topic) -> dict:
    pending = topic.subscriptions.filter(pending=True).count()
    counted = topic.subscriptions.count() - pending
    return {
        "TopicArn": topic.arn,
        "Owner": topic.team.account_id,
        "Policy": topic.policy or default_policy(topic),
        "DisplayName": topic.display_name,
        "SubscriptionsConfirmed": str(counted),
        "SubscriptionsPending": str(pending),
        "SubscriptionsDeleted": str(topic.subscriptions_deleted),
        "EffectiveDeliveryPolicy": EFFECTIVE_DELIVERY_POLICY,
        "SignatureVersion": topic.signature_version,
    }


# Subscription attributes --------------------------------------------------------------

SETTABLE_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery")
UNSUPPORTED_SUBSCRIPTION_ATTRIBUTES = {
    "DeliveryPolicy", "RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy",
}


def subscription_settings(
    attributes: dict | None, protocol: str, current: Subscription | None = None
) -> dict:
    """Subscription attributes (strings) -> model fields, every one checked
    before anything is stored; the policy is checked against the scope it
    will have."""
    attributes = attributes or {}
    fields: dict = {}
    for name, value in attributes.items():
        if name in UNSUPPORTED_SUBSCRIPTION_ATTRIBUTES:
            raise invalid(
                f"Attributes Reason: Stratus does not support the subscription attribute {name} yet "
                f"(supported: {', '.join(SETTABLE_SUBSCRIPTION_ATTRIBUTES)})"
            )
        if name not in SETTABLE_SUBSCRIPTION_ATTRIBUTES:
            raise invalid(f"Attributes Reason: Unknown attribute {name}")
        value = "" if value is None else str(value)
        if name == "RawMessageDelivery":
            if value.lower() not in ("true", "false"):
                raise invalid("Attributes Reason: RawMessageDelivery: Invalid value [" + value + "]. "
                              "Must be true or false.")
            if protocol not in ("sqs", "http", "https") and value.lower() == "true":
                raise invalid(
                    f"Attributes Reason: Delivery protocol [{protocol}] does not support raw "
                    "message delivery."
                )
            fields["raw_message_delivery"] = value.lower() == "true"
        elif name == "FilterPolicyScope":
            if value not in filter_policy.SCOPES:
                raise invalid(f"Attributes Reason: FilterPolicyScope: Invalid value [{value}]. "
                              "Please use either MessageBody or MessageAttributes")
            fields["filter_policy_scope"] = value
        else:
            fields["filter_policy_text"] = value
    scope = fields.get("filter_policy_scope") or (
        current.filter_policy_scope if current else filter_policy.ATTRIBUTES
    )
    if "filter_policy_text" in fields or ("filter_policy_scope" in fields and current is not None):
        text = fields.pop("filter_policy_text", None)
        try:
            if text is not None:
                fields["filter_policy"] = filter_policy.parse(text, scope)
            else:
                fields["filter_policy"] = filter_policy.validate(current.filter_policy, scope)
        except MessagingError as e:
            raise invalid(f"FilterPolicy: {e.message}") from None
    fields.setdefault("filter_policy_scope", scope)
    return fields


def subscription_attributes(sub: Subscription) -> dict:
    attributes = {
        "SubscriptionArn": sub.arn,
        "TopicArn": sub.topic.arn,
        "Owner": sub.topic.team.account_id,
        "Protocol": sub.protocol,
        "Endpoint": sub.endpoint,
        # Nothing was confirmed, authenticated or not, while still pending.
        "ConfirmationWasAuthenticated": (
            "true" if sub.confirmation_authenticated and not sub.pending else "false"
        ),
        "PendingConfirmation": "true" if sub.pending else "false",
        "RawMessageDelivery": "true" if sub.raw_message_delivery else "false",
    }
    if sub.filter_policy is not None:
        attributes["FilterPolicy"] = json.dumps(sub.filter_policy)
        attributes["FilterPolicyScope"] = sub.filter_policy_scope
    return attributes


def subscription_summary(sub: Subscription) -> dict:
    """A ListSubscriptions(ByTopic) entry; a subscription still waiting for
    its endpoint's confirmation is listed as "PendingConfirmation", as SNS
    lists it."""
    return {
        "SubscriptionArn": "PendingConfirmation" if sub.pending else sub.arn,
        "Owner": sub.topic.team.account_id, "Protocol": sub.protocol,
        "Endpoint": sub.endpoint, "TopicArn": sub.topic.arn,
    }


# Messages -----------------------------------------------------------------------------

_SUBJECT_RE = re.compile(rf"^[\x20-\x7e]{{1,{MAX_SUBJECT_CHARS}}}$")
_TYPES = ("String", "Number", "Binary")


def check_subject(subject) -> str | None:
    """SNS's subject: ASCII text on one line, up to 100 characters,
    starting with a letter, a digit or punctuation."""
    if subject is None:
        return None
    if not isinstance(subject, str) or not _SUBJECT_RE.fullmatch(subject) or subject[0] == " ":
        raise invalid("Subject")
    return subject


def check_message(message, structure) -> tuple[str, bool]:
    """(message, per_protocol) after SNS's checks; MessageStructure=json
    takes an object of strings with a "default" one."""
    if not isinstance(message, str) or message == "":
        raise invalid("Empty message")
    if structure is None:
        return message, False
    if structure != "json":
        raise invalid("MessageStructure")
    try:
        texts = json.loads(message)
    except (ValueError, RecursionError):
        raise invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(texts, dict) or not isinstance(texts.get("default"), str):
        raise invalid("Message Structure - No default entry in JSON message body")
    if not all(isinstance(v, str) for v in texts.values()):
        raise invalid("Message Structure - every protocol's message must be a string")
    return message, True


def message_attributes_in(attributes: dict | None) -> dict:
    """The API's MessageAttributes -> the stored form {"name": {"Type", "Value"}},
    type labels kept ("String.Array", "Number.float"), Binary as base64 text."""
    converted = {}
    for name, value in (attributes or {}).items():
        kind = value.get("DataType")
        if not kind:
            raise invalid_value(
                f"The message attribute '{name}' must contain non-empty message attribute type."
            )
        base = kind.split(".", 1)[0]
        if base not in _TYPES:
            raise invalid_value(
                f"The message attribute '{name}' has an invalid message attribute type, the set of "
                "supported type prefixes is Binary, Number, and String."
            )
        raw = value.get("BinaryValue" if base == "Binary" else "StringValue")
        if raw is None or raw in ("", b""):
            raise invalid_value(
                f"The message attribute '{name}' must contain non-empty message attribute value for "
                f"message attribute type '{base}'."
            )
        if base == "Binary":
            raw = base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()
        elif base == "Number":
            try:
                float(raw)
            except ValueError:
                raise invalid_value(f"Could not cast message attribute '{name}' value to number.") from None
        elif kind == "String.Array":
            _check_array(name, raw)
        converted[name] = {"DataType": kind, "StringValue": raw}
    try:
        return clean_attributes(converted, keep_labels=True)
    except MessagingError as e:
        raise invalid_value(e.message) from None


def _check_array(name: str, raw: str) -> None:
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        items = None
    if not isinstance(items, list) or not all(
        item is None or isinstance(item, str | bool | int | float) for item in items
    ):
        raise invalid_value(
            f"The message attribute '{name}' with type 'String.Array' has an invalid value: it must be "
            "a JSON array of strings, numbers, true, false or null."
        )


def check_size(message: str, attributes: dict) -> None:
    if message_size(message, attributes) > MAX_MESSAGE_BYTES:
        raise invalid("Message too long")
