"""Time to live: UpdateTimeToLive / DescribeTimeToLive, and the sweep that
deletes expired items in the background (Celery beat: `tables.expire_items`).

Rules (source: DynamoDB Developer Guide, "Time to Live"): the TTL
attribute holds a Number of epoch seconds; items of another type there are
never expired; an expired item is deleted by the service some time after
its time (until then reads still return it), and the deletion is a REMOVE
stream record whose userIdentity is {"type": "Service", "principalId":
"dynamodb.amazonaws.com"}. A TTL time more than five years in the past
("Using DynamoDB Time to Live") is not expired: 0 and other small
sentinels mean "never". Enabling TTL when it is on, or disabling it when
off, is a ValidationException."""

from __future__ import annotations

import json
import time

from django.db import transaction

from tables import items, wire
from tables.models import Item, Table

SWEEP_BATCH = 100
# DynamoDB expires only items whose TTL is at most five years in the past.
MAX_PAST_SECONDS = 5 * 365 * 24 * 3600


def describe(table: Table) -> dict:
    if not table.ttl_enabled:
        return {"TimeToLiveStatus": "DISABLED"}
    return {"TimeToLiveStatus": "ENABLED", "AttributeName": table.ttl_attribute}


def update(table: Table, spec: dict | None) -> dict:
    """UpdateTimeToLive's TimeToLiveSpecification {Enabled, AttributeName}:
    records the setting and the expiry time of every item already there."""
    spec = spec or {}
    enabled, name = spec.get("Enabled"), spec.get("AttributeName")
    if enabled is None or not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise wire.validation(
            "TimeToLiveSpecification must have Enabled and an AttributeName of 1 to 255 characters"
        )
    if enabled and table.ttl_enabled:
        raise wire.validation("TimeToLive is already enabled")
    if not enabled and not table.ttl_enabled:
        raise wire.validation("TimeToLive is already disabled")
    if not enabled and name != table.ttl_attribute:
        raise wire.validation(
            f"TimeToLive is active on a different AttributeName: current AttributeName is "
            f"{table.ttl_attribute}"
        )
    with transaction.atomic():
        table.ttl_enabled, table.ttl_attribute = bool(enabled), name
        table.save(update_fields=["ttl_enabled", "ttl_attribute"])
        if enabled:
            _set_expiries(table)
        else:
            Item.objects.filter(table=table, expires_at__isnull=False).update(expires_at=None)
    return {"Enabled": bool(enabled), "AttributeName": name}


def _set_expiries(table: Table, chunk: int = 500) -> None:
    last = 0
    while True:
        rows = list(
            Item.objects.filter(table=table, id__gt=last).order_by("id").values_list("id", "data")[:chunk]
        )
        if not rows:
            return
        for pk, data in rows:
            at = items.expiry(table, json.loads(data))
            if at is not None:
                Item.objects.filter(pk=pk).update(expires_at=at)
        last = rows[-1][0]


def sweep(now: float | None = None, limit: int = 1000) -> int:
    """Delete up to `limit` items past their TTL (tables with TTL on), a
    short transaction per SWEEP_BATCH items. Safe to run twice at once:
    each deletion re-checks the row under its transaction. Returns how many
    were deleted."""
    now = int(time.time() if now is None else now)
    deleted = 0
    while deleted < limit:
        due = list(
            Item.objects.filter(
                expires_at__lte=now, expires_at__gte=now - MAX_PAST_SECONDS, table__ttl_enabled=True
            )
            .order_by("expires_at")
            .values_list("table_id", "id")[:SWEEP_BATCH]
        )
        if not due:
            break
        by_table: dict = {}
        for table_id, pk in due:
            by_table.setdefault(table_id, []).append(pk)
        gone = 0
        for table in Table.objects.filter(pk__in=by_table).select_related("team"):
            gone += items.expire(table, by_table[table.pk], now, MAX_PAST_SECONDS)
        deleted += gone
        if gone == 0:
            break
    return deleted
