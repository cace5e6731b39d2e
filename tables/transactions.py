"""TransactWriteItems and TransactGetItems.

Rules (source: DynamoDB API reference, TransactWriteItems): up to 100
actions (ConditionCheck, Put, Update, Delete), each on a different item
("Transaction request cannot include multiple operations on one item");
all succeed or none: every action is planned (its item read, its
condition checked) in one database transaction, and only when all hold
are they committed, in that same transaction. Otherwise
TransactionCanceledException with one CancellationReason per action, in
order: `ConditionalCheckFailed` (with `Item` under
ReturnValuesOnConditionCheckFailure ALL_OLD), `ValidationError`, or
`None` for the actions that were fine. A ClientRequestToken repeated
within 10 minutes with the same actions is answered as the first call
(idempotency), without writing again: the token is a row
(tables.models.TransactionToken) committed with the writes, so this holds
across processes; a token already used for other actions is
IdempotentParameterMismatchException.

The aggregate size of the items in a transaction (the items TransactWriteItems
would write, the items TransactGetItems reads) is at most 4 MB, else
ValidationException "Transaction request cannot be larger than 4 MB" and
nothing written."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from awsapi.protocols import ServiceError
from tables import indexing, items, lookup, values, wire
from tables.expression_input import Expressions
from tables.models import Table, TransactionToken

MAX_ACTIONS = 100
MAX_BYTES = 4 * 1024 * 1024
TOO_LARGE = "Transaction request cannot be larger than 4 MB"
TOKEN_WINDOW = timedelta(minutes=10)
KINDS = ("ConditionCheck", "Put", "Delete", "Update")


def _entries(params: dict) -> list:
    """TransactItems: 1 to MAX_ACTIONS entries, else ValidationException."""
    entries = params.get("TransactItems") or []
    if not 1 <= len(entries) <= MAX_ACTIONS:
        raise wire.constraint(
            f"{len(entries)} items",
            "transactItems",
            f"have length less than or equal to {MAX_ACTIONS}"
            if entries
            else "have length greater than or equal to 1",
        )
    return entries


class _Tables:
    """The call's tables by TableName: each looked up once per call, not
    once per action (up to 100 actions on one table), errors as
    lookup.table_for's."""

    def __init__(self, team) -> None:
        self.team = team
        self.found: dict[str, Table] = {}

    def __call__(self, name) -> Table:
        if not isinstance(name, str):
            return lookup.table_for(self.team, name)
        if name not in self.found:
            self.found[name] = lookup.table_for(self.team, name)
        return self.found[name]


class _Action:
    def __init__(self, tables: _Tables, entry: dict) -> None:
        given = [k for k in KINDS if entry.get(k) is not None]
        if len(given) != 1:
            raise wire.validation("TransactItems can only contain one of Check, Put, Update or Delete")
        self.kind = given[0]
        self.params = params = entry[self.kind]
        self.table = tables(params.get("TableName"))
        found = Expressions(params)
        self.condition = found.condition()
        self.update = found.update() if self.kind == "Update" else None
        found.finish()
        if self.kind == "ConditionCheck" and self.condition is None:
            raise wire.validation("The ConditionExpression of a ConditionCheck must be specified")
        if self.kind == "Put":
            self.item, self.size = items.checked_item(wire.typed_in(params.get("Item") or {}))
            self.place = indexing.of_item(self.table, self.item)
        else:
            self.key = wire.typed_in(params.get("Key") or {})
            self.place = indexing.of_key(self.table, self.key)
            for name in items.updated_names(self.update) & set(self.place.keys):
                raise wire.invalid(f"Cannot update attribute {name}. This attribute is part of the key")

    def plan(self, indexes) -> items.Change:
        if self.kind == "Put":
            return items.plan_put(self.table, indexes, self.item, self.condition, size=self.size)
        if self.kind == "Delete":
            return items.plan_delete(self.table, self.key, self.condition, indexed=bool(indexes))
        if self.kind == "Update":
            return items.plan_update(self.table, indexes, self.key, self.update, self.condition)
        return items.plan_check(self.table, self.key, self.condition)


def _fingerprint(params: dict) -> str:
    return hashlib.sha256(
        json.dumps(params.get("TransactItems"), sort_keys=True, default=repr).encode()
    ).hexdigest()


def _seen_token(team, params: dict) -> bool:
    """True when this team's transaction with this ClientRequestToken and
    the same actions committed in the last 10 minutes (any process);
    IdempotentParameterMismatchException when the actions differ."""
    token = params.get("ClientRequestToken")
    if not token:
        return False
    seen = (
        TransactionToken.objects.filter(team=team, token=token, created_at__gte=timezone.now() - TOKEN_WINDOW)
        .values_list("fingerprint", flat=True)
        .first()
    )
    if seen is None:
        return False
    if seen != _fingerprint(params):
        raise ServiceError(
            "IdempotentParameterMismatchException",
            "The request uses the same client token as a previous, but non-identical request.",
        )
    return True


def _remember(team, params: dict) -> None:
    """Inside the transaction: its token, committed with its writes."""
    token = params.get("ClientRequestToken")
    if token:
        TransactionToken.objects.filter(team=team, token=token).delete()  # one past the window
        TransactionToken.objects.create(team=team, token=token, fingerprint=_fingerprint(params))


def forget_tokens(now=None) -> int:
    """Delete the tokens past the 10-minute window; returns how many."""
    cutoff = (now or timezone.now()) - TOKEN_WINDOW
    return TransactionToken.objects.filter(created_at__lt=cutoff).delete()[0]


def transact_write_items(team, params: dict) -> dict:
    entries = _entries(params)
    if _seen_token(team, params):
        return {}
    tables = _Tables(team)
    actions = [_Action(tables, entry) for entry in entries]
    targets = {(a.table.pk, a.place.hash_digest, a.place.sort_key) for a in actions}
    if len(targets) != len(actions):
        raise wire.validation("Transaction request cannot include multiple operations on one item")
    for attempt in range(3):
        try:
            _write(team, params, actions)
            return {}
        except IntegrityError:
            # PostgreSQL: the same token committed by another process meanwhile
            # (answered as the repeat it is, or refused if its actions differ),
            # or a new item inserted by another writer (planned again).
            if _seen_token(team, params):
                return {}
            if attempt == 2:
                raise
    return {}


def _write(team, params: dict, actions: list[_Action]) -> None:
    with transaction.atomic():
        indexes = items.hold([action.table for action in actions])
        if _seen_token(team, params):  # committed while this call was checking its actions
            return
        changes, reasons, failed = [], [], False
        for action in actions:
            try:
                changes.append(action.plan(indexes[action.table.pk]))
                reasons.append({"Code": "None"})
            except items.ConditionFailed as exc:
                failed = True
                reason = {"Code": "ConditionalCheckFailed", "Message": wire.CONDITION_FAILED}
                if (
                    action.params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                    and exc.old is not None
                ):
                    reason["Item"] = wire.typed_out(exc.old)
                reasons.append(reason)
            except ServiceError as exc:
                if exc.code != "ValidationException":
                    raise
                failed = True
                reasons.append({"Code": "ValidationError", "Message": exc.message})
        if failed:
            codes = ", ".join(r["Code"] for r in reasons)
            raise ServiceError(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                fields={"CancellationReasons": reasons},
            )
        pairs = list(zip(changes, actions, strict=True))
        if sum(change.size for change, action in pairs if action.kind in ("Put", "Update")) > MAX_BYTES:
            raise wire.validation(TOO_LARGE)
        for change, action in zip(changes, actions, strict=True):
            if action.kind != "ConditionCheck":
                items.commit(change)
        _remember(team, params)


def transact_get_items(team, params: dict) -> dict:
    entries = _entries(params)
    planned = []
    tables = _Tables(team)
    for entry in entries:
        get = entry.get("Get")
        if get is None:
            raise wire.validation("TransactItems of TransactGetItems must each contain a Get")
        table = tables(get.get("TableName"))
        found = Expressions(get)
        projection = found.projection()
        found.finish()
        planned.append((table, indexing.of_key(table, wire.typed_in(get.get("Key") or {})), projection))
    responses, total = [], 0
    with transaction.atomic():  # one snapshot on PostgreSQL's repeatable reads; one read lock on SQLite
        for table, place, projection in planned:
            item = items.read(table, place)
            if item is not None and projection is not None:
                item = projection.apply(item)
            if item is not None:
                total += values.item_size(item)
                if total > MAX_BYTES:
                    raise wire.validation(TOO_LARGE)
            responses.append({"Item": wire.typed_out(item)} if item is not None else {})
    return {"Responses": responses}
