"""What SQS's API says that the console does not: its errors (named after
AWS's codes, with AWS's messages), queue URLs, queue attributes as strings,
message attributes in the API's shape (the MD5 digests SQS returns live
in messaging.digests). Used by messaging.sqs_api; no HTTP here."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlsplit

from django.utils import timezone

from awsapi.protocols import ServiceError
from messaging import copies, fifo, queues
from messaging.api import find_queue_by_arn
# Still reachable here only for tests/unit/test_sqs_api.py, which names
# them so; code imports them from messaging.digests, their one place.
from messaging.digests import md5_of_attributes, md5_of_body  # noqa: F401
from messaging.models import Queue, QueueMessage
from messaging.validation import MAX_DELAY_S, MAX_MESSAGE_BYTES, MAX_VISIBILITY_TIMEOUT_S

# The codes SQS's query clients know, for x-amzn-query-error (botocore's
# JSON model of SQS no longer carries them).
QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidParameterValueException": "InvalidParameterValue",
    "MissingParameterException": "MissingParameter",
}


def error(code: str, message: str) -> ServiceError:
    return ServiceError(code, message, query_code=QUERY_CODES.get(code, code))


def invalid_parameter(message: str) -> ServiceError:
    return error("InvalidParameterValueException", message)


def missing(name: str) -> ServiceError:
    return error("MissingParameterException", f"The request must contain the parameter {name}.")


def no_queue() -> ServiceError:
    return error("QueueDoesNotExist", "The specified queue does not exist.")


def required(params: dict, name: str):
    value = params.get(name)
    if value is None or value == "":
        raise missing(name)
    return value


# Queues ----------------------------------------------------------------------


def queue_url(endpoint: str, queue: Queue) -> str:
    """`http://<host>/<account id>/<queue name>`, as SQS forms them."""
    return f"{endpoint}/{queue.team.account_id}/{queue.name}"


def queue_for(team, url: str, *, cached: bool = False) -> Queue:
    """The team's queue a QueueUrl names (any host: clients reach us by
    many names); QueueDoesNotExist for another account or no such queue.
    `cached`: this process's shared copy (messaging.copies), for the
    operations that only read the queue's row."""
    if not isinstance(url, str) or not url:
        raise missing("QueueUrl")
    parts = urlsplit(url).path.strip("/").split("/")
    if len(parts) != 2 or parts[0] != team.account_id:
        raise no_queue()
    if cached:
        queue = copies.queue(team, parts[1])
    else:
        queue = Queue.objects.select_related("team", "dead_letter_queue__team").filter(
            team=team, name=parts[1]
        ).first()
    if queue is None:
        raise no_queue()
    return queue


# Settable attribute -> (model field, low, high).
NUMERIC_ATTRIBUTES = {
    "DelaySeconds": ("delay_s", 0, MAX_DELAY_S),
    "MaximumMessageSize": ("max_message_bytes", 1024, MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": ("retention_s", 60, 14 * 24 * 60 * 60),
    "ReceiveMessageWaitTimeSeconds": ("receive_wait_s", 0, 20),
    "VisibilityTimeout": ("visibility_timeout_s", 0, MAX_VISIBILITY_TIMEOUT_S),
}
# SQS attributes Stratus does not have (yet): refused by name, not ignored.
UNSUPPORTED_ATTRIBUTES = {
    "Policy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
    "RedriveAllowPolicy",
}
# FIFO queues' attributes: on a standard queue SQS knows none of them
# (FifoQueue=false aside).
FIFO_ATTRIBUTES = ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
READ_ONLY_ATTRIBUTES = {
    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
}
ALL_ATTRIBUTES = [
    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "DelaySeconds",
    "LastModifiedTimestamp", "MaximumMessageSize", "MessageRetentionPeriod", "QueueArn",
    "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "VisibilityTimeout", *FIFO_ATTRIBUTES,
]
_COUNTS = range(1, 1001)


def int_value(name: str, value, low: int, high: int) -> int:
    """A whole number in [low, high] from an attribute's string; AWS's
    InvalidAttributeValue otherwise."""
    text = str(value).strip()
    if not re.fullmatch(r"-?\d{1,12}", text) or not low <= int(text) <= high:
        raise error(
            "InvalidAttributeValue",
            f"Invalid value for the parameter {name}: {str(value)[:64]!r} is not a whole number "
            f"from {low} to {high}.",
        )
    return int(text)


def _bool_value(name: str, value) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise error("InvalidAttributeValue", f"Invalid value for the parameter {name}: use true or false.")
    return text == "true"


def _fifo_settings(attributes: dict, queue: Queue | None) -> dict:
    """The FIFO attributes -> fields ({"fifo", "content_based_dedup",
    "dedup_scope", "throughput_limit"}). FifoQueue is set at creation only;
    the others exist on FIFO queues only, as in SQS."""
    fields: dict = {}
    if "FifoQueue" in attributes:
        wanted = _bool_value("FifoQueue", attributes["FifoQueue"])
        if queue is not None:
            if wanted != queue.fifo:
                raise error(
                    "InvalidAttributeValue",
                    "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not "
                    "supported.",
                )
        else:
            fields["fifo"] = wanted
    is_fifo = queue.fifo if queue is not None else fields.get("fifo", False)
    others = [n for n in FIFO_ATTRIBUTES[1:] if n in attributes]
    if others and not is_fifo:
        raise error(
            "InvalidAttributeName",
            f"Unknown Attribute {others[0]}. (It is an attribute of FIFO queues: their names end "
            "with .fifo and they are created with FifoQueue=true.)",
        )
    if "ContentBasedDeduplication" in attributes:
        fields["content_based_dedup"] = _bool_value(
            "ContentBasedDeduplication", attributes["ContentBasedDeduplication"]
        )
    for name, field, allowed in (
        ("DeduplicationScope", "dedup_scope", fifo.DEDUP_SCOPES),
        ("FifoThroughputLimit", "throughput_limit", fifo.THROUGHPUT_LIMITS),
    ):
        if name in attributes:
            if attributes[name] not in allowed:
                raise error(
                    "InvalidAttributeValue",
                    f"Invalid value for the parameter {name}: {str(attributes[name])[:64]!r} "
                    f"(allowed: {', '.join(allowed)}).",
                )
            fields[field] = attributes[name]
    if is_fifo:
        scope = fields.get("dedup_scope", queue.dedup_scope if queue else "queue")
        limit = fields.get("throughput_limit", queue.throughput_limit if queue else "perQueue")
        # High-throughput FIFO: throughput per message group needs
        # deduplication per message group (SQS Developer Guide).
        if limit == "perMessageGroupId" and scope != "messageGroup":
            raise error(
                "InvalidAttributeValue",
                "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId "
                "requires DeduplicationScope messageGroup.",
            )
    return fields


def settings_from(team, attributes: dict, queue: Queue | None = None) -> dict:
    """Queue attributes (strings, as the API sends them) -> model fields
    {"visibility_timeout_s": 30, "dead_letter_queue": Queue|None, "fifo": bool, ...},
    every one checked before anything is stored. `queue`: the queue being
    changed (SetQueueAttributes), None for CreateQueue."""
    attributes = attributes or {}
    fields: dict = _fifo_settings(attributes, queue)
    is_fifo = queue.fifo if queue is not None else fields.get("fifo", False)
    for name, value in attributes.items():
        if name in FIFO_ATTRIBUTES:
            continue
        if name in NUMERIC_ATTRIBUTES:
            field, low, high = NUMERIC_ATTRIBUTES[name]
            fields[field] = int_value(name, value, low, high)
        elif name == "RedrivePolicy":
            fields.update(_redrive_policy(team, value, queue, is_fifo))
        elif name in UNSUPPORTED_ATTRIBUTES:
            raise error(
                "InvalidAttributeName",
                f"Stratus does not support the queue attribute {name}; leave it out "
                "(supported: DelaySeconds, MaximumMessageSize, MessageRetentionPeriod, "
                "ReceiveMessageWaitTimeSeconds, RedrivePolicy, VisibilityTimeout and, for FIFO queues, "
                "FifoQueue, ContentBasedDeduplication, DeduplicationScope, FifoThroughputLimit).",
            )
        else:
            raise error("InvalidAttributeName", f"Unknown Attribute {name}.")
    return fields


def _redrive_policy(team, value, queue: Queue | None, is_fifo: bool) -> dict:
    if value in ("", None):
        return {"dead_letter_queue": None}
    problem = None
    try:
        policy = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        policy, problem = None, "it is not a JSON object"
    if problem is None and not isinstance(policy, dict):
        problem = "it is not a JSON object"
    if problem is None:
        arn, count = policy.get("deadLetterTargetArn"), policy.get("maxReceiveCount")
        dlq = find_queue_by_arn(team, arn) if isinstance(arn, str) else None
        if not isinstance(arn, str) or not arn:
            problem = "deadLetterTargetArn is missing"
        elif dlq is None:
            problem = "Dead letter target does not exist"
        elif queue is not None and dlq.pk == queue.pk:
            problem = "a queue cannot be its own dead-letter queue"
        elif dlq.fifo != is_fifo:
            problem = queues.DLQ_TYPE_MISMATCH.rstrip(".")
        elif isinstance(count, bool) or not re.fullmatch(r"\d{1,4}", str(count)) or int(count) not in _COUNTS:
            problem = "maxReceiveCount must be a whole number from 1 to 1000"
    if problem:
        raise error(
            "InvalidAttributeValue",
            f"Value {str(value)[:256]} for parameter RedrivePolicy is invalid. Reason: {problem}.",
        )
    return {"dead_letter_queue": dlq, "max_receive_count": int(count)}


def attributes_of(queue: Queue, names: list[str] | None) -> dict:
    """GetQueueAttributes: the asked names ("All" for every one), as strings.
    Attributes a queue does not have (no RedrivePolicy, SQS's unsupported
    ones) are left out, as SQS leaves out what is not set."""
    wanted: list[str] = []
    for name in names or []:
        if name == "All":
            wanted = list(ALL_ATTRIBUTES)
            break
        if name not in ALL_ATTRIBUTES and name not in UNSUPPORTED_ATTRIBUTES:
            raise error("InvalidAttributeName", f"Unknown Attribute {name}.")
        wanted.append(name)
    if not wanted:
        return {}
    values = {
        "CreatedTimestamp": str(int(queue.created_at.timestamp())),
        "DelaySeconds": str(queue.delay_s),
        "LastModifiedTimestamp": str(int(queue.updated_at.timestamp())),
        "MaximumMessageSize": str(queue.max_message_bytes),
        "MessageRetentionPeriod": str(queue.retention_s),
        "QueueArn": queue.arn,
        "ReceiveMessageWaitTimeSeconds": str(queue.receive_wait_s),
        "VisibilityTimeout": str(queue.visibility_timeout_s),
    }
    if queue.fifo:
        values.update({
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true" if queue.content_based_dedup else "false",
            "DeduplicationScope": queue.dedup_scope,
            "FifoThroughputLimit": queue.throughput_limit,
        })
    if queue.dead_letter_queue is not None:
        values["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": queue.dead_letter_queue.arn, "maxReceiveCount": queue.max_receive_count},
            separators=(",", ":"),
        )
    if any(n.startswith("Approximate") for n in wanted):
        counted = queues.counts(queue, timezone.now())
        values["ApproximateNumberOfMessages"] = str(counted["visible"])
        values["ApproximateNumberOfMessagesNotVisible"] = str(counted["in_flight"])
        values["ApproximateNumberOfMessagesDelayed"] = str(counted["delayed"])
    return {n: values[n] for n in wanted if n in values}


# Messages ----------------------------------------------------------------------

# SQS's allowed characters: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF
_BAD_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check_body(body) -> str:
    if body is None or body == "":
        raise missing("MessageBody")
    if not isinstance(body, str):
        raise invalid_parameter(f"MessageBody must be a string, not {type(body).__name__}.")
    bad = _BAD_CHARACTER.search(body)
    if bad:
        raise error(
            "InvalidMessageContents",
            f"Invalid characters found. The message contains U+{ord(bad.group()):04X}, which SQS "
            "does not allow; allowed are #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and "
            "#x10000 to #x10FFFF.",
        )
    return body


def attributes_in(attributes: dict | None) -> dict:
    """The API's MessageAttributes -> what messaging.validation cleans
    ({"DataType", "StringValue"}; Binary values as base64 text)."""
    converted = {}
    for name, value in (attributes or {}).items():
        kind = value.get("DataType")
        if not kind:
            raise invalid_parameter(
                f"The message attribute '{name}' must contain non-empty message attribute type."
            )
        if kind.split(".", 1)[0] not in ("String", "Number", "Binary"):
            # SQS's words for an unknown type prefix.
            raise invalid_parameter(
                f"The type of message (user) attribute '{name}' is invalid. You must use only the "
                "following supported type prefixes: Binary, Number, String."
            )
        binary = kind.split(".", 1)[0] == "Binary"
        raw = value.get("BinaryValue" if binary else "StringValue")
        if raw is None or raw in ("", b""):
            raise invalid_parameter(
                f"The message attribute '{name}' must contain non-empty message attribute value "
                f"for message attribute type '{kind.split('.', 1)[0]}'."
            )
        if binary:
            raw = base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()
        converted[name] = {"DataType": kind, "StringValue": raw}
    return converted


def attributes_out(stored: dict, names: list[str] | None) -> dict:
    """Stored attributes -> the API's MessageAttributes, those `names` asks
    for ("All" or ".*" for every one, "prefix.*" for a prefix)."""
    if not names:
        return {}
    out = {}
    for name in sorted(stored):
        if not any(
            n in ("All", ".*") or n == name or (n.endswith(".*") and name.startswith(n[:-1]))
            for n in names
        ):
            continue
        kind, value = stored[name]["Type"], stored[name]["Value"]
        if kind.split(".", 1)[0] == "Binary":
            out[name] = {"DataType": kind, "BinaryValue": base64.b64decode(value)}
        else:
            out[name] = {"DataType": kind, "StringValue": value}
    return out


SYSTEM_ATTRIBUTES = [
    "SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
    "DeadLetterQueueSourceArn", "MessageGroupId", "MessageDeduplicationId", "SequenceNumber",
]


def system_attributes(msg: QueueMessage, names: list[str]) -> dict:
    """The message's system attributes that `names` asks for ("All" for every one)."""
    if not names:
        return {}
    every = "All" in names
    values = {
        "SenderId": msg.sender_id,
        "SentTimestamp": queues.ms(msg.sent_at),
        "ApproximateReceiveCount": str(msg.receive_count),
        "ApproximateFirstReceiveTimestamp": queues.ms(msg.first_received_at or msg.sent_at),
    }
    if msg.source_queue_id:
        values["DeadLetterQueueSourceArn"] = msg.source_queue.arn
    if msg.sequence is not None:  # FIFO queues' messages only.
        values["MessageGroupId"] = msg.group_id
        values["MessageDeduplicationId"] = msg.dedup_id
        values["SequenceNumber"] = fifo.sequence_text(msg.sequence)
    return {k: v for k, v in values.items() if every or k in names}
