"""DynamoDB's side of the wire: its errors (codes and messages as DynamoDB
words them) and the typed values as the front door hands them over.

Typed values. The door parses `AttributeValue`'s blobs (`B`, `BS`) into
bytes (botocore's model says blob); everywhere else in this app, and in
the stored item text and stream records, an item is DynamoDB's typed JSON
with binaries as base64 text, as the Lambda event and the wire carry them.
`typed_in` / `typed_out` convert at the door, both ways.

Errors (source: DynamoDB API reference, "Common errors" and each
operation's Errors): `ValidationException`, `ResourceNotFoundException`,
`ResourceInUseException`, `ConditionalCheckFailedException` (with `Item`
when ReturnValuesOnConditionCheckFailure is ALL_OLD),
`TransactionCanceledException` (with `CancellationReasons`), all 400."""

from __future__ import annotations

import base64
from typing import Any

from awsapi.protocols import ServiceError

NOT_FOUND = "Requested resource not found"
CONDITION_FAILED = "The conditional request failed"
INVALID = "One or more parameter values were invalid: "


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def invalid(message: str) -> ServiceError:
    """DynamoDB's "One or more parameter values were invalid: ..." error."""
    return ServiceError("ValidationException", INVALID + message)


def not_found(message: str = NOT_FOUND) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def table_not_found(name: str) -> ServiceError:
    return not_found(f"{NOT_FOUND}: Table: {name} not found")


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message)


def condition_failed(old: dict | None, params: dict) -> ServiceError:
    """ConditionalCheckFailedException; carries the item as it is when the
    caller asked ReturnValuesOnConditionCheckFailure=ALL_OLD."""
    fields = {}
    if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
        fields["Item"] = typed_out(old)
    return ServiceError("ConditionalCheckFailedException", CONDITION_FAILED, fields=fields)


def constraint(value: Any, member: str, rule: str) -> ServiceError:
    """The model-constraint message AWS's JSON services send:
    "1 validation error detected: Value 'x' at 'tableName' failed to satisfy
    constraint: Member must ..."."""
    return validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must {rule}"
    )


def check_range(value, member: str, low: int, high: int) -> None:
    """`constraint` for a number outside [low, high], naming the bound it
    passes ("have value less than or equal to 100")."""
    if not low <= value <= high:
        raise constraint(
            value, member,
            f"have value less than or equal to {high}" if value > high
            else f"have value greater than or equal to {low}",
        )


# -- typed values --------------------------------------------------------------


def typed_in(value: Any) -> Any:
    """An item, key or attribute value as the door parsed it -> typed JSON
    (binaries as base64 text). Other shapes are left for tables.values to
    refuse."""
    if isinstance(value, dict):
        return {name: _attribute_in(v) for name, v in value.items()}
    return value


def _attribute_in(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = {}
    for kind, inner in value.items():
        if kind == "B" and isinstance(inner, bytes):
            inner = base64.b64encode(inner).decode("ascii")
        elif kind == "BS" and isinstance(inner, list):
            inner = [base64.b64encode(b).decode("ascii") if isinstance(b, bytes) else b for b in inner]
        elif kind == "L" and isinstance(inner, list):
            inner = [_attribute_in(v) for v in inner]
        elif kind == "M" and isinstance(inner, dict):
            inner = typed_in(inner)
        out[kind] = inner
    return out


def typed_out(item: dict) -> dict:
    """Typed JSON -> what the door's serialiser expects (binaries as bytes;
    it base64-encodes them again)."""
    return {name: _attribute_out(v) for name, v in item.items()}


def _attribute_out(value: dict) -> dict:
    out = {}
    for kind, inner in value.items():
        if kind == "B":
            inner = base64.b64decode(inner)
        elif kind == "BS":
            inner = [base64.b64decode(b) for b in inner]
        elif kind == "L":
            inner = [_attribute_out(v) for v in inner]
        elif kind == "M":
            inner = typed_out(inner)
        out[kind] = inner
    return out


def type_of(value: dict) -> str:
    """The type letter(s) of a typed value: "S", "N", "B", "M"..."""
    return next(iter(value)) if isinstance(value, dict) and len(value) == 1 else "?"
