"""Where an item sits: its primary key's two stored columns (`hash_digest`,
`sort_key`; see tables.models) and its entries in the table's secondary
indexes, with DynamoDB's checks of key attributes.

Rules (source: DynamoDB Developer Guide, "Core components" and "Working
with items"): a key attribute must be present with the type its
AttributeDefinition names, a key's S or B value may not be empty; an item
without an index's key attributes is not in that index (sparse), one that
has them with another type is refused."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from awsapi.protocols import ServiceError
from tables import values, wire
from tables.models import IndexEntry, Item, Table, TableIndex


@dataclass(frozen=True)
class Place:
    """An item's primary key: its typed attributes and stored columns."""

    keys: dict
    hash_digest: str
    sort_key: str


def _types(table: Table) -> dict[str, str]:
    return {d["AttributeName"]: d["AttributeType"] for d in table.attribute_definitions}


def _empty(value: dict) -> bool:
    kind = values.kind_of(value)
    return kind in ("S", "B") and value[kind] == ""


def of_item(table: Table, item: dict, *, in_batch: bool = False) -> Place:
    """An item's (PutItem's Item) primary key, checked: ValidationException
    "Missing the key X in the item" / "Type mismatch for key X expected: S
    actual: N" / an empty key string. BatchWriteItem words a wrong type as
    a wrong key (`in_batch`): "The provided key element does not match the
    schema", as DynamoDB answers it there."""
    types = _types(table)
    keys = {}
    for name in filter(None, table.key_names()):
        value = item.get(name)
        if value is None:
            raise wire.invalid(f"Missing the key {name} in the item")
        actual = values.kind_of(value)
        if actual != types[name]:
            if in_batch:
                raise wire.validation("The provided key element does not match the schema")
            raise wire.invalid(f"Type mismatch for key {name} expected: {types[name]} actual: {actual}")
        if _empty(value):
            raise wire.validation(
                "One or more parameter values are not valid. The AttributeValue for a key attribute "
                f"cannot contain an empty {'string' if actual == 'S' else 'binary'} value. Key: {name}"
            )
        keys[name] = value
    return _place(table, keys)


def of_key(table: Table, key: dict) -> Place:
    """A request's Key (GetItem, DeleteItem, UpdateItem...): exactly the
    table's key attributes with their types, else ValidationException "The
    provided key element does not match the schema"."""
    names = [n for n in table.key_names() if n]
    types = _types(table)
    if not isinstance(key, dict) or set(key) != set(names):
        raise wire.validation("The provided key element does not match the schema")
    for name in names:
        if not isinstance(key[name], dict) or len(key[name]) != 1 or values.kind_of(key[name]) != types[name]:
            raise wire.validation("The provided key element does not match the schema")
        if _empty(key[name]):
            raise wire.validation(
                "One or more parameter values are not valid. The AttributeValue for a key attribute "
                f"cannot contain an empty string value. Key: {name}"
            )
    return _place(table, {n: key[n] for n in names})


MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024


def _key_bytes(value: dict) -> int:
    kind = values.kind_of(value)
    if kind == "S":
        return len(value["S"].encode("utf-8"))
    if kind == "B":
        return len(base64.b64decode(value["B"]))
    return values.value_size(value)


def _check_key_sizes(hash_value: dict, range_value: dict | None) -> None:
    if _key_bytes(hash_value) > MAX_HASH_KEY_BYTES:
        raise wire.invalid("Size of hashkey has exceeded the maximum size limit of 2048 bytes")
    if range_value is not None and _key_bytes(range_value) > MAX_RANGE_KEY_BYTES:
        raise wire.invalid("Aggregated size of all range keys has exceeded the size limit of 1024 bytes")


def _place(table: Table, keys: dict) -> Place:
    """Source of the limits: DynamoDB Developer Guide, "Quotas": a partition
    key value is at most 2048 bytes, a sort key value 1024 bytes."""
    hash_name, range_name = table.key_names()
    _check_key_sizes(keys[hash_name], keys[range_name] if range_name else None)
    return Place(
        keys, values.key_digest(keys[hash_name]), values.sort_encoding(keys[range_name]) if range_name else ""
    )


def index_place(table: Table, index: TableIndex, item: dict) -> tuple[str, str] | None:
    """(hash_digest, sort_key) of `item` in `index`, or None when the item
    lacks one of the index's key attributes (sparse index). A key attribute
    of the wrong type, empty, or past the key size limits (2048 bytes
    partition, 1024 sort) is a ValidationException, as DynamoDB refuses
    such a write."""
    types = _types(table)
    names = index.key_names()
    for name in names:
        if name is None:
            continue
        value = item.get(name)
        if value is None:
            return None
        actual = values.kind_of(value)
        if actual != types.get(name):
            raise wire.invalid(
                f"Type mismatch for Index Key {name} Expected: {types.get(name)} "
                f"Actual: {actual} IndexName: {index.name}"
            )
        if _empty(value):
            raise wire.validation(
                "One or more parameter values are not valid. A value specified for a secondary index key "
                "is not supported. The AttributeValue for a key attribute cannot contain an empty string "
                f"value. IndexName: {index.name}, IndexKey: {name}"
            )
    hash_name, range_name = names
    # "Quotas": the key size limits hold for an index's keys as for the table's.
    _check_key_sizes(item[hash_name], item[range_name] if range_name else None)
    return values.key_digest(item[hash_name]), values.sort_encoding(item[range_name]) if range_name else ""


def check_indexes(table: Table, indexes: list[TableIndex], item: dict) -> list[tuple[TableIndex, str, str]]:
    """Every index place of `item` (checked before anything is written)."""
    places = []
    for index in indexes:
        place = index_place(table, index, item)
        if place is not None:
            places.append((index, *place))
    return places


def write_entries(row: Item, places: list[tuple[TableIndex, str, str]], *, replace: bool) -> None:
    """The item's index entries are `places` now (`replace`: it had some)."""
    if replace:
        entries = IndexEntry.objects.filter(item=row)
        entries._raw_delete(entries.db)
    if places:
        IndexEntry.objects.bulk_create(
            [IndexEntry(index=index, item=row, hash_digest=h, sort_key=s) for index, h, s in places]
        )


def backfill(table: Table, index: TableIndex, chunk: int = 500) -> int:
    """Entries of a new global index for the items already in the table;
    items whose key attribute has another type are left out (DynamoDB
    reports them as index violations). Returns how many were written."""
    written, last = 0, 0
    while True:
        rows = list(
            Item.objects.filter(table=table, id__gt=last).order_by("id").values_list("id", "data")[:chunk]
        )
        if not rows:
            return written
        entries = []
        for pk, data in rows:
            try:
                place = index_place(table, index, json.loads(data))
            except ServiceError:  # a violation: the item stays out of the index
                place = None
            if place is not None:
                entries.append(IndexEntry(index=index, item_id=pk, hash_digest=place[0], sort_key=place[1]))
        IndexEntry.objects.bulk_create(entries)
        written += len(entries)
        last = rows[-1][0]
