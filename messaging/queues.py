"""Queues: settings, sending, receiving with a visibility timeout, dead
letters and redrive. Every state change of a message is a conditional UPDATE
or DELETE, so two pollers (or a poller and the console) never both act on the
same receive of a message.

Functions take `now` so tests can move the clock without sleeping."""

import secrets
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from awsapi import arns
from functions.models import Function, Team
from messaging import digests
from messaging import fifo as fifo_rules
from mappings import configure as mapping_rules
from mappings.models import EventSourceMapping
from messaging.models import Queue, QueueMessage
from messaging.validation import (
    MAX_DELAY_S,
    MAX_VISIBILITY_TIMEOUT_S,
    MessagingError,
    check_size,
    clean_attributes,
    clean_int,
    clean_priority,
    clean_queue_name,
)


def ms(when) -> str:
    """SQS's timestamps: epoch milliseconds as a string."""
    return str(int(when.timestamp() * 1000))


# Settings -------------------------------------------------------------------


def _check_dlq(queue_team: Team, dlq: Queue | None, queue: Queue | None = None) -> Queue | None:
    if dlq is None:
        return None
    if dlq.team_id != queue_team.id:
        raise MessagingError("The dead-letter queue must belong to the same team.", "dead_letter_queue")
    if queue is not None and dlq.pk == queue.pk:
        raise MessagingError(
            "A queue cannot be its own dead-letter queue; choose another queue or none.",
            "dead_letter_queue",
        )
    if queue is not None and dlq.fifo != queue.fifo:
        raise MessagingError(DLQ_TYPE_MISMATCH, "dead_letter_queue")
    return dlq


# SQS's rule (and reason text): a FIFO queue's dead letters keep their group
# order only in a FIFO queue, and a standard queue's have no group to keep.
DLQ_TYPE_MISMATCH = "Dead-letter queue must be same type of queue as the source."


def _check_settings(visibility_timeout_s, max_receive_count) -> tuple[int, int]:
    return (
        clean_int(visibility_timeout_s, "visibility_timeout_s", "The visibility timeout", 0,
                  MAX_VISIBILITY_TIMEOUT_S),
        clean_int(max_receive_count, "max_receive_count", "Maximum receives", 1, 1000),
    )


def create_queue(
    team: Team,
    name: str,
    *,
    visibility_timeout_s: int = 30,
    max_receive_count: int = 5,
    dead_letter_queue: Queue | None = None,
    fifo: bool = False,
    **settings,
) -> Queue:
    """A new queue; `settings` are further fields (delay_s, retention_s,
    receive_wait_s, max_message_bytes, content_based_dedup, dedup_scope,
    throughput_limit), already checked (messaging.sqs_wire). A FIFO queue's
    name ends with ".fifo", and only a FIFO queue's does (SQS's rule)."""
    if fifo:
        if not isinstance(name, str) or not fifo_rules.FIFO_QUEUE_NAME_RE.fullmatch(name):
            raise MessagingError(
                "A FIFO queue's name must be 1 to 75 letters, digits, hyphens or underscores "
                "followed by .fifo.", "name",
            )
    else:
        name = clean_queue_name(name)
    timeout, receives = _check_settings(visibility_timeout_s, max_receive_count)
    dlq = _check_dlq(team, dead_letter_queue)
    if dlq is not None and dlq.fifo != fifo:
        raise MessagingError(DLQ_TYPE_MISMATCH, "dead_letter_queue")
    taken = MessagingError(f"A queue named {name} already exists in {team.name}.", "name")
    if Queue.objects.filter(team=team, name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            return Queue.objects.create(
                team=team, name=name, visibility_timeout_s=timeout,
                max_receive_count=receives, dead_letter_queue=dlq, fifo=fifo, **settings,
            )
    except IntegrityError:
        raise taken from None


def update_queue(
    queue: Queue, *, visibility_timeout_s, max_receive_count, dead_letter_queue: Queue | None
) -> Queue:
    """Checks everything before saving anything."""
    timeout, receives = _check_settings(visibility_timeout_s, max_receive_count)
    dlq = _check_dlq(queue.team, dead_letter_queue, queue)
    _check_timeout_covers_functions(queue, timeout)
    queue.visibility_timeout_s, queue.max_receive_count, queue.dead_letter_queue = timeout, receives, dlq
    queue.updated_at = timezone.now()
    queue.save(update_fields=["visibility_timeout_s", "max_receive_count", "dead_letter_queue", "updated_at"])
    return queue


def configure(queue: Queue, changes: dict) -> Queue:
    """Change some of the queue's settings (SetQueueAttributes): model
    fields already checked for range (messaging.sqs_wire); the rules that
    involve other rows are checked here, before anything is saved."""
    if "dead_letter_queue" in changes:
        _check_dlq(queue.team, changes["dead_letter_queue"], queue)
    if "visibility_timeout_s" in changes:
        _check_timeout_covers_functions(queue, changes["visibility_timeout_s"])
    for field, value in changes.items():
        setattr(queue, field, value)
    queue.updated_at = timezone.now()
    queue.save(update_fields=[*changes, "updated_at"])
    return queue


def _check_timeout_covers_functions(queue: Queue, timeout: int) -> None:
    slowest = mappings_of(queue).order_by("-function__timeout_s").values_list(
        "function__timeout_s", "function__name"
    ).first()
    if slowest and timeout < slowest[0]:
        raise MessagingError(
            f"The visibility timeout ({timeout} s) is shorter than the timeout of {slowest[1]} "
            f"({slowest[0]} s), which reads this queue: a batch would reappear while it runs.",
            "visibility_timeout_s",
        )


def add_mapping(
    queue: Queue | None,
    function: Function | None,
    *,
    batch_size=10,
    batching_window_s=0,
    priority: str = "normal",
    report_failures: bool = False,
    qualifier: str = "",
) -> EventSourceMapping:
    """A new SQS event source mapping (mappings.EventSourceMapping) of
    `function` reading `queue`, checked as CreateEventSourceMapping checks
    it (mappings.configure); `report_failures` sets FunctionResponseTypes
    ["ReportBatchItemFailures"]. MessagingError naming the form field."""
    if queue is None:
        raise MessagingError("Choose the queue to poll.", "queue")
    if function is None:
        raise MessagingError("Choose the function that reads this queue.", "function")
    if function.team_id != queue.team_id:
        raise MessagingError("The function must belong to the queue's team.", "function")
    size = clean_int(batch_size, "batch_size", "Batch size", 1, 10)
    window = clean_int(batching_window_s, "batching_window_s", "The batching window", 0, 300)
    try:
        return mapping_rules.create(
            function, queue.arn, batch_size=size, batching_window_s=window, priority=clean_priority(priority),
            function_response_types=["ReportBatchItemFailures"] if report_failures else [],
            qualifier=qualifier,
        )
    except mapping_rules.MappingError as e:
        field = e.field if e.field in ("function", "batch_size", "batching_window_s", "priority") else None
        raise MessagingError(str(e), field) from None


def mappings_of(queue: Queue):
    """The event source mappings reading `queue` (by its ARN)."""
    return EventSourceMapping.objects.filter(kind="sqs", event_source_arn=queue.arn)


# Sending ----------------------------------------------------------------------


def send(
    queue: Queue,
    body: str,
    attributes: dict | None = None,
    delay_s: int | None = None,
    *,
    sender_id: str = "",
    now=None,
    group_id: str | None = None,
    dedup_id: str | None = None,
) -> QueueMessage:
    """One message, visible after `delay_s` (None: the queue's DelaySeconds).
    Attribute types keep their custom labels ("Number.float"), as in SQS.
    FIFO queues: see `prepare` and `enqueue` (a duplicate is not stored and
    comes back with the first message's message_id and sequence)."""
    message = prepare(
        queue, body, attributes, delay_s, sender_id=sender_id, now=now, group_id=group_id, dedup_id=dedup_id
    )
    enqueue(queue, [message], now)
    return message


def enqueue(queue: Queue, messages: list[QueueMessage], now=None) -> list[QueueMessage]:
    """Store prepared messages of `queue`, in order, in one transaction.

    FIFO queues: each message takes the queue's next sequence number, unless
    its deduplication id was seen within the 5-minute window (per group with
    DeduplicationScope=messageGroup): then it is not stored, and gets the
    first message's message_id and sequence, with `duplicate` set to True,
    as SQS answers a duplicate send with success. Returns `messages`."""
    now = now or timezone.now()
    if not queue.fifo and len(messages) == 1:
        # One INSERT is a transaction of its own (SendMessage's usual case).
        messages[0].duplicate = False
        messages[0].save(force_insert=True)
        return messages
    with transaction.atomic():
        for msg in messages:
            msg.duplicate = False
            if not queue.fifo:
                msg.save(force_insert=True)
                continue
            scope = msg.group_id if queue.dedup_scope == "messageGroup" else ""
            original = fifo_rules.find_duplicate(
                queue.deduplications, now, scope=scope, dedup_id=msg.dedup_id
            )
            if original is not None:
                msg.message_id, msg.sequence = uuid.UUID(original.message_id), original.sequence
                msg.duplicate = True
                continue
            msg.sequence = fifo_rules.next_sequence(Queue, queue.pk)
            msg.save(force_insert=True)
            fifo_rules.remember(
                queue.deduplications, now, msg.message_id, msg.sequence, scope=scope, dedup_id=msg.dedup_id
            )
    return messages


def prepare(
    queue: Queue,
    body: str,
    attributes: dict | None = None,
    delay_s: int | None = None,
    *,
    sender_id: str = "",
    now=None,
    group_id: str | None = None,
    dedup_id: str | None = None,
) -> QueueMessage:
    """The unsaved message `send` would store, checked (SendMessageBatch
    checks every entry before it stores the good ones; `enqueue` stores).

    FIFO queues (SQS's rules): `group_id` (MessageGroupId) is required; the
    deduplication id is `dedup_id` or, with ContentBasedDeduplication, the
    body's SHA-256; a per-message delay is refused (the queue's DelaySeconds
    applies). Standard queues take neither id."""
    if not isinstance(body, str) or body == "":
        raise MessagingError("The message body must be a non-empty string.", "body")
    if queue.fifo:
        if not group_id:
            raise MessagingError("A FIFO queue needs a message group id (MessageGroupId).", "group_id")
        fifo_rules.check_id(group_id, "MessageGroupId")
        dedup_id = fifo_rules.dedup_id_for(body, dedup_id, queue.content_based_dedup)
        if delay_s:
            raise MessagingError(
                "A FIFO queue takes no delay per message; set the queue's DelaySeconds instead.", "delay_s"
            )
        delay_s = None
    elif group_id or dedup_id:
        raise MessagingError(
            f"{queue.name} is a standard queue: message group and deduplication ids are for FIFO queues.",
            "group_id" if group_id else "dedup_id",
        )
    delay = clean_int(queue.delay_s if delay_s is None else delay_s, "delay_s", "The delay", 0, MAX_DELAY_S)
    cleaned = clean_attributes(attributes, keep_labels=True)
    check_size(body, cleaned, "body", queue.max_message_bytes)
    now = now or timezone.now()
    return QueueMessage(
        queue=queue,
        body=body,
        attributes=cleaned,
        sender_id=sender_id or queue.team.account_id,
        sent_at=now,
        visible_at=now + timedelta(seconds=delay),
        group_id=group_id or "",
        dedup_id=dedup_id or "",
    )


# Receiving ----------------------------------------------------------------------


def visible(queue: Queue, now) -> QuerySet:
    return QueueMessage.objects.filter(queue=queue, visible_at__lte=now)


def counts(queue: Queue, now=None) -> dict:
    now = now or timezone.now()
    hidden = QueueMessage.objects.filter(queue=queue, visible_at__gt=now)
    return {
        "visible": visible(queue, now).count(),
        # Received and not yet deleted: a batch is being worked on (or failed).
        "in_flight": hidden.filter(receive_count__gt=0).count(),
        # Sent with a delay and never received.
        "delayed": hidden.filter(receive_count=0).count(),
    }


def move_to_dlq(msg: QueueMessage, source: Queue, dlq: Queue, now) -> bool:
    """One conditional UPDATE moves the message, so it is never in both
    queues nor in neither; it must still be visible with the receipt we read,
    or someone else has taken it. The count starts again in the DLQ."""
    return QueueMessage.objects.filter(
        pk=msg.pk, queue=source, receipt_handle=msg.receipt_handle, visible_at__lte=now
    ).update(
        queue=dlq, source_queue=source, visible_at=now, receive_count=0,
        receipt_handle="", first_received_at=None,
    ) == 1


def expire(queue: Queue, now) -> int:
    """Delete the messages older than the queue's retention period, as SQS
    does; a dead letter keeps the age it had in its source queue."""
    deleted, _ = QueueMessage.objects.filter(
        queue=queue, sent_at__lt=now - timedelta(seconds=queue.retention_s)
    ).delete()
    return deleted


def claim(queue: Queue, limit: int, now, visibility_timeout_s: int | None = None) -> list[QueueMessage]:
    """Receive up to `limit` visible messages: each is hidden for the
    visibility timeout with a fresh receipt handle, by an UPDATE that only
    succeeds if the message is still visible under the receipt we read, so a
    concurrent poller taking the same row makes ours change nothing.

    A message already received max_receive_count times goes to the
    dead-letter queue instead. With no dead-letter queue it is delivered
    again, as SQS does without a redrive policy. `visibility_timeout_s`
    overrides the queue's for this receive (ReceiveMessage's VisibilityTimeout)."""
    claimed: list[QueueMessage] = []
    # Looked for first: a DELETE takes SQLite's write lock even when it
    # deletes nothing, and this runs on every receive.
    cutoff = now - timedelta(seconds=queue.retention_s)
    if QueueMessage.objects.filter(queue=queue, sent_at__lt=cutoff).exists():
        expire(queue, now)
    timeout = queue.visibility_timeout_s if visibility_timeout_s is None else visibility_timeout_s
    hidden_until = now + timedelta(seconds=timeout)
    dlq = queue.dead_letter_queue
    if queue.fifo:
        return _claim_fifo(queue, limit, now, hidden_until)
    # Read a few extra: some may go to the DLQ or be taken by another poller.
    candidates = list(visible(queue, now).order_by("visible_at", "id")[: limit * 2 + 5])
    for msg in candidates:
        if len(claimed) >= limit:
            break
        if dlq is not None and msg.receive_count >= queue.max_receive_count:
            move_to_dlq(msg, queue, dlq, now)
            continue
        if _take(msg, queue, now, hidden_until):
            claimed.append(msg)
    return claimed


def new_receipt() -> str:
    """A fresh receipt handle: 64 URL-safe characters, never starting with
    "-", which the AWS CLI would read as an option (`--receipt-handle -x...`
    fails to parse; SQS's own handles start with "AQEB")."""
    receipt = secrets.token_urlsafe(48)
    return "A" + receipt[1:] if receipt.startswith("-") else receipt


def _take(msg: QueueMessage, queue: Queue, now, hidden_until) -> bool:
    """Hide one message under a fresh receipt; False if someone took it first."""
    receipt = new_receipt()
    changed = QueueMessage.objects.filter(
        pk=msg.pk, queue=queue, receipt_handle=msg.receipt_handle, visible_at__lte=now
    ).update(
        visible_at=hidden_until,
        receive_count=F("receive_count") + 1,
        receipt_handle=receipt,
        first_received_at=Coalesce(F("first_received_at"), now),
    )
    if changed != 1:
        return False
    msg.visible_at, msg.receipt_handle = hidden_until, receipt
    msg.receive_count += 1
    msg.first_received_at = msg.first_received_at or now
    return True


def _claim_fifo(queue: Queue, limit: int, now, hidden_until) -> list[QueueMessage]:
    """FIFO receive (SQS's FIFO logic): a group whose oldest message is not
    visible (in flight, or still delayed) gives nothing, so no message of a
    group is handed out while an earlier one is being worked on; from the
    other groups, messages in sequence order, as many of one group as fit
    before the next group. A head message past max_receive_count goes to the
    (FIFO) dead-letter queue and the group goes on with the next.

    The queue row is locked for the claim (PostgreSQL: SELECT FOR UPDATE;
    SQLite runs one writing transaction at a time), so two receivers never
    both see a group as free."""
    dlq = queue.dead_letter_queue
    claimed: list[QueueMessage] = []
    with transaction.atomic():
        list(Queue.objects.select_for_update().filter(pk=queue.pk).values_list("pk"))
        busy = QueueMessage.objects.filter(queue=queue, visible_at__gt=now).values("group_id")
        candidates = list(
            visible(queue, now).exclude(group_id__in=busy).order_by("sequence", "id")[: max(limit * 10, 100)]
        )
        groups: dict[str, list[QueueMessage]] = {}
        for msg in candidates:
            groups.setdefault(msg.group_id, []).append(msg)
        for group in groups.values():
            for msg in group:
                if len(claimed) >= limit:
                    return claimed
                if dlq is not None and msg.receive_count >= queue.max_receive_count:
                    if move_to_dlq(msg, queue, dlq, now):
                        continue
                    break
                if not _take(msg, queue, now, hidden_until):
                    break  # Taken meanwhile: the rest of its group must wait.
                claimed.append(msg)
    return claimed


def delete_received(queue_id, receipts: dict[str, str]) -> int:
    """Delete messages by {message_id: receipt}; a message received again
    since (a newer receipt) is not deleted, as in SQS."""
    if not receipts:
        return 0
    match = Q()
    for message_id, receipt in receipts.items():
        match |= Q(message_id=message_id, receipt_handle=receipt)
    deleted, _ = QueueMessage.objects.filter(match, queue_id=queue_id).delete()
    return deleted


def delete_by_receipt(queue: Queue, receipt: str) -> int:
    """DeleteMessage: only the latest receipt deletes; an older one (the
    message was received again since) or a message already gone changes
    nothing and is not an error, as in SQS."""
    # The row is found by its receipt's own index before the write (given
    # the queue too, SQLite would walk the queue's index instead), and the
    # DELETE by primary key still requires the same queue and receipt.
    found = QueueMessage.objects.filter(receipt_handle=receipt).order_by().values_list("pk", "queue_id")
    ids = [pk for pk, queue_id in found if queue_id == queue.pk]
    if not ids:
        return 0
    # One DELETE, a transaction of its own: nothing refers to a message
    # row and nothing listens for its deletion, so Django's collector (a
    # BEGIN ... COMMIT around the same statement) adds nothing but time
    # holding the write lock.
    doomed = QueueMessage.objects.filter(pk__in=ids, queue=queue, receipt_handle=receipt)
    return doomed._raw_delete(doomed.db)


def change_visibility(queue: Queue, receipt: str, timeout_s: int, now=None) -> bool:
    """ChangeMessageVisibility: the message received with `receipt`, still
    in flight, becomes visible `timeout_s` from now (0: at once). False when
    it is not in flight under that receipt."""
    now = now or timezone.now()
    return QueueMessage.objects.filter(
        queue=queue, receipt_handle=receipt, visible_at__gt=now, receive_count__gt=0
    ).update(visible_at=now + timedelta(seconds=timeout_s)) == 1


def purge(queue: Queue) -> int:
    deleted, _ = queue.messages.all().delete()
    return deleted


def sqs_record(queue: Queue, msg: QueueMessage) -> dict:
    """One message as Lambda's SQS event record (the `Records[]` entry of
    "Using Lambda with Amazon SQS": attributes as strings, timestamps in
    epoch milliseconds, message attributes with both list values empty)."""
    attributes = {
        "ApproximateReceiveCount": str(msg.receive_count),
        "SentTimestamp": ms(msg.sent_at),
        "SenderId": msg.sender_id,
        "ApproximateFirstReceiveTimestamp": ms(msg.first_received_at or msg.sent_at),
    }
    if msg.source_queue_id:
        attributes["DeadLetterQueueSourceArn"] = msg.source_queue.arn
    if msg.sequence is not None:
        attributes["SequenceNumber"] = fifo_rules.sequence_text(msg.sequence)
        attributes["MessageGroupId"] = msg.group_id
        attributes["MessageDeduplicationId"] = msg.dedup_id
    message_attributes = {}
    for name, a in msg.attributes.items():
        entry = {"stringListValues": [], "binaryListValues": [], "dataType": a["Type"]}
        entry["binaryValue" if a["Type"].startswith("Binary") else "stringValue"] = a["Value"]
        message_attributes[name] = entry
    record = {
        "messageId": str(msg.message_id),
        "receiptHandle": msg.receipt_handle,
        "body": msg.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": digests.md5_of_body(msg.body),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": arns.parse(queue.arn).region,
    }
    if msg.attributes:
        # Only with attributes, as ReceiveMessage's MD5OfMessageAttributes.
        record["md5OfMessageAttributes"] = digests.md5_of_stored_attributes(msg.attributes)
    return record


# Dead letters -----------------------------------------------------------------


def dead_letters_of(queue: Queue) -> QuerySet:
    """Messages that left `queue` for a dead-letter queue and are still there."""
    return QueueMessage.objects.filter(source_queue=queue).exclude(queue=queue).select_related("queue")


def redrive(messages, now=None) -> int:
    """Move dead letters back to the queue they came from, visible at once
    and with a fresh receive count. Each move is one conditional UPDATE."""
    now = now or timezone.now()
    moved = 0
    for msg in messages.filter(source_queue__isnull=False).exclude(queue=F("source_queue")):
        moved += QueueMessage.objects.filter(pk=msg.pk, queue_id=msg.queue_id).update(
            queue_id=msg.source_queue_id, source_queue=None, visible_at=now, receive_count=0,
            receipt_handle="", first_received_at=None,
        )
    return moved
