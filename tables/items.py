"""The one place items are written: PutItem, UpdateItem and DeleteItem, the
batches, transactions and TTL's deletions all plan their changes here
(`plan_put`, `plan_update`, `plan_delete`: read the item, check the
condition and the new item, nothing written) and then `commit` them: the
item row, its secondary-index entries and its stream record
(tables.streams.record_change), inside the caller's transaction, so a
write and its record commit together and a refused write changes nothing.

Limits (source: DynamoDB Developer Guide, "Quotas": item size): an item,
names and values, is at most 400 KB ("Item size has exceeded the maximum
allowed size"; UpdateItem's result: "Item size to update has exceeded the
maximum allowed size")."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction

from tables import indexing, streams, values, wire
from tables.indexing import Place
from tables.models import IndexEntry, Item, Table, TableIndex

MAX_ITEM_BYTES = 400 * 1024
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


class ConditionFailed(Exception):
    """A ConditionExpression did not hold; `old` is the item as it is."""

    def __init__(self, old: dict | None) -> None:
        super().__init__("The conditional request failed")
        self.old = old


def digest(item: dict | None) -> str:
    """sha256 hex of an item's canonical JSON (names sorted), '' for no
    item: what the console's edit form carries of the item it showed."""
    if item is None:
        return ""
    return hashlib.sha256(json.dumps(item, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Unchanged:
    """A condition (`.matches(old)`, like tables.expressions' Condition)
    holding only while the stored item is the one whose `digest` is
    given: the console's edit saves with it, so a change made after the
    form was opened is not overwritten (optimistic concurrency). Checked
    under the row lock of the write, like every condition."""

    def __init__(self, expected: str) -> None:
        self.expected = expected

    def matches(self, old: dict | None) -> bool:
        return old is not None and digest(old) == self.expected


@dataclass
class Change:
    """One planned write of one item: `new` None deletes it."""

    table: Table
    place: Place
    row: Item | None
    old: dict | None
    new: dict | None
    places: list = field(default_factory=list)  # the new item's index entries
    size: int = 0
    indexed: bool = True  # False: the table has no secondary index (no entries to replace)


def dumps(item: dict) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def checked_item(item, *, updating: bool = False) -> tuple[dict, int]:
    """(normalised item, size) or ValidationException: a bad value in
    DynamoDB's words, lists and maps nested deeper than 32 levels, or the
    400 KB limit (Developer Guide, "Quotas": attributes)."""
    try:
        item = values.normalize_item(item)
    except values.InvalidValue as exc:
        raise wire.validation(str(exc)) from None
    size = values.item_size(item)
    if size > MAX_ITEM_BYTES:
        raise wire.validation(
            "Item size to update has exceeded the maximum allowed size"
            if updating
            else "Item size has exceeded the maximum allowed size"
        )
    return item, size


def load(table: Table, place: Place) -> tuple[Item | None, dict | None]:
    """The item's row (locked for the transaction where the database can)
    and its typed JSON, or (None, None)."""
    row = (
        Item.objects.select_for_update()
        .filter(table=table, hash_digest=place.hash_digest, sort_key=place.sort_key)
        .first()
    )
    return row, (json.loads(row.data) if row is not None else None)


def read(table: Table, place: Place) -> dict | None:
    data = (
        Item.objects.filter(table=table, hash_digest=place.hash_digest, sort_key=place.sort_key)
        .values_list("data", flat=True)
        .first()
    )
    return json.loads(data) if data is not None else None


def _check(condition, old: dict | None) -> None:
    if condition is not None and not condition.matches(old):
        raise ConditionFailed(old)


def plan_put(
    table: Table, indexes: list[TableIndex], item: dict, condition=None, *, size: int | None = None
) -> Change:
    """`size` given: `item` is checked_item's already (batches and
    transactions check every item before planning any), not checked again."""
    if size is None:
        item, size = checked_item(item)
    place = indexing.of_item(table, item)
    places = indexing.check_indexes(table, indexes, item)
    row, old = load(table, place)
    _check(condition, old)
    return Change(table, place, row, old, item, places, size, bool(indexes))


def plan_update(table: Table, indexes: list[TableIndex], key: dict, update, condition=None) -> Change:
    """`update` (tables.expressions' Update, or None for an UpdateItem with
    no UpdateExpression) applied to the item, or to its key alone when
    absent (UpdateItem creates it)."""
    place = indexing.of_key(table, key)
    touched = updated_names(update)
    for name in place.keys:
        if name in touched:
            raise wire.invalid(f"Cannot update attribute {name}. This attribute is part of the key")
    row, old = load(table, place)
    _check(condition, old)
    new = dict(old if old is not None else place.keys)
    if update is not None:
        try:
            new = update.apply(new)
        except ValueError as exc:  # ExpressionError, InvalidValue: DynamoDB's words for this item
            raise wire.validation(str(exc)) from None
    for name, value in place.keys.items():
        if new.get(name) != value:
            raise wire.invalid(f"Cannot update attribute {name}. This attribute is part of the key")
    new, size = checked_item(new, updating=True)
    places = indexing.check_indexes(table, indexes, new)
    return Change(table, place, row, old, new, places, size, bool(indexes))


def updated_names(update) -> set[str]:
    """The top-level attributes an Update writes (its `paths`: names, or
    bound paths whose first part is the name)."""
    if update is None:
        return set()
    return {path if isinstance(path, str) else path[0] for path in update.paths}


def plan_delete(table: Table, key: dict, condition=None, *, indexed: bool = True) -> Change:
    place = indexing.of_key(table, key)
    row, old = load(table, place)
    _check(condition, old)
    return Change(table, place, row, old, None, indexed=indexed)


def plan_check(table: Table, key: dict, condition) -> Change:
    """TransactWriteItems' ConditionCheck: nothing written."""
    place = indexing.of_key(table, key)
    row, old = load(table, place)
    _check(condition, old)
    return Change(table, place, row, old, old)


def expiry(table: Table, item: dict) -> int | None:
    """The item's TTL time (epoch seconds) when TTL is on and the item's
    TTL attribute is a Number; DynamoDB ignores any other type."""
    if not table.ttl_enabled or not table.ttl_attribute:
        return None
    value = item.get(table.ttl_attribute)
    if not isinstance(value, dict) or "N" not in value:
        return None
    try:
        seconds = int(Decimal(value["N"]))
    except (InvalidOperation, ValueError, OverflowError):
        return None
    # A BigIntegerField; DynamoDB ignores values this far out anyway.
    return seconds if abs(seconds) < 2**62 else None


def commit(change: Change, *, user_identity: dict | None = None) -> None:
    """Write a planned change (inside the caller's transaction): the row,
    its index entries, its stream record. A change that leaves the item as
    it was writes nothing and records nothing (DynamoDB Streams emit no
    record for it)."""
    if change.new is None:
        if change.row is None:
            return
        # Plain DELETEs: the ORM's cascade would first read the entries back.
        if change.indexed:
            entries = IndexEntry.objects.filter(item=change.row)
            entries._raw_delete(entries.db)
        rows = Item.objects.filter(pk=change.row.pk)
        rows._raw_delete(rows.db)
    elif change.row is not None:
        if change.new == change.old:
            return
        Item.objects.filter(pk=change.row.pk).update(
            data=dumps(change.new), size=change.size, expires_at=expiry(change.table, change.new)
        )
        if change.indexed:
            indexing.write_entries(change.row, change.places, replace=True)
    else:
        row = Item.objects.create(
            table=change.table,
            hash_digest=change.place.hash_digest,
            sort_key=change.place.sort_key,
            data=dumps(change.new),
            size=change.size,
            expires_at=expiry(change.table, change.new),
        )
        indexing.write_entries(row, change.places, replace=False)
    streams.record_change(
        change.table, change.place.keys, change.old, change.new, user_identity=user_identity
    )


def hold(tables: list[Table]) -> dict:
    """First thing in a write's transaction: each table's secondary indexes
    (by table pk), read inside the transaction, so an index UpdateTable
    committed before this write's transaction began gets this write's
    entries (SQLite: the transaction holds the one write lock already).

    On PostgreSQL the table rows are locked first, in one order (by pk),
    before any item: FOR UPDATE for a table with a stream (its records take
    their ids in commit order, see tables.streams), FOR SHARE otherwise
    (writers go on together; UpdateTable, which locks FOR UPDATE, waits for
    them and they for it). One lock order, tables then items, so two
    writers never wait for each other in a circle."""
    tables = sorted({t.pk: t for t in tables}.values(), key=lambda t: str(t.pk))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in tables:
                mode = "UPDATE" if table.stream_view_type else "SHARE"
                cursor.execute(f'SELECT 1 FROM "tables_table" WHERE "id" = %s FOR {mode}', [table.pk])
    found: dict = {t.pk: [] for t in tables}
    for index in TableIndex.objects.filter(table__in=[t.pk for t in tables]):
        found[index.table_id].append(index)
    return found


def _retrying(write):
    """Run `write()` in a transaction; two writers inserting the same new key
    at once (PostgreSQL: nothing to lock yet) meet the unique constraint,
    and the loser plans again against the winner's item."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                return write()
        except IntegrityError:
            if attempt == 2:
                raise


def put_item(table: Table, item: dict, condition=None) -> dict | None:
    """PutItem: the item replaces any item of its key; returns the old item.
    ConditionFailed when `condition` does not hold."""

    def write():
        change = plan_put(table, hold([table])[table.pk], item, condition)
        commit(change)
        return change.old

    return _retrying(write)


def update_item(table: Table, key: dict, update, condition=None) -> Change:
    def write():
        change = plan_update(table, hold([table])[table.pk], key, update, condition)
        commit(change)
        return change

    return _retrying(write)


def delete_item(table: Table, key: dict, condition=None) -> dict | None:
    def write():
        change = plan_delete(table, key, condition, indexed=bool(hold([table])[table.pk]))
        commit(change)
        return change.old

    return _retrying(write)


def expire(table: Table, row_ids: list[int], now: int, ttl_window: int = 5 * 365 * 24 * 3600) -> int:
    """TTL: delete the given items if still past their time (a write since
    may have moved it) by at most `ttl_window` seconds (DynamoDB leaves
    items more than five years past alone), each with a REMOVE record whose userIdentity is
    DynamoDB's service. Returns how many were deleted."""
    deleted = 0
    with transaction.atomic():
        indexed = bool(hold([table])[table.pk])
        rows = Item.objects.select_for_update().filter(
            table=table, pk__in=row_ids, expires_at__lte=now, expires_at__gte=now - ttl_window
        )
        for row in rows:
            old = json.loads(row.data)
            hash_name, range_name = table.key_names()
            keys = {n: old[n] for n in (hash_name, range_name) if n}
            commit(
                Change(table, Place(keys, row.hash_digest, row.sort_key), row, old, None, indexed=indexed),
                user_identity=TTL_IDENTITY,
            )
            deleted += 1
    return deleted
