"""The condition syntax AWS's event patterns share: SNS filter policies
(messaging.filter_policy) and Lambda's FilterCriteria (mappings.event_filter).

Both are dialects of EventBridge's event patterns (AWS's Event Ruler): a
pattern is a JSON object whose keys name fields, each key holding an
object of nested keys or a non-empty list of conditions, one of which must
match; `"$or": [pattern, pattern, ...]` as a key matches when one of its
patterns does. A condition is

    "text", 5, true, null            equal (numbers by value: 3 == 3.0)
    {"prefix": "us-"}, {"suffix": ".png"}, {"equals-ignore-case": "Alice"}
    {"prefix": {"equals-ignore-case": "US-"}}   (same for suffix; Lambda)
    {"wildcard": "img/*.png"}        `*` = any characters, `\\*` a star (Lambda)
    {"anything-but": "x" | 5 | ["x", "y"] | {"prefix"|"suffix"|...: "..."}}
    {"numeric": ["=", 5]}, {"numeric": [">", 0, "<=", 10]}
    {"exists": true | false}
    {"cidr": "10.0.0.0/24"}          an IP address in a network (SNS)

What differs between the services is a `Syntax` (which match types, the
numeric range, whether empty strings may be matched, what a pattern is
called in messages); what a pattern is matched against (SNS attributes or
body, Lambda's records), the limits on a whole pattern and the exception
answered stay with each service.

Sources: "Amazon SNS message filtering" (SNS developer guide), "Control
which events Lambda sends to your function" (Lambda developer guide) and
"Amazon EventBridge event patterns"."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

_LOWER = (">", ">=")
_UPPER = ("<", "<=")
_STRING_OPS = ("prefix", "suffix", "equals-ignore-case", "wildcard")


class PatternError(ValueError):
    """A pattern the dialect refuses; str() is the reason, for the service
    to answer in its own exception."""


@dataclass(frozen=True)
class Syntax:
    """One service's dialect.

    noun / nouns: what a pattern is called in messages ("pattern",
    "filter policy"); operators: the match types conditions may use;
    anything_but: the string matches `anything-but` may take (an object
    operand); max_number / number_range: numeric operands within
    ±max_number, and how messages say that range; ignore_case_affixes:
    prefix/suffix also take `{"equals-ignore-case": text}`; empty_matches:
    prefix/suffix take "" and anything-but's equals-ignore-case does too."""

    noun: str
    nouns: str
    operators: frozenset
    anything_but: tuple
    max_number: float
    number_range: str
    ignore_case_affixes: bool
    empty_matches: bool


# Checking --------------------------------------------------------------------


def check(pattern: dict, syntax: Syntax) -> None:
    """Raise PatternError when `pattern` (a parsed JSON object, nested
    objects allowed) is not of the dialect; RecursionError when it is nested
    too deeply to walk (each service words that itself)."""
    if not pattern:
        raise PatternError(f"Empty objects are not allowed in a {syntax.noun}.")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise PatternError(f'"$or" takes a list of at least two {syntax.nouns} (objects).')
            for branch in value:
                check(branch, syntax)
        elif isinstance(value, dict):
            check(value, syntax)
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"Empty arrays are not allowed ({key!r}).")
            for condition in value:
                _check_condition(key, condition, syntax)
        else:
            raise PatternError(
                f"The {syntax.noun}'s {key!r} must be a non-empty list of conditions, "
                f'e.g. {{"{key}": ["a", "b"]}}.'
            )


def is_number(value) -> bool:
    """A JSON number (bool is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_condition(key: str, condition, syntax: Syntax) -> None:
    if condition is None or isinstance(condition, str | bool) or is_number(condition):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise PatternError(
            f"{key!r}: a condition is a string, a number, true/false, null or an object with one "
            f"match type, not {json.dumps(condition)[:100]}."
        )
    ((op, operand),) = condition.items()
    if op not in syntax.operators:
        raise PatternError(f"Unrecognized match type {op}")
    if op in ("prefix", "suffix"):
        if isinstance(operand, dict) and syntax.ignore_case_affixes:
            if list(operand) != ["equals-ignore-case"] or not isinstance(operand["equals-ignore-case"], str):
                raise PatternError(f'{op} takes a string or {{"equals-ignore-case": "<string>"}}.')
        elif not isinstance(operand, str) or (not operand and not syntax.empty_matches):
            raise PatternError(f"{op} match pattern must be a string")
    elif op == "equals-ignore-case":
        if not isinstance(operand, str):
            raise PatternError("equals-ignore-case match pattern must be a string")
    elif op == "wildcard":
        _check_wildcard(operand)
    elif op == "anything-but":
        _check_anything_but(operand, syntax)
    elif op == "numeric":
        _check_numeric(operand, syntax)
    elif op == "exists":
        if not isinstance(operand, bool):
            raise PatternError("exists match pattern must be either true or false.")
    elif op == "cidr":
        try:
            ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            raise PatternError(f"Malformed CIDR, one '/' required: {operand!r}") from None


def _check_wildcard(operand) -> None:
    if not isinstance(operand, str):
        raise PatternError("wildcard match pattern must be a string")
    if "**" in operand:
        raise PatternError("Consecutive wildcard characters are not allowed.")


def _check_anything_but(operand, syntax: Syntax) -> None:
    if isinstance(operand, dict):
        if len(operand) != 1 or next(iter(operand)) not in syntax.anything_but:
            *most, last = syntax.anything_but
            raise PatternError(
                f"anything-but takes a value, a list of values, or one of {', '.join(most)} and {last}."
            )
        ((op, value),) = operand.items()
        if op == "wildcard":
            _check_wildcard(value)
        elif not isinstance(value, str) or (
            not value and not (op == "equals-ignore-case" and syntax.empty_matches)
        ):
            raise PatternError(f"{op} match pattern must be a non-empty string")
        return
    values = operand if isinstance(operand, list) else [operand]
    if not values or not all(isinstance(v, str) or is_number(v) for v in values):
        raise PatternError("anything-but takes a string, a number, or a non-empty list of them.")


def _check_numeric(operand, syntax: Syntax) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise PatternError('numeric takes ["=", n], [">", n] or a range such as [">", 0, "<=", 10].')
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    for op, number in pairs:
        if op not in ("=", *_LOWER, *_UPPER):
            raise PatternError(f"Unrecognized numeric range operator: {op}")
        if not is_number(number):
            raise PatternError(f"Value of {op} must be numeric")
        if not -syntax.max_number <= number <= syntax.max_number:
            raise PatternError(f"Numeric values must be from {syntax.number_range}.")
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in _LOWER or high_op not in _UPPER:
            raise PatternError("Too many elements in numeric expression: a range is a lower bound "
                               "(> or >=) then an upper bound (< or <=).")
        if low >= high:
            raise PatternError("Bottom must be less than top")


# Matching ----------------------------------------------------------------------


def leaf_matches(conditions: list, values: list | None) -> bool:
    """Whether one of a key's checked `conditions` matches: `values` are
    what the field offers (a list's elements each), None when the field is
    absent (only `{"exists": false}` matches that; `[]`, present but
    offering nothing to compare, matches only `{"exists": true}`)."""
    for condition in conditions:
        if isinstance(condition, dict) and "exists" in condition:
            if condition["exists"] == (values is not None):
                return True
        elif values is not None and any(_value_matches(condition, v) for v in values):
            return True
    return False


def _equal(condition, value) -> bool:
    if condition is None or isinstance(condition, bool):
        return value is condition
    if isinstance(condition, str):
        return isinstance(value, str) and value == condition
    return is_number(value) and float(value) == float(condition)


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
        return is_number(value) and _in_range(operand, float(value))
    if op == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            return False
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
