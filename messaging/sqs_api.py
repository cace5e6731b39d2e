"""SQS's operations, as boto3's `sqs` client and the AWS CLI call them
through the AWS front door (awsapi.door): each handler is named after the
operation, takes the caller's context and the parsed parameters, and
returns the output as boto3 shows it. Queues and messages are the
messaging app's rows (messaging.queues), shared with the console, the
queue poller and dead-letter queues."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from datetime import timedelta

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from awsapi import asgi, services
from awsapi.protocols import ServiceError
from messaging import fifo, iam_resources, queues, receive_attempts, sqs_wakeup
from messaging.digests import md5_of_attributes, md5_of_body
from messaging.models import Queue
from messaging.sqs_wire import (
    QUERY_CODES,
    attributes_in,
    attributes_of,
    attributes_out,
    check_body,
    error,
    invalid_parameter,
    missing,
    no_queue,
    queue_for,
    queue_url,
    required,
    settings_from,
    system_attributes,
)
from messaging.validation import MAX_MESSAGE_BYTES, MAX_VISIBILITY_TIMEOUT_S, QUEUE_NAME_RE, MessagingError

# How often a long poll looks at the database when no send in this process woke it.
LONG_POLL_INTERVAL_S = 0.5
PURGE_EVERY_S = 60
MAX_BATCH_ENTRIES = 10
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
RECEIPT_RE = re.compile(r"^[A-Za-z0-9_-]{64}$")
# Which SetQueueAttributes name a model field came from (CreateQueue's conflicts).
_ATTRIBUTE_OF_FIELD = {
    "visibility_timeout_s": "VisibilityTimeout", "delay_s": "DelaySeconds",
    "retention_s": "MessageRetentionPeriod", "receive_wait_s": "ReceiveMessageWaitTimeSeconds",
    "max_message_bytes": "MaximumMessageSize", "dead_letter_queue": "RedrivePolicy",
    "max_receive_count": "RedrivePolicy", "fifo": "FifoQueue",
    "content_based_dedup": "ContentBasedDeduplication",
    "dedup_scope": "DeduplicationScope", "throughput_limit": "FifoThroughputLimit",
}
# ReceiveRequestAttemptId: 1 to 128 characters, as MessageDeduplicationId.
ATTEMPT_ID_RE = fifo.ID_RE


def _int_param(params: dict, name: str, low: int, high: int, default=None):
    value = params.get(name)
    if value is None:
        return default
    if not low <= value <= high:
        raise invalid_parameter(
            f"Value {value} for parameter {name} is invalid. "
            f"Reason: Must be >= {low} and <= {high}, if provided."
        )
    return value


def _not_for_this_queue(name: str, value, why: str) -> ServiceError:
    return invalid_parameter(
        f"Value {value} for parameter {name} is invalid. Reason: The request include parameter that "
        f"is not valid for this queue type ({why})."
    )


def _check_queue_type(queue: Queue, params: dict) -> None:
    """SQS's per-queue-type parameter rules for SendMessage and its batch entries."""
    if not queue.fifo:
        for name in ("MessageGroupId", "MessageDeduplicationId"):
            if params.get(name) is not None:
                raise _not_for_this_queue(name, params[name], f"{queue.name} is a standard queue")
        return
    if params.get("DelaySeconds") is not None:
        raise _not_for_this_queue(
            "DelaySeconds", params["DelaySeconds"],
            "FIFO queues take no per-message delay; set the queue's DelaySeconds instead",
        )
    group = params.get("MessageGroupId")
    if group is None or group == "":
        raise missing("MessageGroupId")
    for name in ("MessageGroupId", "MessageDeduplicationId"):
        value = params.get(name)
        if value is not None and not fifo.ID_RE.fullmatch(value):
            raise invalid_parameter(
                f"Value {value[:128]} for parameter {name} is invalid. Reason: {name} can only include "
                "alphanumeric and punctuation characters. 1 to 128 in length."
            )
    if not params.get("MessageDeduplicationId") and not queue.content_based_dedup:
        raise invalid_parameter(
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
            "provided explicitly"
        )


# Queues ----------------------------------------------------------------------


def create_queue(context: services.Context, params: dict) -> dict:
    name = required(params, "QueueName")
    if params.get("tags"):
        raise invalid_parameter("Stratus does not keep queue tags yet; leave tags out.")
    team = context.team
    fields = settings_from(team, params.get("Attributes"))
    if fields.get("fifo"):
        if not fifo.FIFO_QUEUE_NAME_RE.fullmatch(name):
            raise invalid_parameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                "underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
    elif not QUEUE_NAME_RE.fullmatch(name):
        hint = " (a FIFO queue's name ends with .fifo: create it with FifoQueue=true)" if name.endswith(
            fifo.SUFFIX) else ""
        raise invalid_parameter(
            f"Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length{hint}"
        )
    named = Queue.objects.select_related("team", "dead_letter_queue").filter(team=team, name=name)
    queue = named.first()
    if queue is None:
        base = {k: fields.pop(k) for k in ("visibility_timeout_s", "max_receive_count", "dead_letter_queue")
                if k in fields}
        try:
            queue = queues.create_queue(team, name, **base, **fields)
        except MessagingError as e:
            queue = named.first()
            if queue is None:  # Not a lost race: a refusal.
                raise invalid_parameter(e.message) from None
            fields.update(base)
    for field, value in fields.items():
        if getattr(queue, field) != value:
            raise error(
                "QueueNameExists",
                "A queue already exists with the same name and a different value for attribute "
                f"{_ATTRIBUTE_OF_FIELD[field]}",
            )
    return {"QueueUrl": queue_url(context.endpoint, queue)}


def get_queue_url(context: services.Context, params: dict) -> dict:
    name = required(params, "QueueName")
    owner = params.get("QueueOwnerAWSAccountId")
    if owner is not None and owner != context.team.account_id:
        raise no_queue()
    queue = Queue.objects.select_related("team").filter(team=context.team, name=name).first()
    if queue is None:
        raise no_queue()
    return {"QueueUrl": queue_url(context.endpoint, queue)}


def _page_of_queues(context: services.Context, found, params: dict, key: str) -> dict:
    """Queue URLs by name, paged as SQS pages them: MaxResults (1 to 1000),
    then NextToken; at most 1000 without MaxResults."""
    limit = _int_param(params, "MaxResults", 1, 1000)
    token = params.get("NextToken")
    if token:
        if limit is None:
            raise invalid_parameter("NextToken can only be used with MaxResults.")
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise invalid_parameter("Invalid NextToken value.") from None
        found = found.filter(name__gt=after)
    page = list(found.order_by("name")[: (limit or 1000) + 1])
    output: dict = {}
    if limit is not None and len(page) > limit:
        page = page[:limit]
        output["NextToken"] = base64.urlsafe_b64encode(page[-1].name.encode()).decode()
    else:
        page = page[:1000]
    if page:
        output[key] = [queue_url(context.endpoint, q) for q in page]
    return output


def list_queues(context: services.Context, params: dict) -> dict:
    found = Queue.objects.select_related("team").filter(team=context.team)
    prefix = params.get("QueueNamePrefix")
    if prefix:
        found = found.filter(name__startswith=prefix)
    return _page_of_queues(context, found, params, "QueueUrls")


def list_dead_letter_source_queues(context: services.Context, params: dict) -> dict:
    """The queues whose RedrivePolicy sends to this one (`queueUrls`, lower
    case as SQS names it; always present, maybe empty)."""
    queue = queue_for(context.team, params.get("QueueUrl"))
    found = Queue.objects.select_related("team").filter(team=context.team, dead_letter_queue=queue)
    return {"queueUrls": [], **_page_of_queues(context, found, params, "queueUrls")}


def delete_queue(context: services.Context, params: dict) -> dict:
    queue_for(context.team, params.get("QueueUrl")).delete()
    return {}


def purge_queue(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"))
    now = timezone.now()
    recent = now - timedelta(seconds=PURGE_EVERY_S)
    # One conditional UPDATE: two purges at once cannot both pass.
    if not Queue.objects.filter(pk=queue.pk).filter(
        Q(purged_at__isnull=True) | Q(purged_at__lte=recent)
    ).update(purged_at=now):
        raise error(
            "PurgeQueueInProgress",
            f"Only one PurgeQueue operation on {queue.name} is allowed every {PURGE_EVERY_S} seconds.",
        )
    queues.purge(queue)
    return {}


def get_queue_attributes(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"))
    found = attributes_of(queue, params.get("AttributeNames"))
    return {"Attributes": found} if found else {}


def set_queue_attributes(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"))
    attributes = required(params, "Attributes")
    changes = settings_from(context.team, attributes, queue)
    try:
        queues.configure(queue, changes)
    except MessagingError as e:
        raise error("InvalidAttributeValue", e.message) from None
    return {}


# Sending ----------------------------------------------------------------------


def _prepare(context: services.Context, queue: Queue, entry: dict):
    """One checked, unsaved message and its answer (SendMessage's output,
    without SequenceNumber: `_sent` adds it once the message is stored)."""
    _check_queue_type(queue, entry)
    body = check_body(entry.get("MessageBody"))
    delay = _int_param(entry, "DelaySeconds", 0, 900)
    if entry.get("MessageSystemAttributes"):
        raise invalid_parameter(
            "Stratus does not keep message system attributes (AWSTraceHeader) yet; leave them out."
        )
    try:
        msg = queues.prepare(
            queue, body, attributes_in(entry.get("MessageAttributes")), delay,
            sender_id=context.key.access_key_id, group_id=entry.get("MessageGroupId"),
            dedup_id=entry.get("MessageDeduplicationId"),
        )
    except MessagingError as e:
        raise invalid_parameter(f"One or more parameters are invalid. Reason: {e.message}") from None
    answer = {"MessageId": str(msg.message_id), "MD5OfMessageBody": md5_of_body(body)}
    digest = md5_of_attributes(attributes_out(msg.attributes, ["All"]))
    if digest:
        answer["MD5OfMessageAttributes"] = digest
    return msg, answer


def _sent(msg, answer: dict) -> dict:
    """The answer once stored: a FIFO duplicate answers with the first
    message's MessageId and SequenceNumber, as SQS does."""
    if msg.sequence is not None:
        answer["MessageId"] = str(msg.message_id)
        answer["SequenceNumber"] = fifo.sequence_text(msg.sequence)
    return answer


def _enqueue(queue: Queue, messages: list) -> None:
    try:
        queues.enqueue(queue, messages)
    except IntegrityError:  # Deleted since this process copied it (messaging.copies).
        raise no_queue() from None


def send_message(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"), cached=True)
    msg, answer = _prepare(context, queue, params)
    _enqueue(queue, [msg])
    if not msg.duplicate:
        sqs_wakeup.notify(queue.id)
    return _sent(msg, answer)


def _entries(params: dict, entry_name: str) -> list[dict]:
    """A batch's entries, checked as SQS checks them before any entry runs."""
    entries = params.get("Entries") or []
    if not entries:
        raise error("EmptyBatchRequest", f"There should be at least one {entry_name} in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise error(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {len(entries)}.",
        )
    seen = set()
    for entry in entries:
        ident = entry.get("Id")
        if not isinstance(ident, str) or not BATCH_ID_RE.fullmatch(ident):
            raise error(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long.",
            )
        if ident in seen:
            raise error("BatchEntryIdsNotDistinct", f"Id {ident} repeated.")
        seen.add(ident)
    return entries


def _failure(ident: str, exc: ServiceError) -> dict:
    return {"Id": ident, "SenderFault": exc.sender_fault,
            "Code": exc.query_code or QUERY_CODES.get(exc.code, exc.code), "Message": exc.message}


def send_message_batch(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"), cached=True)
    entries = _entries(params, "SendMessageBatchRequestEntry")
    size = sum(len((e.get("MessageBody") or "").encode()) for e in entries)
    if size > MAX_MESSAGE_BYTES:
        raise error(
            "BatchRequestTooLong",
            f"Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes. You have sent {size} bytes.",
        )
    good, failed, ready = [], [], []
    for entry in entries:
        try:
            msg, answer = _prepare(context, queue, entry)
        except ServiceError as e:
            failed.append(_failure(entry["Id"], e))
            continue
        ready.append(msg)
        good.append({"Id": entry["Id"], **answer})
    # In entry order, so a FIFO group keeps the batch's order.
    _enqueue(queue, ready)
    good = [_sent(msg, answer) for msg, answer in zip(ready, good, strict=True)]
    if any(not msg.duplicate for msg in ready):
        sqs_wakeup.notify(queue.id)
    return {"Successful": good, "Failed": failed}


# Receiving ----------------------------------------------------------------------


def _receive_options(params: dict) -> dict:
    names = list(params.get("AttributeNames") or []) + list(params.get("MessageSystemAttributeNames") or [])
    attempt = params.get("ReceiveRequestAttemptId")
    # A retried attempt on a FIFO queue: messaging.receive_attempts.
    if attempt is not None and not ATTEMPT_ID_RE.fullmatch(attempt):
        raise invalid_parameter(
            f"Value {attempt[:128]} for parameter ReceiveRequestAttemptId is invalid. Reason: It can only "
            "include alphanumeric and punctuation characters. 1 to 128 in length."
        )
    return {
        "limit": _int_param(params, "MaxNumberOfMessages", 1, 10, 1),
        "visibility": _int_param(params, "VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_S),
        "wait": _int_param(params, "WaitTimeSeconds", 0, 20),
        "system": names,
        "attributes": list(params.get("MessageAttributeNames") or []),
        "attempt": attempt,
    }


def _receive_once(queue: Queue, options: dict) -> list[dict]:
    claimed = queues.claim(queue, options["limit"], timezone.now(), options["visibility"])
    if queue.fifo and options["attempt"]:
        receive_attempts.remember(queue, options["attempt"], claimed)
    return _received(claimed, options)


def _received(claimed: list, options: dict) -> list[dict]:
    received = []
    for msg in claimed:
        attributes = attributes_out(msg.attributes, options["attributes"])
        item = {
            "MessageId": str(msg.message_id), "ReceiptHandle": msg.receipt_handle,
            "MD5OfBody": md5_of_body(msg.body), "Body": msg.body,
        }
        system = system_attributes(msg, options["system"])
        if system:
            item["Attributes"] = system
        if attributes:
            item["MessageAttributes"] = attributes
            item["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
        received.append(item)
    return received


def _receive_first(context: services.Context, params: dict):
    queue = queue_for(context.team, params.get("QueueUrl"), cached=True)
    options = _receive_options(params)
    if options["wait"] is None:
        options["wait"] = queue.receive_wait_s
    if queue.fifo and options["attempt"]:
        repeated = receive_attempts.recall(queue, options["attempt"], timezone.now(), options["visibility"])
        if repeated:
            return queue, options, _received(repeated, options)
    return queue, options, _receive_once(queue, options)


async def receive_message(context: services.Context, params: dict) -> dict:
    """Long polling (WaitTimeSeconds, or the queue's ReceiveMessageWaitTimeSeconds)
    waits on the event loop, not on a thread: it looks again when a send in
    this process wakes it, and every LONG_POLL_INTERVAL_S anyway."""
    loop = asyncio.get_running_loop()
    queue, options, received = await asgi.in_thread(_receive_first, context, params)
    deadline = loop.time() + options["wait"]
    while not received and loop.time() < deadline:
        await sqs_wakeup.wait(queue.id, min(LONG_POLL_INTERVAL_S, deadline - loop.time()))
        received = await asgi.in_thread(_receive_once, queue, options)
    return {"Messages": received} if received else {}


# Deleting and changing visibility --------------------------------------------------


def _receipt(params: dict) -> str:
    receipt = required(params, "ReceiptHandle")
    if not RECEIPT_RE.fullmatch(receipt):
        raise error(
            "ReceiptHandleIsInvalid",
            f'The input receipt handle "{receipt[:128]}" is not a valid receipt handle.',
        )
    return receipt


def delete_message(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"), cached=True)
    queues.delete_by_receipt(queue, _receipt(params))
    return {}


def _change_visibility(queue: Queue, params: dict) -> None:
    receipt = _receipt(params)
    timeout = _int_param(params, "VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_S)
    if timeout is None:
        raise error("MissingParameterException", "The request must contain the parameter VisibilityTimeout.")
    if not queues.change_visibility(queue, receipt, timeout):
        raise invalid_parameter(
            f"Value {receipt} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
            "or is not available for visibility timeout change."
        )


def change_message_visibility(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"), cached=True)
    _change_visibility(queue, params)
    if params.get("VisibilityTimeout") == 0:
        sqs_wakeup.notify(queue.id)
    return {}


def _each_entry(params: dict, entry_name: str, action) -> dict:
    good, failed = [], []
    for entry in _entries(params, entry_name):
        try:
            action(entry)
        except ServiceError as e:
            failed.append(_failure(entry["Id"], e))
        else:
            good.append({"Id": entry["Id"]})
    return {"Successful": good, "Failed": failed}


def delete_message_batch(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"), cached=True)
    return _each_entry(
        params, "DeleteMessageBatchRequestEntry",
        lambda entry: queues.delete_by_receipt(queue, _receipt(entry)),
    )


def change_message_visibility_batch(context: services.Context, params: dict) -> dict:
    queue = queue_for(context.team, params.get("QueueUrl"), cached=True)
    return _each_entry(
        params, "ChangeMessageVisibilityBatchRequestEntry", lambda entry: _change_visibility(queue, entry)
    )


def register() -> None:
    services.register(
        "sqs",
        {
            "CreateQueue": create_queue,
            "GetQueueUrl": get_queue_url,
            "ListQueues": list_queues,
            "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
            "DeleteQueue": delete_queue,
            "PurgeQueue": purge_queue,
            "GetQueueAttributes": get_queue_attributes,
            "SetQueueAttributes": set_queue_attributes,
            "SendMessage": send_message,
            "SendMessageBatch": send_message_batch,
            "ReceiveMessage": receive_message,
            "DeleteMessage": delete_message,
            "DeleteMessageBatch": delete_message_batch,
            "ChangeMessageVisibility": change_message_visibility,
            "ChangeMessageVisibilityBatch": change_message_visibility_batch,
        },
        # ReceiveMessage changes what others receive, so it is a write.
        reads={"GetQueueUrl", "ListQueues", "ListDeadLetterSourceQueues", "GetQueueAttributes"},
        query_codes=QUERY_CODES,
        resources=iam_resources.sqs,
    )
