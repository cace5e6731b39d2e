"""SNS FIFO topics on the wire: the FifoTopic and ContentBasedDeduplication
attributes, which endpoints a FIFO topic takes, and Publish's
MessageGroupId / MessageDeduplicationId, with SNS's errors (InvalidParameter,
"Invalid parameter: ..."). The rules shared with SQS are in messaging.fifo;
used by messaging.sns_api, no HTTP here. Source: the SNS Developer Guide,
"FIFO topics" (ordering, deduplication, SQS FIFO queues as the only
subscribers)."""

from __future__ import annotations

from messaging import fifo
from messaging.models import Topic
from messaging.sns_wire import invalid
from messaging.validation import TOPIC_NAME_RE

# Topic attributes of FIFO topics (FifoThroughputScope: SNS's "Topic" or
# "MessageGroup"; accepted, Stratus has one throughput either way).
TOPIC_ATTRIBUTES = ("FifoTopic", "ContentBasedDeduplication", "FifoThroughputScope")
THROUGHPUT_SCOPES = ("Topic", "MessageGroup")


def _bool(name: str, value) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise invalid(f"Attributes Reason: {name}: Invalid value [{value}]. Must be true or false.")
    return text == "true"


def create_fields(name, attributes: dict) -> dict:
    """CreateTopic: take the FIFO attributes out of `attributes` (changed in
    place) and return the topic's fields {"fifo", "content_based_dedup"},
    after checking the name against FifoTopic as SNS does."""
    wanted = _bool("FifoTopic", attributes.pop("FifoTopic")) if "FifoTopic" in attributes else False
    content = attributes.pop("ContentBasedDeduplication", None)
    scope = attributes.pop("FifoThroughputScope", None)
    if wanted:
        if not isinstance(name, str) or not fifo.FIFO_TOPIC_NAME_RE.fullmatch(name):
            raise invalid(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and "
                "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and "
                "256 characters long."
            )
    elif fifo.is_fifo_name(name):
        raise invalid("Topic Name Reason: a name ending with .fifo is a FIFO topic's: add the "
                      "attribute FifoTopic=true")
    elif not isinstance(name, str) or not TOPIC_NAME_RE.fullmatch(name):
        raise invalid("Topic Name")
    fields = {"fifo": wanted}
    if content is not None or scope is not None:
        if not wanted:
            raise invalid("Attributes Reason: ContentBasedDeduplication and FifoThroughputScope are "
                          "attributes of FIFO topics (FifoTopic=true)")
        if scope is not None and scope not in THROUGHPUT_SCOPES:
            raise invalid(f"Attributes Reason: FifoThroughputScope: Invalid value [{scope}]. "
                          f"Must be {' or '.join(THROUGHPUT_SCOPES)}.")
        if content is not None:
            fields["content_based_dedup"] = _bool("ContentBasedDeduplication", content)
    return fields


def set_field(topic: Topic, name: str, value) -> tuple[str, object]:
    """SetTopicAttributes of a FIFO attribute -> (model field or "", value).
    FifoTopic cannot change; the others exist on FIFO topics only."""
    if name == "FifoTopic":
        if _bool(name, value) != topic.fifo:
            raise invalid("AttributeName Reason: FifoTopic cannot be changed after the topic is created")
        return "", None
    if not topic.fifo:
        raise invalid(f"AttributeName Reason: {name} is an attribute of FIFO topics only")
    if name == "FifoThroughputScope":
        if value not in THROUGHPUT_SCOPES:
            raise invalid(
                f"AttributeValue Reason: FifoThroughputScope must be {' or '.join(THROUGHPUT_SCOPES)}"
            )
        return "", None
    return "content_based_dedup", _bool(name, value)


def attributes_of(topic: Topic) -> dict:
    """GetTopicAttributes' FIFO entries (none for a standard topic)."""
    if not topic.fifo:
        return {}
    return {
        "FifoTopic": "true",
        "ContentBasedDeduplication": "true" if topic.content_based_dedup else "false",
    }


def check_subscription(topic: Topic, protocol: str, target) -> None:
    """A FIFO topic delivers to SQS FIFO queues only; a FIFO queue takes
    messages from FIFO topics only (SNS's rule and its messages)."""
    if topic.fifo:
        if protocol != "sqs":
            raise invalid(f"Protocol Reason: FIFO topics deliver to SQS FIFO queues only, not to {protocol} "
                          "endpoints")
        if not target.fifo:
            raise invalid("Endpoint Reason: Please use FIFO SQS queue")
    elif protocol == "sqs" and target.fifo:
        raise invalid("Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to "
                      "standard SNS topics")


def publish_ids(topic: Topic, entry: dict) -> dict:
    """Publish's (or a batch entry's) {"group_id", "dedup_id"} for
    topics.publish: required and checked on FIFO topics, refused on
    standard ones, as SNS does."""
    group, dedup = entry.get("MessageGroupId"), entry.get("MessageDeduplicationId")
    if not topic.fifo:
        for name, value in (("MessageGroupId", group), ("MessageDeduplicationId", dedup)):
            if value is not None:
                raise invalid(f"The request includes {name} parameter that is not valid for this topic type")
        return {}
    if not group:
        raise invalid("The MessageGroupId parameter is required for FIFO topics")
    for name, value in (("MessageGroupId", group), ("MessageDeduplicationId", dedup)):
        if value is not None and not fifo.ID_RE.fullmatch(value):
            raise invalid(f"{name} Reason: {name} can only include alphanumeric and punctuation characters. "
                          "1 to 128 in length.")
    if not dedup and not topic.content_based_dedup:
        raise invalid("The topic should either have ContentBasedDeduplication enabled or "
                      "MessageDeduplicationId provided explicitly")
    return {"group_id": group, "dedup_id": dedup}
