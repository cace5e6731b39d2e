"""Writing a table's change stream: `record_change` is called by every
write (PutItem, UpdateItem, DeleteItem, batches, transactions, TTL) inside
the write's own transaction, so the change and its record commit together.

Rule (DynamoDB Streams): a write that leaves the item as it was emits no
record; the record holds what the table's StreamViewType asks for."""

from __future__ import annotations

import json

from django.utils import timezone

from mappings import wakeups
from tables.models import StreamRecord, Table


def record_change(table: Table, keys: dict, old: dict | None, new: dict | None,
                  *, user_identity: dict | None = None) -> StreamRecord | None:
    """Record the change of the item with primary key `keys` (typed JSON)
    from `old` to `new` (None: absent) when the table has a stream, and
    wake the stream's pollers once the transaction commits. Returns the
    record, or None when nothing is recorded (no stream, or no change).
    Must be called inside the write's transaction."""
    if not table.stream_view_type or old == new:
        return None
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    view = table.stream_view_type
    new_image = new if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None
    old_image = old if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None
    texts = [json.dumps(part, separators=(",", ":")) if part is not None else None
             for part in (keys, new_image, old_image)]
    record = StreamRecord.objects.create(
        table=table, stream_label=table.stream_label, event_name=event_name, view_type=view,
        keys=texts[0], new_image=texts[1], old_image=texts[2],
        # SizeBytes: the record's keys and images, as the stream counts them.
        size_bytes=sum(len(t.encode()) for t in texts if t is not None),
        created_at=timezone.now(), user_identity=user_identity,
    )
    wakeups.notify(table.stream_arn)
    return record
