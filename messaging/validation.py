"""Checks shared by the console forms, the JSON API and messaging.api, so
every door gives the same answer. Each error names the field it belongs to."""

import re

from invocations.models import PRIORITIES

TOPIC_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# SNS and SQS both cap a message (body plus attributes) at 256 KB.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_SUBJECT_CHARS = 100
MAX_DELAY_S = 900
MAX_VISIBILITY_TIMEOUT_S = 12 * 60 * 60
MAX_ATTRIBUTES = 10
ATTRIBUTE_TYPES = ("String", "Number", "Binary")


class MessagingError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def clean_topic_name(name) -> str:
    if not isinstance(name, str) or not TOPIC_NAME_RE.fullmatch(name):
        raise MessagingError(
            "The topic name must be 1 to 256 letters, digits, hyphens or underscores.", "name"
        )
    return name


def clean_queue_name(name) -> str:
    if not isinstance(name, str) or not QUEUE_NAME_RE.fullmatch(name):
        raise MessagingError(
            "The queue name must be 1 to 80 letters, digits, hyphens or underscores.", "name"
        )
    return name


def clean_priority(priority) -> str:
    if priority not in dict(PRIORITIES):
        raise MessagingError("Priority must be high, normal or low.", "priority")
    return priority


def clean_int(value, field: str, label: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        value = None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MessagingError(f"{label} must be a whole number from {low} to {high}.", field) from None
    if not low <= number <= high:
        raise MessagingError(f"{label} must be from {low} to {high}, not {number}.", field)
    return number


# A data type with SQS's custom label: "Number.float", "String.uuid".
DATA_TYPE_RE = re.compile(r"^(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$")


def _one_attribute(name: str, value, keep_labels: bool = False) -> dict:
    """Accepts a plain string or number, the publish/send API shape
    {"DataType", "StringValue"|"BinaryValue"}, or the event shape {"Type", "Value"}.
    With `keep_labels` the type keeps its custom label ("Number.float"),
    as SQS keeps it; otherwise it is the base type."""
    if isinstance(value, bool):
        raise MessagingError(f"Attribute {name!r}: use the string 'true' or 'false'.", "attributes")
    if isinstance(value, str):
        return {"Type": "String", "Value": value}
    if isinstance(value, int | float):
        return {"Type": "Number", "Value": str(value)}
    if isinstance(value, dict):
        kind = value.get("DataType", value.get("Type"))
        raw = value.get("StringValue", value.get("BinaryValue", value.get("Value")))
        base = kind.split(".", 1)[0] if isinstance(kind, str) else None
        if keep_labels and base in ATTRIBUTE_TYPES and (len(kind) > 256 or not DATA_TYPE_RE.match(kind)):
            raise MessagingError(
                f"Attribute {name!r} has the data type {kind!r}: use String, Number or Binary, "
                "optionally followed by '.' and a label of letters, digits, '_', '-' or '.'.",
                "attributes",
            )
        if base in ATTRIBUTE_TYPES and isinstance(raw, str | int | float) and not isinstance(raw, bool):
            if base == "Number":
                try:
                    float(raw)
                except ValueError:
                    raise MessagingError(
                        f"Attribute {name!r} is a Number but {raw!r} is not a number.", "attributes"
                    ) from None
            return {"Type": kind if keep_labels else base, "Value": str(raw)}
    raise MessagingError(
        f"Attribute {name!r} must be a string, a number, or "
        '{"DataType": "String"|"Number"|"Binary", "StringValue": "..."}.',
        "attributes",
    )


def clean_attributes(attributes, *, keep_labels: bool = False) -> dict:
    """Message attributes in the stored form {"name": {"Type", "Value"}}
    (`keep_labels`: see _one_attribute)."""
    if attributes in (None, ""):
        return {}
    if not isinstance(attributes, dict):
        raise MessagingError("Message attributes must be a map of names to values.", "attributes")
    if len(attributes) > MAX_ATTRIBUTES:
        raise MessagingError(f"A message may have at most {MAX_ATTRIBUTES} attributes.", "attributes")
    cleaned = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,256}", name):
            raise MessagingError(
                f"Attribute name {name!r} is not valid: use letters, digits, '_', '-' or '.'.",
                "attributes",
            )
        cleaned[name] = _one_attribute(name, value, keep_labels)
    return cleaned


def parse_attribute_lines(text: str) -> dict:
    """The console's `key=value` lines; a value that is a number is sent as
    a Number attribute, like the AWS console offers."""
    attributes: dict = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise MessagingError(
                f"Line {number} ({line!r}) is not key=value; write one attribute a line.", "attributes"
            )
        key, value = (part.strip() for part in line.split("=", 1))
        try:
            float(value)
            attributes[key] = {"Type": "Number", "Value": value}
        except ValueError:
            attributes[key] = value
    return clean_attributes(attributes)


def message_size(body: str, attributes: dict) -> int:
    """Bytes as SQS and SNS count them: the body, each attribute's name, type and value."""
    return len(body.encode()) + sum(
        len(k.encode()) + len(v["Type"]) + len(v["Value"].encode()) for k, v in attributes.items()
    )


def check_size(body: str, attributes: dict, field: str, limit: int = MAX_MESSAGE_BYTES) -> None:
    size = message_size(body, attributes)
    if size > limit:
        raise MessagingError(
            f"The message is {size} bytes; the limit is {limit} bytes "
            f"({'256 KB' if limit == MAX_MESSAGE_BYTES else 'the queue MaximumMessageSize'}) "
            "including attributes.",
            field,
        )
