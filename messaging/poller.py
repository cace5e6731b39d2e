"""Reading queues into functions: the beat task calls poll_all() every
STRATUS_QUEUE_POLL_INTERVAL seconds; a finish hook deletes what a batch
handled. Messages are deleted only after the function succeeded, so a worker
that dies mid-batch deletes nothing and the batch reappears after the
visibility timeout."""

import json
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from invocations import dispatch, hooks
from invocations.models import Invocation
from messaging import queues
from messaging.models import EventSourceMapping

log = logging.getLogger(__name__)
# A bound on one poll's work per mapping; the next tick goes on.
MAX_BATCHES_PER_POLL = 10


def batch_due(mapping: EventSourceMapping, now) -> bool:
    """A batch is due when a full one is waiting, or when the oldest visible
    message has waited the batching window (0: whenever any is visible)."""
    waiting = queues.visible(mapping.queue, now)
    if waiting[: mapping.batch_size].count() >= mapping.batch_size:
        return True
    oldest = waiting.order_by("visible_at").values_list("visible_at", flat=True).first()
    return oldest is not None and oldest <= now - timedelta(seconds=mapping.batching_window_s)


def poll_mapping(mapping: EventSourceMapping, now=None) -> Invocation | None:
    """Claim one batch and submit one async invocation for it, or None."""
    now = now or timezone.now()
    queue = mapping.queue
    if not batch_due(mapping, now):
        return None
    with transaction.atomic():
        batch = queues.claim(queue, mapping.batch_size, now)
        if not batch:
            return None
        event = {"Records": [queues.sqs_record(queue, m) for m in batch]}
        inv = dispatch.submit_async(
            mapping.function,
            json.dumps(event),
            source="queue",
            priority=mapping.priority,
            trigger=mapping.trigger,
            origin={
                "queue_id": str(queue.id),
                "mapping_id": str(mapping.id),
                # In the batch's order; with a FIFO queue's message group, so
                # a failure keeps the rest of its group (finish_queue_batch).
                "messages": [
                    {"id": str(m.message_id), "receipt": m.receipt_handle, **({"group": m.group_id}
                     if queue.fifo else {})}
                    for m in batch
                ],
            },
        )
        EventSourceMapping.objects.filter(pk=mapping.pk).update(last_fired_at=now)
    return inv


def poll_all(now=None) -> int:
    """Every enabled mapping, as many due batches as there are (bounded).
    Safe to run twice at once: claims are conditional."""
    submitted = 0
    mappings = EventSourceMapping.objects.filter(enabled=True).select_related(
        "queue__team", "queue__dead_letter_queue", "function__team"
    )
    for mapping in mappings:
        for _ in range(MAX_BATCHES_PER_POLL):
            try:
                inv = poll_mapping(mapping, now)
            except Exception:
                # One broken mapping must not starve the others.
                log.exception("polling queue %s for %s failed", mapping.queue_id, mapping.function_id)
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


@hooks.on_finished
def finish_queue_batch(inv: Invocation) -> None:
    """Delete the batch's handled messages. On any failure nothing is
    deleted: the messages reappear after the visibility timeout and, past
    max_receive_count, go to the dead-letter queue. The platform's async
    retries skip source "queue", as redelivery is the queue's job."""
    if inv.source != "queue" or not inv.origin or inv.status != "succeeded":
        return
    messages = inv.origin.get("messages") or []
    receipts = {m["id"]: m["receipt"] for m in messages}
    failed = failed_item_ids(inv, set(receipts))
    if failed is None:
        log.warning("invocation %s returned malformed batchItemFailures; keeping its batch", inv.pk)
        return
    queues.delete_received(inv.origin["queue_id"], _handled(messages, failed))


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
