"""DynamoDB's typed values (AttributeValue), checked and put in one canonical
form; their size, order, equality and the two key encodings stored in the
database. Pure Python: no Django, no database.

An AttributeValue is the JSON wire's dict with exactly one type descriptor:
`{"S": str}`, `{"N": str}`, `{"B": base64 str}`, `{"BOOL": bool}`,
`{"NULL": True}`, `{"L": [value, ...]}`, `{"M": {name: value}}`,
`{"SS": [str, ...]}`, `{"NS": [str, ...]}`, `{"BS": [base64 str, ...]}`.
Binaries stay base64 text (as on the wire) everywhere in this module.

Rules follow the DynamoDB Developer Guide ("Supported data types and naming
rules", "DynamoDB item sizes and formats"); error messages are DynamoDB's own
ValidationException texts, so `str(error)` is the message to answer with.
"""

import base64
import binascii
import hashlib
import re
from decimal import Context, Decimal, Inexact, Overflow, Underflow, localcontext

TYPES = ("S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS")
SCALARS = ("S", "N", "B")
PRECISION = 38  # significant digits of a Number
MAX_EXPONENT = 125  # largest adjusted exponent: 9.99...E+125
MIN_EXPONENT = -130  # smallest adjusted exponent: 1E-130
INVALID = "One or more parameter values were invalid: "
EMPTY_VALUE = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
UNDERFLOW = "Number underflow. Attempting to store a number with magnitude smaller than supported range"
TOO_PRECISE = "Attempting to store more than 38 significant digits in a Number"
# "Quotas": an attribute value nests at most 32 levels, the attribute itself
# being the first: at most 31 lists/maps on any path from it.
MAX_NESTING = 32
TOO_DEEP = (
    "Nesting Levels have exceeded supported limits: "
    "Attributes in the item have nested levels beyond supported limit"
)
# "Naming rules": an attribute name is at least one character, at the top
# of an item and as a map's key alike.
EMPTY_NAME = "Empty attribute name"
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# Arithmetic of UpdateExpression (`+`, `-`, ADD): exact, or an error; a
# result that would need rounding is refused rather than silently changed.
_ARITHMETIC = Context(prec=PRECISION, Emax=999999, Emin=-999999, traps=[Inexact, Overflow, Underflow])


class InvalidValue(ValueError):
    """An AttributeValue DynamoDB refuses; the message is DynamoDB's own
    ValidationException text."""


# -- numbers ---------------------------------------------------------------


def number(text: str) -> Decimal:
    """The exact value of a Number's text (`"1.50"`, `"-1e3"`), checked
    against DynamoDB's limits: at most 38 significant digits (leading and
    trailing zeros do not count), magnitude 1E-130 to
    9.9999999999999999999999999999999999999E+125, or zero.
    Raises InvalidValue with DynamoDB's message."""
    found = _NUMBER.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        shown = text if isinstance(text, str) else repr(text)
        raise InvalidValue(
            "The parameter cannot be converted to a numeric value" + (f": {shown}" if shown else "")
        )
    try:
        value = Decimal(text)
    except ArithmeticError:
        # An exponent beyond what Decimal holds: far outside DynamoDB's range.
        if not found.group(1).strip("0."):
            return Decimal(0)
        raise InvalidValue(UNDERFLOW if "-" in (found.group(2) or "") else OVERFLOW) from None
    return checked(value)


def checked(value: Decimal) -> Decimal:
    """`value` if DynamoDB can store it (see `number`), else InvalidValue."""
    if not value.is_finite():
        raise InvalidValue(f"The parameter cannot be converted to a numeric value: {value}")
    if not value:
        return Decimal(0)
    sign, digits, exponent = _significant(value)
    if len(digits) > PRECISION:
        raise InvalidValue(TOO_PRECISE)
    if value.adjusted() > MAX_EXPONENT:
        raise InvalidValue(OVERFLOW)
    if value.adjusted() < MIN_EXPONENT:
        raise InvalidValue(UNDERFLOW)
    return Decimal((sign, digits, exponent))


def _significant(value: Decimal) -> tuple[int, tuple[int, ...], int]:
    # The digits without trailing zeros, exactly (Decimal.normalize would
    # round to its context's precision first).
    sign, digits, exponent = value.as_tuple()
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    return sign, tuple(digits[:end]), exponent + len(digits) - end


def number_text(value: Decimal) -> str:
    """The canonical text of a stored Number: plain notation, no exponent,
    no trailing zeros after the point, no sign on zero ("1.50" -> "1.5",
    "1e3" -> "1000", "-0" -> "0"), as DynamoDB gives numbers back."""
    value = checked(value)
    if not value:
        return "0"
    return format(value, "f")


def arithmetic(op: str, a: Decimal, b: Decimal) -> Decimal:
    """`a + b` or `a - b` (op "+" / "-") with DynamoDB's 38-digit precision;
    a result that does not fit (needs rounding, or out of range) raises
    InvalidValue("Number overflow. ..."/"Number underflow. ...")."""
    try:
        with localcontext(_ARITHMETIC):
            result = a + b if op == "+" else a - b
    except (Inexact, Overflow):
        raise InvalidValue(OVERFLOW) from None
    except Underflow:
        raise InvalidValue(UNDERFLOW) from None
    return checked(result)


# -- normalisation ---------------------------------------------------------


def _binary(text: object) -> bytes:
    if not isinstance(text, str):
        raise InvalidValue(INVALID + "Binary values must be base64-encoded text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue(INVALID + f"Invalid base64 in binary value: {text}") from None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _kind(value: object) -> str:
    if not isinstance(value, dict) or not value:
        raise InvalidValue(EMPTY_VALUE)
    if len(value) > 1:
        raise InvalidValue(
            "Supplied AttributeValue has more than one datatypes set, "
            "must contain exactly one of the supported datatypes"
        )
    (kind,) = value
    if kind not in TYPES:
        raise InvalidValue(EMPTY_VALUE)
    return kind


def _check_nesting(value: object) -> None:
    # Iterative, before the recursive normalisation below, so a value nested
    # thousands deep is refused in DynamoDB's words, not by Python's stack.
    pending = [(value, 1)]
    while pending:
        current, level = pending.pop()
        if not isinstance(current, dict) or len(current) != 1:
            continue
        body = current.get("L", current.get("M"))
        if isinstance(body, dict):
            body = list(body.values())
        if not isinstance(body, list):
            continue
        if level >= MAX_NESTING:
            raise InvalidValue(TOO_DEEP)
        pending.extend((v, level + 1) for v in body)


def normalize_value(value: dict) -> dict:
    """A new AttributeValue in canonical form (numbers as `number_text`,
    binaries re-encoded as standard base64, nested values normalised), or
    InvalidValue with DynamoDB's message. Sets must be non-empty and without
    duplicates (numbers compared by value, binaries by bytes); empty strings
    and binaries are allowed (a key's own rule is the caller's). Lists and
    maps nest at most MAX_NESTING levels ("Nesting Levels have exceeded
    supported limits")."""
    _check_nesting(value)
    return _normalize(value)


def _normalize(value: dict) -> dict:
    kind = _kind(value)
    body = value[kind]
    if kind == "S":
        if not isinstance(body, str):
            raise InvalidValue(INVALID + "Type mismatch for attribute of type S")
        return {"S": body}
    if kind == "N":
        return {"N": number_text(number(body))}
    if kind == "B":
        return {"B": _b64(_binary(body))}
    if kind == "BOOL":
        if not isinstance(body, bool):
            raise InvalidValue(INVALID + "Type mismatch for attribute of type BOOL")
        return {"BOOL": body}
    if kind == "NULL":
        if body is not True:
            raise InvalidValue(INVALID + "Null attribute value types must have the value of true")
        return {"NULL": True}
    if kind == "L":
        if not isinstance(body, list):
            raise InvalidValue(INVALID + "Type mismatch for attribute of type L")
        return {"L": [_normalize(v) for v in body]}
    if kind == "M":
        if not isinstance(body, dict):
            raise InvalidValue(INVALID + "Type mismatch for attribute of type M")
        if "" in body:
            raise InvalidValue(EMPTY_NAME)
        return {"M": {name: _normalize(v) for name, v in body.items()}}
    return {kind: _normalize_set(kind, body)}


def _normalize_set(kind: str, body: object) -> list[str]:
    if not isinstance(body, list):
        raise InvalidValue(INVALID + f"Type mismatch for attribute of type {kind}")
    if not body:
        raise InvalidValue(
            INVALID
            + {
                "SS": "An string set  may not be empty",
                "NS": "An number set  may not be empty",
                "BS": "Binary sets should not be empty",
            }[kind]
        )
    if kind == "SS":
        if not all(isinstance(v, str) for v in body):
            raise InvalidValue(INVALID + "Type mismatch for attribute of type SS")
        members, identities = list(body), list(body)
    elif kind == "NS":
        values = [number(v) for v in body]
        members, identities = [number_text(v) for v in values], values
    else:
        raws = [_binary(v) for v in body]
        members, identities = [_b64(r) for r in raws], raws
    if len(set(identities)) != len(identities):
        shown = "[" + ", ".join(body) + "]"
        suffix = "of type BS contains duplicates." if kind == "BS" else " contains duplicates."
        raise InvalidValue(INVALID + f"Input collection {shown}{suffix}")
    return members


def normalize_item(item: dict) -> dict:
    """A new item (attribute name -> AttributeValue) with every value
    normalised (see `normalize_value`); InvalidValue on the first bad one
    or on an empty attribute name."""
    if not isinstance(item, dict):
        raise InvalidValue(INVALID + "Item must be a map of attribute names to values")
    if "" in item:
        raise InvalidValue(EMPTY_NAME)
    return {name: normalize_value(value) for name, value in item.items()}


# -- size --------------------------------------------------------------------


def _number_size(text: str) -> int:
    # DynamoDB stores numbers as base-100 digits (pairs of decimal digits
    # aligned on the point) plus a byte of exponent, one more when negative;
    # the guide's rule of thumb is "1 byte per two significant digits + 1".
    value = Decimal(text)
    if not value:
        return 1
    sign, digits, exponent = _significant(value)
    low, high = exponent, exponent + len(digits) - 1
    return (high // 2 - low // 2 + 1) + 1 + sign


def value_size(value: dict) -> int:
    """Bytes a (normalised) AttributeValue counts for, without its name:
    S its UTF-8 bytes, B its raw bytes, N ~ one per two significant digits
    plus one, BOOL/NULL 1, sets the sum of their members, L/M 3 bytes plus
    one per element plus the elements (map entries with their names).
    Source: DynamoDB Developer Guide, "DynamoDB item sizes and formats"."""
    (kind,) = value
    body = value[kind]
    if kind == "S":
        return len(body.encode("utf-8", "surrogatepass"))
    if kind == "N":
        return _number_size(body)
    if kind == "B":
        return len(base64.b64decode(body))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8", "surrogatepass")) for v in body)
    if kind == "NS":
        return sum(_number_size(v) for v in body)
    if kind == "BS":
        return sum(len(base64.b64decode(v)) for v in body)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in body)
    return 3 + sum(1 + len(k.encode("utf-8", "surrogatepass")) + value_size(v) for k, v in body.items())


def item_size(item: dict) -> int:
    """An item's size in bytes as DynamoDB counts it against the 400 KB
    limit: for each attribute, its name's UTF-8 bytes plus `value_size`."""
    return sum(len(name.encode("utf-8", "surrogatepass")) + value_size(v) for name, v in item.items())


# -- order and equality ------------------------------------------------------


def _sortable(value: dict) -> tuple[str, object]:
    (kind,) = value
    body = value[kind]
    if kind == "S":
        return kind, body.encode("utf-8", "surrogatepass")
    if kind == "N":
        return kind, Decimal(body)
    return kind, base64.b64decode(body)


def compare(a: dict, b: dict) -> int | None:
    """-1, 0 or 1 as `a` sorts before, with or after `b`, for two scalars of
    the same type: S by UTF-8 bytes, N by value, B by bytes. None when the
    types differ or are not S/N/B (DynamoDB's comparators are then false)."""
    if len(a) != 1 or len(b) != 1:
        return None
    (ka,), (kb,) = a, b
    if ka != kb or ka not in SCALARS:
        return None
    _, x = _sortable(a)
    _, y = _sortable(b)
    return (x > y) - (x < y)


def _identity(value: dict) -> object:
    (kind,) = value
    body = value[kind]
    if kind in SCALARS:
        return _sortable(value)
    if kind in ("BOOL", "NULL"):
        return kind, body
    if kind == "SS":
        return kind, frozenset(body)
    if kind == "NS":
        return kind, frozenset(Decimal(v) for v in body)
    if kind == "BS":
        return kind, frozenset(base64.b64decode(v) for v in body)
    if kind == "L":
        return kind, tuple(_identity(v) for v in body)
    return kind, frozenset((k, _identity(v)) for k, v in body.items())


def equal(a: dict, b: dict) -> bool:
    """Deep equality of two AttributeValues as DynamoDB's `=`: same type,
    numbers by value, binaries by bytes, sets unordered, lists in order,
    maps by name."""
    return _identity(a) == _identity(b)


# -- key encodings -------------------------------------------------------------


def key_digest(value: dict) -> str:
    """SHA-256 hex of a key value's type and canonical text (numbers by
    value, binaries by bytes), the partition key column of tables.models."""
    if not is_scalar(value):
        raise InvalidValue(INVALID + "Key attributes must be scalars of type S, N or B")
    kind, body = _sortable(value)
    canonical = number_text(body).encode("ascii") if kind == "N" else body
    return hashlib.sha256(kind.encode("ascii") + b"\0" + canonical).hexdigest()


def _number_encoding(value: Decimal) -> str:
    # Class digit (3 negative < 8 zero < c positive), then for positives the
    # adjusted exponent offset to 0..255 as two hex digits and the decimal
    # digits of the mantissa (trailing zeros stripped, so a shorter mantissa
    # is a smaller number: plain string order works). Negatives invert both:
    # 255 - exponent, 9 - digit, and end with "a" (above every inverted
    # digit) so a shorter mantissa (a larger negative number) sorts after.
    if not value:
        return "80"
    sign, digits, _ = _significant(value)
    exponent = value.adjusted() - MIN_EXPONENT
    mantissa = "".join(str(d) for d in digits)
    if sign:
        text = "3" + format(255 - exponent, "02x") + "".join(str(9 - d) for d in digits) + "a"
    else:
        text = "c" + format(exponent, "02x") + mantissa
    return text + "0" * (len(text) % 2)


def sort_encoding(value: dict) -> str:
    """An order-preserving lowercase hex text of a sort key value: for two
    values of the same type, `sort_encoding(a) < sort_encoding(b)` (plain
    str comparison) exactly when `compare(a, b) == -1`. S: the UTF-8 bytes,
    B: the raw bytes, N: see `_number_encoding` (negatives and fractions
    included). Raises InvalidValue for other types."""
    if not is_scalar(value):
        raise InvalidValue(INVALID + "Key attributes must be scalars of type S, N or B")
    kind, body = _sortable(value)
    if kind == "N":
        return _number_encoding(checked(body))
    return body.hex()


def is_scalar(value: dict) -> bool:
    """True for an S, N or B value (the only types a key may have)."""
    return len(value) == 1 and next(iter(value)) in SCALARS


def kind_of(value: dict) -> str:
    """The type descriptor of an AttributeValue ("S", "N", "M", ...)."""
    return next(iter(value))


__all__ = [
    "InvalidValue",
    "arithmetic",
    "compare",
    "equal",
    "is_scalar",
    "item_size",
    "key_digest",
    "kind_of",
    "normalize_item",
    "normalize_value",
    "number",
    "number_text",
    "sort_encoding",
    "value_size",
]
