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
match; every key of a pattern must match (AND). Conditions (Lambda's dialect of
awsapi.event_patterns):

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
from dataclasses import dataclass

from awsapi import event_patterns

MAX_FILTERS = 5
MAX_PATTERN_CHARS = 4096
# EventBridge's numeric matching range, which Lambda's patterns share.
MAX_NUMBER = 5.0e9
_INVALID = "Invalid filter pattern definition."
SYNTAX = event_patterns.Syntax(
    noun="pattern", nouns="patterns",
    operators=frozenset(
        {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists"}
    ),
    anything_but=("prefix", "suffix", "equals-ignore-case", "wildcard"),
    max_number=MAX_NUMBER, number_range="-5.0E9 to 5.0E9",
    ignore_case_affixes=True, empty_matches=True,
)


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
            event_patterns.check(pattern, SYNTAX)
        except event_patterns.PatternError as e:
            raise InvalidFilter(str(e)) from None
        except RecursionError:
            raise InvalidFilter(f"Filter {i + 1}'s Pattern is nested too deeply.") from None
        patterns.append(pattern)
        wire.append({"Pattern": text})
    if not patterns:
        return NONE
    return Filters(tuple(patterns), {"Filters": wire})


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


def _match_leaf(conditions: list, leaves: list) -> bool:
    # Only leaves exist: a field with none matches as absent.
    return event_patterns.leaf_matches(conditions, leaves or None)
