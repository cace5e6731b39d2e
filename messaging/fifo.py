"""FIFO rules shared by SQS FIFO queues and SNS FIFO topics: names, message
group and deduplication ids, the 5-minute deduplication window and sequence
numbers. Sources: the SQS Developer Guide ("FIFO queue logic", "Using the
message deduplication ID") and the SNS Developer Guide ("Message ordering
and deduplication").

Errors are messaging.validation.MessagingError with a message fit for the
console; the wire modules (sqs_wire, sns_api) check the same things first
and answer with AWS's codes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import F, Model

from messaging.validation import MessagingError

SUFFIX = ".fifo"
# SQS and SNS: a duplicate is recognised for 5 minutes after the first send.
DEDUP_WINDOW = timedelta(minutes=5)
# MessageGroupId and MessageDeduplicationId: 1 to 128 characters, letters,
# digits and ASCII punctuation (SendMessage's parameter documentation).
ID_RE = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
FIFO_QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")
FIFO_TOPIC_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
DEDUP_SCOPES = ("queue", "messageGroup")
THROUGHPUT_LIMITS = ("perQueue", "perMessageGroupId")
# Sequence numbers are shown as SQS shows them: 20 digits, growing. A
# counter per queue (or topic) plus this base keeps them numeric and in
# text order alike.
_SEQUENCE_BASE = 10**19


def sequence_text(sequence: int | None) -> str:
    """The SequenceNumber string for a stored counter value."""
    return "" if sequence is None else str(_SEQUENCE_BASE + sequence)


def is_fifo_name(name: str) -> bool:
    return isinstance(name, str) and name.endswith(SUFFIX)


def content_dedup_id(body: str) -> str:
    """ContentBasedDeduplication: the SHA-256 of the body (attributes are not
    part of it), as SQS and SNS compute it."""
    return hashlib.sha256(body.encode()).hexdigest()


# The console's field for each id (forms' `group_id`, `dedup_id`).
FIELDS = {"MessageGroupId": "group_id", "MessageDeduplicationId": "dedup_id"}


def check_id(value, name: str) -> str:
    """A MessageGroupId or MessageDeduplicationId (`name`); MessagingError
    for the matching console field otherwise."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise MessagingError(
            f"{name} must be 1 to 128 letters, digits or punctuation characters.", FIELDS[name]
        )
    return value


def dedup_id_for(body: str, given: str | None, content_based: bool) -> str:
    """The deduplication id a FIFO message gets: the given one, else (with
    ContentBasedDeduplication) the body's SHA-256; MessagingError without either."""
    if given:
        return check_id(given, "MessageDeduplicationId")
    if content_based:
        return content_dedup_id(body)
    raise MessagingError(
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
        "provided explicitly.",
        "dedup_id",
    )


def next_sequence(model: type[Model], pk) -> int:
    """Take the next sequence number of a queue or topic row. Call inside
    transaction.atomic(): the UPDATE locks the row until commit (SQLite runs
    one writing transaction at a time), so two senders never get the same
    number and numbers are committed in the order they were taken."""
    model.objects.filter(pk=pk).update(last_sequence=F("last_sequence") + 1)
    return model.objects.filter(pk=pk).values_list("last_sequence", flat=True).get()


@dataclass
class Original:
    """What a duplicate send answers: the first message's id and number."""

    message_id: str
    sequence: int


def find_duplicate(records, now, **key) -> Original | None:
    """The unexpired deduplication record matching `key` in `records` (a
    manager of QueueDeduplication or TopicDeduplication rows), after
    forgetting the expired ones of the same owner."""
    records.filter(expires_at__lte=now).delete()
    found = records.filter(**key).values_list("message_id", "sequence").first()
    return Original(str(found[0]), found[1]) if found else None


def remember(records, now, message_id, sequence: int, **key) -> None:
    """Start the window for a stored message's deduplication id."""
    records.create(message_id=message_id, sequence=sequence, expires_at=now + DEDUP_WINDOW, **key)
