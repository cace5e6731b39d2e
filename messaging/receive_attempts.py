"""ReceiveRequestAttemptId on FIFO queues, as the SQS API Reference
(ReceiveMessage) has it: a ReceiveMessage retried with the same attempt id
within 5 minutes gets the same messages and receipt handles, their
visibility timeout started again, as long as none of them was deleted,
received by someone else or had its visibility changed meanwhile; then a
retry is an ordinary receive. A client retries this way when an answer was
lost, so the messages it never saw are not left hidden for a whole
visibility timeout, ahead of the rest of their group.

What an attempt returned is remembered in Redis for the 5 minutes
(message ids with their receipt handles and hidden-until times): a memo
for retries, not data. Without Redis, or after the memo is gone, a retry
gets fresh messages, as every receive did before, and the ones the lost
answer held come back after their visibility timeout."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from invocations import redis_link
from messaging.models import Queue, QueueMessage

# SQS: "You can use ReceiveRequestAttemptId only for 5 minutes after a ReceiveMessage action."
WINDOW_S = 300


def _key(queue: Queue, attempt: str) -> str:
    digest = hashlib.sha256(attempt.encode()).hexdigest()
    return f"{settings.STRATUS_INSTANCE}:sqs-attempt:{queue.pk}:{digest}"


def remember(queue: Queue, attempt: str, messages: list[QueueMessage], *, retried: bool = False) -> None:
    """Note what this attempt received (nothing is noted for no messages).
    A retry notes the new hidden-until times within the first receive's
    5 minutes (keepttl), so retrying does not extend the window."""
    if not messages:
        return
    memo = json.dumps([[str(m.message_id), m.receipt_handle, m.visible_at.isoformat()] for m in messages])
    key = _key(queue, attempt)

    def store(r):
        if retried:
            # xx: only while the memo lasts; keepttl on a new key would never expire.
            return r.set(key, memo, keepttl=True, xx=True)
        return r.set(key, memo, ex=WINDOW_S)

    redis_link.quietly(store, "ReceiveRequestAttemptId")


def recall(queue: Queue, attempt: str, now: datetime, visibility_timeout_s: int | None) -> list[QueueMessage]:
    """The messages an earlier receive with `attempt` returned, in the same
    order and under the same receipt handles, hidden again for the
    visibility timeout (the queue's, or `visibility_timeout_s`); [] when
    there is none to repeat (unknown, expired, or one of them changed)."""
    raw = redis_link.quietly(lambda r: r.get(_key(queue, attempt)), "ReceiveRequestAttemptId")
    if not raw:
        return []
    noted = json.loads(raw)
    timeout = queue.visibility_timeout_s if visibility_timeout_s is None else visibility_timeout_s
    hidden_until = now + timedelta(seconds=timeout)
    with transaction.atomic():
        # Locked: a delete or a receive racing the retry waits, then finds
        # the new hidden-until time and the same receipt.
        found = {
            str(m.message_id): m
            for m in QueueMessage.objects.select_for_update().filter(
                queue=queue, message_id__in=[n[0] for n in noted]
            )
        }
        for message_id, receipt, visible_at in noted:
            msg = found.get(message_id)
            if msg is None or msg.receipt_handle != receipt or msg.visible_at.isoformat() != visible_at:
                return []
        QueueMessage.objects.filter(pk__in=[m.pk for m in found.values()]).update(visible_at=hidden_until)
    messages = [found[n[0]] for n in noted]
    for msg in messages:
        msg.visible_at = hidden_until
    remember(queue, attempt, messages, retried=True)
    return messages
