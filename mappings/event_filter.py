"""Lambda's event filtering for event source mappings (FilterCriteria).

    criteria = {"Filters": [{"Pattern": '{"body": {"kind": ["order"]}}'}]}
    filters = parse(criteria)          # InvalidFilter if Lambda would refuse it
    filters.matches("sqs", record)     # -> bool

Source: "Control which events Lambda sends to your function" (Lambda
developer guide, event filtering) and its SQS, Kinesis and DynamoDB pages.

A record passes when it matches ONE of the filters (at most 5, OR'ed); no
filters at all passes everything. A pattern is a JSON object (Pattern: at
most 4096 characters) whose keys name fields of the record and nest as the
record does; each leaf is a non-empty list of conditions, one of which must
match; every key of a pattern must match (AND). Conditions:

    "text", 5, true, null            equal (numbers by value: 3 == 3.0)
    ""                               the empty string
    {"prefix": "us-"}                {"prefix": {"equals-ignore-case": "US-"}}
    {"suffix": ".png"}               {"suffix": {"equals-ignore-case": ".PNG"}}
    {"equals-ignore-case": "Alice"}
    {"wildcard": "img/*.png"}        `*` = any characters, `\\*` a star
    {"anything-but": "x" | 5 | ["x", "y"] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": "..."}}
    {"numeric": ["=", 5]}, {"numeric": [">", 0, "<=", 10]}  (numbers from -5e9 to 5e9)
    {"exists": true | false}
    "$or": [pattern, pattern, ...]   (as a key: one of the patterns matches)

A field holding a list matches when one of its elements does (lists of
objects are looked into, their fields pooled, as EventBridge does). Only
leaves (strings, numbers, booleans, null) "exist"; a missing field matches
nothing but `{"exists": false}`, and `anything-but` needs the field.

What each kind's patterns see (`matches(kind, record)`):
- "sqs": the record of the Lambda event (messageId, body, attributes,
  messageAttributes, ...), with `body` parsed when it is a JSON object or
  array; a plain-text body stays a string, so `{"body": ["hello"]}` matches
  it while a pattern on body fields (`{"body": {"a": [...]}}`) does not.
- "kinesis": `{"data": ...}` only (Lambda filters Kinesis records on `data`
  alone), `kinesis.data` base64-decoded and parsed as JSON when it is JSON,
  else the decoded text as a string (undecodable data: no `data` field).
- "dynamodb": the record itself (`eventName`, `dynamodb.NewImage`, ...,
  DynamoDB-typed as in the event: `{"dynamodb": {"NewImage": {"id": {"S": ["a"]}}}}`).

Errors: `InvalidFilter(ValueError)`; its text is Lambda's
InvalidParameterValueException message ("Invalid filter pattern
definition.") followed by what was wrong."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

MAX_FILTERS = 5
MAX_PATTERN_CHARS = 4096
# EventBridge's numeric matching range, which Lambda's patterns share.
MAX_NUMBER = 5.0e9
_LOWER = (">", ">=")
_UPPER = ("<", "<=")
_STRING_OPS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_INVALID = "Invalid filter pattern definition."


class InvalidFilter(ValueError):
    """FilterCriteria Lambda would refuse; str() is the message of the
    InvalidParameterValueException to answer with."""

    def __init__(self, reason: str):
        super().__init__(f"{_INVALID} {reason}")


@dataclass(frozen=True)
class Filters:
    """Parsed FilterCriteria. `criteria` is the normalized wire form
    (`{"Filters": [{"Pattern": text}]}`, or None for none) to store and to
    answer with; `patterns` the parsed objects."""

    patterns: tuple
    criteria: dict | None

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, kind: str, record: dict) -> bool:
        """Whether `record` (one entry of the Lambda event's `Records`, of
        source kind "sqs", "kinesis" or "dynamodb") passes: True with no
        filters, else when one pattern matches."""
        if not self.patterns:
            return True
        document = _document(kind, record)
        return any(_match_object(p, [document]) for p in self.patterns)


NONE = Filters((), None)


def parse(filter_criteria: dict | None) -> Filters:
    """FilterCriteria as CreateEventSourceMapping takes it. None, {} and
    `{"Filters": []}` mean no filtering (UpdateEventSourceMapping clears
    filters with an empty list). Raises InvalidFilter."""
    if filter_criteria is None or filter_criteria == {}:
        return NONE
    if not isinstance(filter_criteria, dict) or set(filter_criteria) - {"Filters"}:
        raise InvalidFilter('FilterCriteria is {"Filters": [{"Pattern": "<JSON>"}]}.')
    filters = filter_criteria.get("Filters") or []
    if not isinstance(filters, list):
        raise InvalidFilter("FilterCriteria.Filters must be a list.")
    if len(filters) > MAX_FILTERS:
        raise InvalidFilter(f"At most {MAX_FILTERS} filters are allowed, got {len(filters)}.")
    patterns, wire = [], []
    for i, entry in enumerate(filters):
        text = entry.get("Pattern") if isinstance(entry, dict) else None
        if not isinstance(text, str):
            raise InvalidFilter(f"Filter {i + 1} has no Pattern string.")
        if len(text) > MAX_PATTERN_CHARS:
            raise InvalidFilter(f"Filter {i + 1}'s Pattern is longer than {MAX_PATTERN_CHARS} characters.")
        try:
            pattern = json.loads(text)
        except ValueError as e:
            raise InvalidFilter(f"Filter {i + 1}'s Pattern is not JSON ({e}).") from None
        except RecursionError:
            raise InvalidFilter(f"Filter {i + 1}'s Pattern is nested too deeply.") from None
        if not isinstance(pattern, dict):
            raise InvalidFilter(f"Filter {i + 1}'s Pattern must be a JSON object.")
        try:
            _check_object(pattern)
        except RecursionError:
            raise InvalidFilter(f"Filter {i + 1}'s Pattern is nested too deeply.") from None
        patterns.append(pattern)
        wire.append({"Pattern": text})
    if not patterns:
        return NONE
    return Filters(tuple(patterns), {"Filters": wire})


# Checking --------------------------------------------------------------------


def _check_object(pattern: dict) -> None:
    if not pattern:
        raise InvalidFilter("Empty objects are not allowed in a pattern.")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise InvalidFilter('"$or" takes a list of at least two patterns (objects).')
            for branch in value:
                _check_object(branch)
        elif isinstance(value, dict):
            _check_object(value)
        elif isinstance(value, list):
            if not value:
                raise InvalidFilter(f"Empty arrays are not allowed ({key!r}).")
            for condition in value:
                _check_condition(key, condition)
        else:
            raise InvalidFilter(
                f"{key!r} must hold an object or a non-empty list of conditions, e.g. {{\"{key}\": [\"a\"]}}."
            )


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_condition(key: str, condition) -> None:
    if condition is None or isinstance(condition, str | bool) or _is_number(condition):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise InvalidFilter(
            f"{key!r}: a condition is a string, a number, true/false, null or an object with one "
            f"match type, not {json.dumps(condition)[:100]}."
        )
    ((op, operand),) = condition.items()
    if op in ("prefix", "suffix"):
        if isinstance(operand, dict):
            if list(operand) != ["equals-ignore-case"] or not isinstance(operand["equals-ignore-case"], str):
                raise InvalidFilter(f'{op} takes a string or {{"equals-ignore-case": "<string>"}}.')
        elif not isinstance(operand, str):
            raise InvalidFilter(f"{op} match pattern must be a string.")
    elif op == "equals-ignore-case":
        if not isinstance(operand, str):
            raise InvalidFilter("equals-ignore-case match pattern must be a string.")
    elif op == "wildcard":
        _check_wildcard(operand)
    elif op == "anything-but":
        _check_anything_but(operand)
    elif op == "numeric":
        _check_numeric(operand)
    elif op == "exists":
        if not isinstance(operand, bool):
            raise InvalidFilter("exists match pattern must be either true or false.")
    else:
        raise InvalidFilter(f"Unrecognized match type {op}.")


def _check_wildcard(operand) -> None:
    if not isinstance(operand, str):
        raise InvalidFilter("wildcard match pattern must be a string.")
    if "**" in operand:
        raise InvalidFilter("Consecutive wildcard characters are not allowed.")


def _check_anything_but(operand) -> None:
    if isinstance(operand, dict):
        if len(operand) != 1 or next(iter(operand)) not in _STRING_OPS:
            raise InvalidFilter(
                "anything-but takes a value, a list of values, or one of prefix, suffix, "
                "equals-ignore-case and wildcard."
            )
        ((op, value),) = operand.items()
        if op == "wildcard":
            _check_wildcard(value)
        elif not isinstance(value, str) or (op != "equals-ignore-case" and not value):
            raise InvalidFilter(f"{op} match pattern must be a non-empty string.")
        return
    values = operand if isinstance(operand, list) else [operand]
    if not values or not all(isinstance(v, str) or _is_number(v) for v in values):
        raise InvalidFilter("anything-but takes a string, a number, or a non-empty list of them.")


def _check_numeric(operand) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise InvalidFilter('numeric takes ["=", n], [">", n] or a range such as [">", 0, "<=", 10].')
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    for op, number in pairs:
        if op not in ("=", *_LOWER, *_UPPER):
            raise InvalidFilter(f"Unrecognized numeric range operator: {op}.")
        if not _is_number(number):
            raise InvalidFilter(f"Value of {op} must be numeric.")
        if not -MAX_NUMBER <= number <= MAX_NUMBER:
            raise InvalidFilter("Numeric values must be from -5.0E9 to 5.0E9.")
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in _LOWER or high_op not in _UPPER:
            raise InvalidFilter("A numeric range is a lower bound (> or >=) then an upper bound (< or <=).")
        if low >= high:
            raise InvalidFilter("Bottom must be less than top.")


# What a pattern sees -----------------------------------------------------------


def _parsed_json(text):
    """A JSON object or array from text; anything else stays as it was."""
    stripped = text.lstrip() if isinstance(text, str) else ""
    if stripped[:1] not in ("{", "["):
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return value if isinstance(value, dict | list) else text


def _document(kind: str, record: dict) -> dict:
    if kind == "sqs":
        return {**record, "body": _parsed_json(record.get("body"))}
    if kind == "kinesis":
        data = (record.get("kinesis") or {}).get("data")
        try:
            text = base64.b64decode(data or "", validate=True).decode("utf-8")
        except (binascii.Error, ValueError, TypeError):
            return {}
        return {"data": _parsed_json(text)}
    return record


# Matching ----------------------------------------------------------------------


def _children(nodes: list, key: str) -> list:
    """The values under `key` of every object in `nodes`, lists flattened."""
    found: list = []
    for node in nodes:
        if isinstance(node, dict) and key in node:
            value = node[key]
            found.extend(_flatten(value))
    return found


def _flatten(value) -> list:
    if not isinstance(value, list):
        return [value]
    out: list = []
    for item in value:
        out.extend(_flatten(item))
    return out


def _match_object(pattern: dict, nodes: list) -> bool:
    for key, value in pattern.items():
        if key == "$or":
            if not any(_match_object(branch, nodes) for branch in value):
                return False
            continue
        children = _children(nodes, key)
        if isinstance(value, dict):
            objects = [c for c in children if isinstance(c, dict)]
            if not objects or not _match_object(value, objects):
                # A nested pattern may still be all `exists: false`.
                if not _all_absent(value, objects):
                    return False
        elif not _match_leaf(value, [c for c in children if not isinstance(c, dict)]):
            return False
    return True


def _all_absent(pattern: dict, objects: list) -> bool:
    """Whether a nested pattern matches because every leaf it names is
    absent and asks `{"exists": false}` (EventBridge matches those when
    the parent object is missing too)."""
    for key, value in pattern.items():
        if key == "$or":
            if not any(_all_absent(b, objects) for b in value):
                return False
        elif isinstance(value, dict):
            inner = [c for c in _children(objects, key) if isinstance(c, dict)]
            if inner and _match_object(value, inner):
                continue
            if not _all_absent(value, inner):
                return False
        else:
            leaves = [c for c in _children(objects, key) if not isinstance(c, dict)]
            if leaves or {"exists": False} not in value:
                return False
    return True


def _match_leaf(conditions: list, values: list) -> bool:
    for condition in conditions:
        if isinstance(condition, dict) and "exists" in condition:
            if condition["exists"] == bool(values):
                return True
        elif any(_value_matches(condition, v) for v in values):
            return True
    return False


def _equal(condition, value) -> bool:
    if condition is None or isinstance(condition, bool):
        return value is condition
    if isinstance(condition, str):
        return isinstance(value, str) and value == condition
    return _is_number(value) and float(value) == float(condition)


def _wildcard(pattern: str, value: str) -> bool:
    parts = re.split(r"(?<!\\)\*", pattern)
    regex = ".*".join(re.escape(p.replace("\\*", "*")) for p in parts)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _string_test(op: str, operand, value) -> bool:
    if not isinstance(value, str):
        return False
    fold = isinstance(operand, dict)
    text = operand["equals-ignore-case"] if fold else operand
    subject = value.casefold() if fold else value
    if fold:
        text = text.casefold()
    if op == "prefix":
        return subject.startswith(text)
    if op == "suffix":
        return subject.endswith(text)
    if op == "wildcard":
        return _wildcard(text, value)
    return value.casefold() == text.casefold()


def _value_matches(condition, value) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    ((op, operand),) = condition.items()
    if op in _STRING_OPS:
        return _string_test(op, operand, value)
    if op == "anything-but":
        if isinstance(operand, dict):
            ((inner, text),) = operand.items()
            return isinstance(value, str) and not _string_test(inner, text, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_equal(v, value) for v in excluded)
    if op == "numeric":
        return _is_number(value) and _in_range(operand, float(value))
    return False


def _in_range(operand: list, value: float) -> bool:
    for i in range(0, len(operand), 2):
        op, bound = operand[i], float(operand[i + 1])
        if not {
            "=": value == bound, ">": value > bound, ">=": value >= bound,
            "<": value < bound, "<=": value <= bound,
        }[op]:
            return False
    return True
