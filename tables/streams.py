"""Writing a table's change stream: `record_change` is called by every
write (PutItem, UpdateItem, DeleteItem, batches, transactions, TTL) inside
the write's own transaction, so the change and its record commit together.

Rules (Amazon DynamoDB Developer Guide, "Change data capture for DynamoDB
Streams"): a write that leaves the item as it was emits no record; the
record holds what the table's StreamViewType asks for; records are kept
24 hours (`RETENTION`, trimmed by `trim`, run by Celery beat)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from mappings import wakeups
from tables import values
from tables.models import StreamRecord, Table

RETENTION = timedelta(hours=24)
# Records deleted per statement when trimming (keeps each one short).
TRIM_BATCH = 5000


def same_item(old: dict | None, new: dict | None) -> bool:
    """Whether two items (typed JSON, None: absent) are the same DynamoDB
    item, so a write from one to the other changes nothing: compared as
    maps by tables.values.equal (numbers by value, sets unordered)."""
    if old is None or new is None:
        return old is new
    return values.equal({"M": old}, {"M": new})


def hold_order(table: Table) -> None:
    """Make this transaction's records take their ids in commit order.

    Pollers read a stream as "ids above the last one read"; on PostgreSQL
    two transactions can take ids 7 and 8 and commit 8 first, and a poller
    that read 8 would never see 7. Locking the table's row before the
    record's id is taken serialises a table's stream writes (held to the
    commit). SQLite has one writer at a time already. A transaction that
    writes several items of one table (TransactWriteItems, batches) should
    call `hold_order` before its first item write, so that it never holds
    an item another writer waits for while waiting for the table."""
    if connection.vendor == "postgresql":
        Table.objects.select_for_update().filter(pk=table.pk).values_list("pk").first()



def record_change(table: Table, keys: dict, old: dict | None, new: dict | None,
                  *, user_identity: dict | None = None) -> StreamRecord | None:
    """Record the change of the item with primary key `keys` (typed JSON)
    from `old` to `new` (None: absent) when the table has a stream, and
    wake the stream's pollers once the transaction commits. Returns the
    record, or None when nothing is recorded (no stream, or no change).
    `user_identity` is TTL's `{"type": "Service", "principalId":
    "dynamodb.amazonaws.com"}`. Must be called inside the write's
    transaction."""
    if not table.stream_view_type or same_item(old, new):
        return None
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    view = table.stream_view_type
    new_image = new if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None
    old_image = old if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None
    texts = [json.dumps(part, separators=(",", ":")) if part is not None else None
             for part in (keys, new_image, old_image)]
    hold_order(table)
    record = StreamRecord.objects.create(
        table=table, stream_label=table.stream_label, event_name=event_name, view_type=view,
        keys=texts[0], new_image=texts[1], old_image=texts[2],
        # SizeBytes: the record's keys and images, as the stream counts them.
        size_bytes=sum(len(t.encode()) for t in texts if t is not None),
        created_at=timezone.now(), user_identity=user_identity,
    )
    wakeups.notify(table.stream_arn)
    return record


def trim(now: datetime | None = None) -> int:
    """Delete the stream records older than RETENTION (DynamoDB Streams
    keeps records 24 hours); returns how many went. Records are walked
    oldest id first (the primary key's index; `created_at` has none) and
    the walk stops at the first one still kept: ids grow with time."""
    cutoff = (now or timezone.now()) - RETENTION
    removed = 0
    while True:
        oldest = list(StreamRecord.objects.order_by("id").values_list("id", "created_at")[:TRIM_BATCH])
        expired = [record_id for record_id, created in oldest if created < cutoff]
        if expired:
            removed += StreamRecord.objects.filter(id__in=expired).delete()[0]
        if len(expired) < TRIM_BATCH:
            return removed
