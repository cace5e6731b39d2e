"""GetItem, Query and Scan over the stored rows.

A query by key is a range of the `(table, hash_digest, sort_key)` index
(or the index entries' `(index, hash_digest, sort_key)`), read in chunks
in key order; a scan walks `(hash_digest, sort_key)` and a Segment is a
range of hash_digest (TotalSegments equal slices of the SHA-256 space).
Neither ever loads the table.

Pages (source: DynamoDB API reference, Query / Scan): a page stops after
`Limit` items were read (before the filter) or after 1 MB of item data was
read, with LastEvaluatedKey (the table's key attributes, and the index's
for an index) so ExclusiveStartKey resumes after it; Count and
ScannedCount count matched and read items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q

from awsapi.protocols import ServiceError
from tables import indexing, values, wire
from tables.models import IndexEntry, Item, Table, TableIndex

PAGE_BYTES = 1024 * 1024
CHUNK = 200
HASH_SPACE = 2**256


@dataclass
class Source:
    """What a Query or Scan reads: the table, or one of its indexes."""

    table: Table
    index: TableIndex | None

    @property
    def key_names(self) -> list[str]:
        """Attributes of LastEvaluatedKey: the table's keys, then the index's."""
        names = [n for n in self.table.key_names() if n]
        if self.index is not None:
            names += [n for n in self.index.key_names() if n and n not in names]
        return names

    def projected(self, item: dict) -> dict:
        """The item as the index holds it (its Projection)."""
        if self.index is None or self.index.projection.get("ProjectionType") == "ALL":
            return item
        keep = set(self.key_names) | set(self.index.projection.get("NonKeyAttributes") or [])
        return {k: v for k, v in item.items() if k in keep}


def source_of(table: Table, index_name: str | None) -> Source:
    if index_name is None:
        return Source(table, None)
    index = next((i for i in table.indexes.all() if i.name == index_name), None)
    if index is None:
        raise wire.validation(f"The table does not have the specified index: {index_name}")
    return Source(table, index)


def _after(fields: list[str], marks: list[str], descending: bool) -> Q:
    """Rows after (`descending`: before) `marks` in the order of `fields`."""
    op = "lt" if descending else "gt"
    found = Q()
    for i, name in enumerate(fields):
        step = Q(**dict(zip(fields[:i], marks[:i], strict=True))) & Q(**{f"{name}__{op}": marks[i]})
        found = step if i == 0 else found | step
    return found


def _rows(
    source: Source, where: Q, fields: list[str], start: list[str] | None, descending: bool
) -> Iterator[tuple[dict, int, list[str]]]:
    """(item, size, order marks) of the matching rows in order, read in
    chunks of CHUNK rows by key (never the whole range at once)."""
    order = [("-" if descending else "") + f for f in fields]
    if source.index is None:
        prefix, base = "", Item.objects.filter(table=source.table)
    else:
        prefix, base = "item__", IndexEntry.objects.filter(index=source.index)
    marks = start
    while True:
        query = base.filter(where)
        if marks is not None:
            query = query.filter(_after(fields, marks, descending))
        rows = list(query.order_by(*order).values_list(prefix + "data", prefix + "size", *fields)[:CHUNK])
        for data, size, *row_marks in rows:
            yield json.loads(data), size, row_marks
        if len(rows) < CHUNK:
            return
        marks = list(rows[-1][2:])


def _fields(source: Source) -> list[str]:
    if source.index is None:
        return ["hash_digest", "sort_key"]
    return ["hash_digest", "sort_key", "item__hash_digest", "item__sort_key"]


def _start_marks(source: Source, start: dict | None) -> list[str] | None:
    """ExclusiveStartKey -> the order marks to resume after."""
    if start is None:
        return None
    try:
        start = values.normalize_item(start)
        if set(start) != set(source.key_names):
            raise ValueError
        table_keys = {n: start[n] for n in source.table.key_names() if n}
        place = indexing.of_key(source.table, table_keys)
        marks = [place.hash_digest, place.sort_key]
        if source.index is not None:
            index_place = indexing.index_place(source.table, source.index, start)
            if index_place is None:
                raise ValueError
            marks = [*index_place, *marks]
        return marks
    except (ValueError, values.InvalidValue):
        raise wire.validation(
            "The provided starting key is invalid: The provided key element does not match the schema"
        ) from None
    except ServiceError as exc:
        raise wire.validation(f"The provided starting key is invalid: {exc.message}") from None


def _page(source: Source, rows: Iterator, params: dict, filter_, projection) -> dict:
    limit = params.get("Limit")
    select = params.get("Select")
    items, count, scanned, read_bytes = [], 0, 0, 0
    last = None
    for item, size, _marks in rows:
        scanned += 1
        read_bytes += size
        # A local index reads the table for ALL_ATTRIBUTES (DynamoDB fetches
        # the item); a global one was refused that Select unless it holds ALL.
        shown = item if select == "ALL_ATTRIBUTES" else source.projected(item)
        if filter_ is None or filter_.matches(shown):
            count += 1
            if select != "COUNT":
                items.append(projection.apply(shown) if projection is not None else shown)
        if (limit is not None and scanned >= limit) or read_bytes >= PAGE_BYTES:
            last = {n: item[n] for n in source.key_names if n in item}
            break
    out = {"Count": count, "ScannedCount": scanned}
    if select != "COUNT":
        out["Items"] = [wire.typed_out(i) for i in items]
    if last is not None:
        out["LastEvaluatedKey"] = wire.typed_out(last)
    return out


def _check_common(source: Source, params: dict, projection) -> None:
    limit = params.get("Limit")
    if limit is not None and limit < 1:
        raise wire.constraint(limit, "limit", "have value greater than or equal to 1")
    select = params.get("Select")
    if select is not None and select not in (
        "ALL_ATTRIBUTES",
        "ALL_PROJECTED_ATTRIBUTES",
        "SPECIFIC_ATTRIBUTES",
        "COUNT",
    ):
        raise wire.constraint(
            select,
            "select",
            "satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
        )
    if projection is not None and select not in (None, "SPECIFIC_ATTRIBUTES"):
        raise wire.validation(
            f"Cannot specify the ProjectionExpression when choosing to get {select}"
            if select != "COUNT"
            else "Cannot specify the ProjectionExpression when choosing to get COUNT"
        )
    if select == "ALL_PROJECTED_ATTRIBUTES" and source.index is None:
        raise wire.validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    if (
        select == "ALL_ATTRIBUTES"
        and source.index is not None
        and source.index.kind == "global"
        and source.index.projection.get("ProjectionType") != "ALL"
    ):
        raise wire.invalid(
            f"Select type ALL_ATTRIBUTES is not supported for global secondary index "
            f"{source.index.name} because its projection type is not ALL"
        )
    if params.get("ConsistentRead") and source.index is not None and source.index.kind == "global":
        raise wire.validation("Consistent reads are not supported on global secondary indexes")


def _key_parts(condition) -> tuple[str, dict, str | None, str | None, list[dict]]:
    """(hash name, hash value, range name, operator, operand values) of a
    tables.expressions KeyCondition."""
    return (
        condition.hash_name,
        condition.hash_value,
        condition.range_name,
        condition.range_op,
        list(condition.range_values),
    )


def _range_filter(op: str, operands: list[dict]) -> Q:
    codes = [values.sort_encoding(v) for v in operands]
    if op == "=":
        return Q(sort_key=codes[0])
    if op == "<":
        return Q(sort_key__lt=codes[0])
    if op == "<=":
        return Q(sort_key__lte=codes[0])
    if op == ">":
        return Q(sort_key__gt=codes[0])
    if op == ">=":
        return Q(sort_key__gte=codes[0])
    if op == "BETWEEN":
        if codes[0] > codes[1]:
            raise wire.validation(
                "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound "
                "to be greater than or equal to lower bound"
            )
        return Q(sort_key__gte=codes[0], sort_key__lte=codes[1])
    if op == "begins_with":
        # Hex of the prefix's bytes: every longer key starts with it, and
        # "g" sorts after every hex digit, so this is an index range.
        return Q(sort_key__gte=codes[0], sort_key__lt=codes[0] + "g")
    raise wire.validation(f"Invalid KeyConditionExpression: unsupported operator {op}")


def query(table: Table, params: dict, found) -> dict:
    """Query: `found` is the request's tables.expression_input.Expressions."""
    source = source_of(table, params.get("IndexName"))
    if params.get("KeyConditionExpression") is None:
        raise wire.validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
        )
    key_hash, key_range = (source.index or table).key_names()
    condition = found.key_condition(key_hash, key_range)
    filter_ = found.condition("FilterExpression")
    projection = found.projection()
    found.finish()
    _check_common(source, params, projection)
    hash_name, hash_value, range_name, op, operands = _key_parts(condition)
    types = {d["AttributeName"]: d["AttributeType"] for d in table.attribute_definitions}
    if hash_name != key_hash:
        raise wire.validation(f"Query condition missed key schema element: {key_hash}")
    if range_name is not None and range_name != key_range:
        raise wire.validation(
            f"Query condition missed key schema element: {key_range}"
            if key_range
            else "Query key condition not supported"
        )
    if filter_ is not None:
        # DynamoDB: a Query's filter may not read the queried key schema's
        # attributes (those are the KeyConditionExpression's); Scan's may.
        for path in filter_.paths:
            if path[0] in (key_hash, key_range):
                raise wire.validation(
                    "Filter Expression can only contain non-primary key attributes: "
                    f"Primary key attribute: {path[0]}"
                )
    for name, value in [(hash_name, hash_value)] + [(range_name, v) for v in operands]:
        if values.kind_of(value) != types[name]:
            raise wire.invalid("Condition parameter type does not match schema type")
    if op == "begins_with" and types[range_name] == "N":
        raise wire.validation(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or "
            "function; operator or function: begins_with, operand type: N"
        )
    where = Q(hash_digest=values.key_digest(hash_value))
    if range_name is not None:
        where &= _range_filter(op, operands)
    descending = params.get("ScanIndexForward") is False
    fields = _fields(source)[1:]  # the partition is fixed: the rest orders it
    start = _start_marks(source, params.get("ExclusiveStartKey"))
    rows = _rows(source, where, fields, start[1:] if start else None, descending)
    return _page(source, rows, params, filter_, projection)


def scan(table: Table, params: dict, found) -> dict:
    source = source_of(table, params.get("IndexName"))
    filter_ = found.condition("FilterExpression")
    projection = found.projection()
    found.finish()
    _check_common(source, params, projection)
    segment, total = params.get("Segment"), params.get("TotalSegments")
    if (segment is None) != (total is None):
        missing, present = ("TotalSegments", "Segment") if total is None else ("Segment", "TotalSegments")
        raise wire.validation(
            f"The {missing} parameter is required but was not present in the request when "
            f"{present} parameter is present"
        )
    where = Q()
    if total is not None:
        wire.check_range(total, "totalSegments", 1, 1000000)
        if not 0 <= segment < total:
            raise wire.validation(
                "The Segment parameter is zero-based and must be less than parameter "
                f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
            )
        where &= Q(hash_digest__gte=format(segment * HASH_SPACE // total, "064x"))
        if segment + 1 < total:
            where &= Q(hash_digest__lt=format((segment + 1) * HASH_SPACE // total, "064x"))
    start = _start_marks(source, params.get("ExclusiveStartKey"))
    rows = _rows(source, where, _fields(source), start, False)
    return _page(source, rows, params, filter_, projection)


def get_item(table: Table, key: dict, projection=None) -> dict | None:
    from tables import items

    item = items.read(table, indexing.of_key(table, key))
    if item is not None and projection is not None:
        item = projection.apply(item)
    return item
