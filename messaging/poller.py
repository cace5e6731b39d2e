"""Reading queues into functions: Lambda's SQS event source mappings
(mappings.EventSourceMapping of kind "sqs", the queue named by its ARN).
The beat task calls poll_all() every STRATUS_QUEUE_POLL_INTERVAL seconds; a
finish hook deletes what a batch handled. Messages are deleted only after
the function succeeded, so a worker that dies mid-batch deletes nothing and
the batch reappears after the visibility timeout.

What Lambda does and this does too ("Using Lambda with Amazon SQS"):
- FilterCriteria: a message no filter matches is deleted from the queue
  without invoking the function (mappings.event_filter).
- ScalingConfig.MaximumConcurrency: at most that many of the mapping's
  invocations queued or running at once; the poller waits for one to end.
- FunctionResponseTypes ["ReportBatchItemFailures"]: the handler's
  `batchItemFailures` keeps those messages (and, on FIFO queues, the rest
  of their message group) in the queue. Without it the response is
  ignored: a successful invocation deletes the whole batch.
- A failed invocation deletes nothing: the batch reappears after the
  visibility timeout and, past maxReceiveCount, goes to the dead-letter
  queue.
- LastProcessingResult: "OK" after a successful batch, "PROBLEM: ..." after
  a failed one or when the queue is gone (the mapping stays, as in Lambda)."""

import json
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from invocations import dispatch, hooks, qualified
from invocations.models import FINISHED, Invocation
from mappings import event_filter
from mappings.models import EventSourceMapping
from messaging import queues
from messaging.models import Queue
from messaging.queue_source import queue_of, queues_of

log = logging.getLogger(__name__)
# A bound on one poll's work per mapping; the next tick goes on.
MAX_BATCHES_PER_POLL = 10
REPORT_FAILURES = "ReportBatchItemFailures"
OK = "OK"


def batch_due(mapping: EventSourceMapping, now, queue: Queue | None = None) -> bool:
    """A batch is due when a full one is waiting, or when the oldest visible
    message has waited the batching window (0: whenever any is visible)."""
    queue = queue or queue_of(mapping.function.team, mapping.event_source_arn)
    if queue is None:
        return False
    waiting = queues.visible(queue, now)
    if waiting[: mapping.batch_size].count() >= mapping.batch_size:
        return True
    oldest = waiting.order_by("visible_at").values_list("visible_at", flat=True).first()
    return oldest is not None and oldest <= now - timedelta(seconds=mapping.batching_window_s)


def in_flight(mapping: EventSourceMapping) -> int:
    """The mapping's invocations queued or running (for MaximumConcurrency)."""
    return Invocation.objects.filter(trigger=mapping.trigger).exclude(status__in=FINISHED).count()


def at_capacity(mapping: EventSourceMapping) -> bool:
    return bool(mapping.max_concurrency) and in_flight(mapping) >= mapping.max_concurrency


def _problem(mapping: EventSourceMapping, text: str) -> None:
    result = f"PROBLEM: {text}"[:256]
    if mapping.last_processing_result != result:
        mapping.last_processing_result = result
        EventSourceMapping.objects.filter(pk=mapping.pk).update(last_processing_result=result)


def poll_mapping(mapping: EventSourceMapping, now=None, queue: Queue | None = None) -> Invocation | None:
    """Claim one batch and submit one async invocation for its messages that
    pass the mapping's filters, or None (nothing due, at MaximumConcurrency,
    or the queue is gone). Messages no filter matches are deleted."""
    now = now or timezone.now()
    if dispatch.not_ready(mapping.function) is not None:
        # Lambda: a mapping waits while its function is Pending; the
        # messages stay in the queue, untouched.
        return None
    queue = queue or queue_of(mapping.function.team, mapping.event_source_arn)
    if queue is None:
        _problem(mapping, f"The SQS queue {mapping.event_source_arn} does not exist.")
        return None
    if at_capacity(mapping) or not batch_due(mapping, now, queue):
        return None
    filters = _filters(mapping)
    while True:
        with transaction.atomic():
            batch = queues.claim(queue, mapping.batch_size, now)
            if not batch:
                return None
            records = [(m, queues.sqs_record(queue, m)) for m in batch]
            passed = [(m, r) for m, r in records if filters.matches("sqs", r)]
            kept = {m.pk for m, _ in passed}
            dropped = {str(m.message_id): m.receipt_handle for m, _ in records if m.pk not in kept}
            # As Lambda: a message that no filter matches is done with.
            queues.delete_received(queue.id, dropped)
            if passed:
                return _submit(mapping, queue, passed, now)


def _filters(mapping: EventSourceMapping) -> event_filter.Filters:
    try:
        return event_filter.parse(mapping.filter_criteria)
    except event_filter.InvalidFilter:
        # Checked when stored; a row edited by hand passes everything
        # rather than silently dropping messages.
        log.warning("mapping %s has invalid FilterCriteria; not filtering", mapping.pk)
        return event_filter.NONE


def _submit(mapping: EventSourceMapping, queue: Queue, passed: list, now) -> Invocation:
    event = {"Records": [record for _, record in passed]}
    # The mapping's version or alias, resolved now; a missing one fails the
    # batch (its messages come back and go to the queue's redrive policy).
    inv = qualified.submit_async(
        mapping.function,
        mapping.qualifier,
        json.dumps(event),
        source="queue",
        priority=mapping.priority,
        trigger=mapping.trigger,
        origin={
            "queue_id": str(queue.id),
            "mapping_id": str(mapping.id),
            "report_failures": REPORT_FAILURES in (mapping.function_response_types or []),
            # In the batch's order; with a FIFO queue's message group, so
            # a failure keeps the rest of its group (finish_queue_batch).
            "messages": [
                {"id": str(m.message_id), "receipt": m.receipt_handle,
                 **({"group": m.group_id} if queue.fifo else {})}
                for m, _ in passed
            ],
        },
    )
    EventSourceMapping.objects.filter(pk=mapping.pk).update(last_fired_at=now)
    return inv


def poll_all(now=None) -> int:
    """Every enabled SQS mapping, as many due batches as there are (bounded).
    Safe to run twice at once: claims are conditional."""
    submitted = 0
    mappings = list(
        EventSourceMapping.objects.filter(kind="sqs", enabled=True).select_related("function__team")
    )
    # Every mapping's queue in one query, not one per mapping.
    found = queues_of((m.function.team, m.event_source_arn) for m in mappings)
    for mapping in mappings:
        queue = found.get((mapping.function.team_id, mapping.event_source_arn))
        for _ in range(MAX_BATCHES_PER_POLL):
            try:
                inv = poll_mapping(mapping, now, queue)
            except Exception:
                # One broken mapping must not starve the others.
                log.exception("polling %s for %s failed", mapping.event_source_arn, mapping.function_id)
                break
            if inv is None:
                break
            submitted += 1
    return submitted


def failed_item_ids(inv: Invocation, batch_ids: set[str]) -> set[str] | None:
    """The ids the handler reported in batchItemFailures; None means the
    whole batch failed. As in Lambda, a malformed report (an id not in the
    batch, an empty id) fails the whole batch; no report means all succeeded."""
    try:
        result = json.loads(inv.result) if inv.result else None
    except ValueError:
        return None
    if not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return set()
    items = result["batchItemFailures"]
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in batch_ids:
            return None
        failed.add(ident)
    return failed


def _error_text(inv: Invocation) -> str:
    error = inv.error or {}
    if isinstance(error, dict):
        kind, message = error.get("errorType") or inv.status, error.get("errorMessage") or ""
        return f"{kind}: {message}".strip(": ")
    return str(error)


def _record_result(mapping_id, result: str, error: str | None = None) -> None:
    changes = {"last_processing_result": result[:256]}
    if error is not None:
        changes["last_error"] = error
    EventSourceMapping.objects.filter(pk=mapping_id).update(**changes)


@hooks.on_finished
def finish_queue_batch(inv: Invocation) -> None:
    """Delete the batch's handled messages. On any failure nothing is
    deleted: the messages reappear after the visibility timeout and, past
    max_receive_count, go to the dead-letter queue. The platform's async
    retries skip source "queue", as redelivery is the queue's job."""
    if inv.source != "queue" or not inv.origin:
        return
    mapping_id = inv.origin.get("mapping_id")
    if inv.status != "succeeded":
        if mapping_id:
            _record_result(mapping_id, "PROBLEM: Function call failed", _error_text(inv))
        return
    messages = inv.origin.get("messages") or []
    receipts = {m["id"]: m["receipt"] for m in messages}
    # Mappings stored before FunctionResponseTypes existed honoured reports.
    if inv.origin.get("report_failures", True):
        failed = failed_item_ids(inv, set(receipts))
    else:
        failed = set()
    if failed is None:
        log.warning("invocation %s returned malformed batchItemFailures; keeping its batch", inv.pk)
        if mapping_id:
            _record_result(
                mapping_id, "PROBLEM: Function response had invalid batchItemFailures",
                "batchItemFailures named a message not in the batch, or was malformed",
            )
        return
    queues.delete_received(inv.origin["queue_id"], _handled(messages, failed))
    if mapping_id:
        _record_result(mapping_id, OK)


def _handled(messages: list[dict], failed: set[str]) -> dict[str, str]:
    """{message_id: receipt} of the batch's messages to delete. A FIFO
    message after a failed one of its group is kept too, even if reported
    done, so the group is never processed out of order (as Lambda asks of
    FIFO handlers: report the failed message and every one after it)."""
    broken_groups: set[str] = set()
    handled = {}
    for m in messages:
        group = m.get("group")
        if m["id"] in failed or (group is not None and group in broken_groups):
            if group is not None:
                broken_groups.add(group)
            continue
        handled[m["id"]] = m["receipt"]
    return handled
