"""BatchGetItem and BatchWriteItem.

Rules (source: DynamoDB API reference, BatchGetItem / BatchWriteItem): at
most 100 keys per BatchGetItem and 25 requests per BatchWriteItem, across
tables; a key may appear once per table ("Provided list of item keys
contains duplicates"); every request is checked before any is written, so
a refused batch changes nothing. A BatchGetItem answer holds at most
16 MB of items (by DynamoDB's item size): the keys past that come back in
UnprocessedKeys (with the table's ProjectionExpression, names and
ConsistentRead) for the caller to ask again, as boto3's callers do.
BatchWriteItem processes the whole batch (UnprocessedItems empty) and its
writes commit in one transaction."""

from __future__ import annotations

import json

from django.db import transaction
from django.db.models import Q

from tables import indexing, items, legacy, lookup, values, wire
from tables.expression_input import Expressions
from tables.models import Item

MAX_GET_KEYS = 100
MAX_WRITES = 25
MAX_GET_BYTES = 16 * 1024 * 1024  # BatchGetItem: "up to 16 MB of data" per answer
# What an UnprocessedKeys entry repeats of its table's request besides Keys.
_REPEATED = ("ProjectionExpression", "ExpressionAttributeNames", "ConsistentRead", "AttributesToGet")


def _request_items(params: dict) -> dict:
    requested = params.get("RequestItems")
    if not requested:
        raise wire.constraint("{}", "requestItems", "have length greater than or equal to 1")
    return requested


def batch_get_item(team, params: dict) -> dict:
    requested = _request_items(params)
    if sum(len(r.get("Keys") or []) for r in requested.values()) > MAX_GET_KEYS:
        raise wire.validation("Too many items requested for the BatchGetItem call")
    plans = []
    for name, request in requested.items():
        table = lookup.table_for(team, name)
        keys = [wire.typed_in(k) for k in request.get("Keys") or []]
        if not keys:
            raise wire.constraint("[]", "requestItems.keys", "have length greater than or equal to 1")
        places = [indexing.of_key(table, key) for key in keys]
        if len({(p.hash_digest, p.sort_key) for p in places}) != len(places):
            raise wire.validation("Provided list of item keys contains duplicates")
        found = Expressions(legacy.rewritten(request))
        projection = found.projection()
        found.finish()
        plans.append((name, table, places, projection, request))
    responses: dict[str, list] = {}
    unprocessed: dict[str, dict] = {}
    total = 0
    for name, table, places, projection, request in plans:
        out = responses.setdefault(name, [])
        if total > MAX_GET_BYTES:
            left = places
        else:
            match = Q()
            for place in places:
                match |= Q(hash_digest=place.hash_digest, sort_key=place.sort_key)
            rows = dict(
                ((h, s), data)
                for h, s, data in Item.objects.filter(table=table)
                .filter(match)
                .values_list("hash_digest", "sort_key", "data")
            )
            left = []
            for place in places:
                data = rows.get((place.hash_digest, place.sort_key))
                if data is None:
                    continue
                item = json.loads(data)
                if projection is not None:
                    item = projection.apply(item)
                total += values.item_size(item)
                if total > MAX_GET_BYTES:
                    left.append(place)
                    continue
                out.append(wire.typed_out(item))
        if left:
            again = {k: request[k] for k in _REPEATED if k in request}
            unprocessed[name] = {**again, "Keys": [wire.typed_out(p.keys) for p in left]}
    return {"Responses": responses, "UnprocessedKeys": unprocessed}


def batch_write_item(team, params: dict) -> dict:
    requested = _request_items(params)
    if sum(len(r or []) for r in requested.values()) > MAX_WRITES:
        raise wire.validation("Too many items requested for the BatchWriteItem call")
    planned = []
    for name, requests in requested.items():
        table = lookup.table_for(team, name)
        if not requests:
            raise wire.constraint("[]", "requestItems", "have length greater than or equal to 1")
        seen = set()
        for request in requests:
            put, delete = request.get("PutRequest"), request.get("DeleteRequest")
            if (put is None) == (delete is None):
                raise wire.validation(
                    "A WriteRequest must contain exactly one of PutRequest or DeleteRequest"
                )
            if put is not None:
                item, size = items.checked_item(wire.typed_in(put.get("Item") or {}))
                place = indexing.of_item(table, item, in_batch=True)
                planned.append((table, "put", (item, size)))
            else:
                key = wire.typed_in(delete.get("Key") or {})
                place = indexing.of_key(table, key)
                planned.append((table, "delete", key))
            if (place.hash_digest, place.sort_key) in seen:
                raise wire.validation("Provided list of item keys contains duplicates")
            seen.add((place.hash_digest, place.sort_key))
    with transaction.atomic():
        indexes = items.hold([table for table, _, _ in planned])
        for table, kind, value in planned:
            if kind == "put":
                item, size = value
                change = items.plan_put(table, indexes[table.pk], item, size=size)
            else:
                change = items.plan_delete(table, value, indexed=bool(indexes[table.pk]))
            items.commit(change)
    return {"UnprocessedItems": {}}
