"""Subscription filter policies, in SNS's syntax.

A policy maps names to a list of conditions; a message matches when every
name matches one of its conditions:

    {"store": ["example_corp"], "price": [{"numeric": [">=", 100]}],
     "event": [{"anything-but": ["order_cancelled"]}], "$or": [{...}, {...}]}

Conditions: a string (exact, String attributes), a number (equal value,
Number attributes: "3" and "3.0" are equal), null (body only), and the
operators `prefix`, `suffix`, `equals-ignore-case`, `anything-but` (a
value, a list of values, or `{"prefix"|"suffix"|"equals-ignore-case": ...}`),
`numeric` (`["=", 5]`, `[">", 0]`, `[">", 0, "<=", 10]`), `exists`
(true/false) and `cidr` (an IP address in a network). `"$or": [policy,
policy, ...]` matches when one of its policies does.

The scope says what a policy reads (the subscription's FilterPolicyScope):
- `MessageAttributes`: the message attributes. A String.Array attribute
  matches when one of its elements does; Binary attributes are present for
  `exists` but match nothing else.
- `MessageBody`: the message body as a JSON object; the policy nests as the
  body does (`{"order": {"total": [{"numeric": [">", 10]}]}}`), and a list
  in the body matches when one of its elements does. A body that is not a
  JSON object matches no policy.

Limits as in SNS ("Filter policy constraints" in the SNS developer guide):
at most 5 names in each alternative of a policy, at most 150 combinations
of conditions in all, and at most 256 KB of JSON. A policy nested too deeply
to read is refused too.

A message body that is not JSON, or is nested too deeply to read, matches
no MessageBody-scoped policy; other subscriptions still get the message."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

from messaging.validation import MessagingError

ATTRIBUTES = "MessageAttributes"
BODY = "MessageBody"
SCOPES = (ATTRIBUTES, BODY)
MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_NUMBER = 1_000_000_000
MAX_POLICY_BYTES = 256 * 1024
_LOWER = (">", ">=")
_UPPER = ("<", "<=")
_MISSING = object()


class FilterPolicyError(MessagingError):
    """A policy SNS would refuse; the message is SNS's reason."""

    def __init__(self, message: str):
        super().__init__(message, "filter_policy")


def parse(text: str | None, scope: str = ATTRIBUTES) -> dict | None:
    """The policy from JSON text (the console, the API's attribute); blank
    means no policy."""
    if text is None or not text.strip():
        return None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        raise FilterPolicyError(f"Filter policy is too large: at most {MAX_POLICY_BYTES // 1024} KB.")
    try:
        policy = json.loads(text)
    except ValueError as e:
        raise FilterPolicyError(f"The filter policy is not valid JSON ({e}).") from None
    except RecursionError:
        raise FilterPolicyError(_TOO_DEEP) from None
    return validate(policy, scope)


_TOO_DEEP = "Filter policy is too complex: it is nested too deeply."


def validate(policy, scope: str = ATTRIBUTES) -> dict | None:
    """The policy, checked; None for no policy (null or {})."""
    if policy is None or policy == {}:
        return None
    if scope not in SCOPES:
        raise FilterPolicyError(f"The filter policy scope must be {ATTRIBUTES} or {BODY}, not {scope!r}.")
    if not isinstance(policy, dict):
        raise FilterPolicyError('A filter policy is a JSON object such as {"color": ["red", "blue"]}.')
    try:
        _check_object(policy, scope, top=True)
        alternatives = list(_alternatives(policy, ()))
    except RecursionError:
        raise FilterPolicyError(_TOO_DEEP) from None
    combinations = 0
    for flat in alternatives:
        if len(flat) > MAX_KEYS:
            raise FilterPolicyError(f"Filter policy can not have more than {MAX_KEYS} keys")
        product = 1
        for conditions in flat.values():
            product *= len(conditions)
        combinations += product
    if combinations > MAX_COMBINATIONS:
        raise FilterPolicyError(
            f"Filter policy is too complex: {combinations} combinations of conditions, "
            f"at most {MAX_COMBINATIONS}."
        )
    return policy


def _check_object(policy: dict, scope: str, top: bool = False) -> None:
    if not policy:
        raise FilterPolicyError("Empty objects are not allowed in a filter policy.")
    for key, value in policy.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise FilterPolicyError('"$or" takes a list of at least two filter policies (objects).')
            for branch in value:
                _check_object(branch, scope, top)
        elif isinstance(value, dict):
            if scope == ATTRIBUTES:
                raise FilterPolicyError(
                    f"{key!r} holds an object: nested policies need the filter policy scope {BODY}; "
                    'on attributes each name takes a list, e.g. {"color": ["red"]}.'
                )
            _check_object(value, scope)
        elif isinstance(value, list):
            if not value:
                raise FilterPolicyError(f"Empty arrays are not allowed ({key!r}).")
            for condition in value:
                _check_condition(key, condition)
        else:
            raise FilterPolicyError(
                f"The filter policy's {key!r} must be a non-empty list of conditions, "
                f'e.g. {{"{key}": ["a", "b"]}}.'
            )


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_condition(key: str, condition) -> None:
    if condition is None or isinstance(condition, str | bool) or _is_number(condition):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise FilterPolicyError(
            f"{key!r}: a condition is a string, a number, null or an object with one match type, "
            f"not {json.dumps(condition)[:100]}."
        )
    ((kind, operand),) = condition.items()
    if kind in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str) or (kind != "equals-ignore-case" and not operand):
            raise FilterPolicyError(f"{kind} match pattern must be a string")
    elif kind == "anything-but":
        _check_anything_but(operand)
    elif kind == "numeric":
        _check_numeric(operand)
    elif kind == "exists":
        if not isinstance(operand, bool):
            raise FilterPolicyError("exists match pattern must be either true or false.")
    elif kind == "cidr":
        try:
            ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            raise FilterPolicyError(f"Malformed CIDR, one '/' required: {operand!r}") from None
    else:
        raise FilterPolicyError(f"Unrecognized match type {kind}")


def _check_anything_but(operand) -> None:
    if isinstance(operand, dict):
        if len(operand) != 1 or next(iter(operand)) not in ("prefix", "suffix", "equals-ignore-case"):
            raise FilterPolicyError(
                "anything-but takes a value, a list of values, or one of prefix, suffix and "
                "equals-ignore-case."
            )
        value = next(iter(operand.values()))
        if not isinstance(value, str) or not value:
            raise FilterPolicyError(f"{next(iter(operand))} match pattern must be a string")
        return
    values = operand if isinstance(operand, list) else [operand]
    if not values or not all(isinstance(v, str) or _is_number(v) for v in values):
        raise FilterPolicyError("anything-but takes a string, a number, or a non-empty list of them.")


def _check_numeric(operand) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise FilterPolicyError(
            'numeric takes ["=", n], [">", n] or a range such as [">", 0, "<=", 10].'
        )
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    for op, number in pairs:
        if op not in ("=", *_LOWER, *_UPPER):
            raise FilterPolicyError(f"Unrecognized numeric range operator: {op}")
        if not _is_number(number):
            raise FilterPolicyError(f"Value of {op} must be numeric")
        if not -MAX_NUMBER <= number <= MAX_NUMBER:
            raise FilterPolicyError(f"Numeric values must be from -{MAX_NUMBER} to {MAX_NUMBER}.")
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in _LOWER or high_op not in _UPPER:
            raise FilterPolicyError("Too many elements in numeric expression: a range is a lower bound "
                                    "(> or >=) then an upper bound (< or <=).")
        if low >= high:
            raise FilterPolicyError("Bottom must be less than top")


def _alternatives(policy: dict, path: tuple) -> Iterator[dict]:
    """The policy as AND-only alternatives: {path tuple: conditions}, one per
    choice of a branch in every `$or`."""
    flats: list[dict] = [{}]
    for key, value in policy.items():
        if key == "$or":
            branches = [flat for branch in value for flat in _alternatives(branch, path)]
        elif isinstance(value, dict):
            branches = list(_alternatives(value, (*path, key)))
        else:
            branches = [{(*path, key): value}]
        if len(flats) * len(branches) > MAX_COMBINATIONS:
            # Every alternative is at least one combination: stop before
            # the product of many "$or"s is built.
            raise FilterPolicyError(
                f"Filter policy is too complex: more than {MAX_COMBINATIONS} combinations of conditions."
            )
        flats = [{**flat, **branch} for flat in flats for branch in branches]
    yield from flats


# Matching ----------------------------------------------------------------------


def matches(policy: dict | None, attributes: dict, body: str | None = None, scope: str = ATTRIBUTES) -> bool:
    """Whether a message (stored attributes {"name": {"Type", "Value"}},
    and its body for the MessageBody scope) passes the policy."""
    if not policy:
        return True
    if scope == BODY:
        try:
            document = json.loads(body) if body is not None else None
        except (ValueError, RecursionError):
            # As SNS: a body it cannot read as JSON matches no body policy.
            return False
        if not isinstance(document, dict):
            return False
        lookup = lambda path: _body_values(document, path)  # noqa: E731
    else:
        lookup = lambda path: _attribute_values(attributes, path[0])  # noqa: E731
    return any(
        all(_key_matches(conditions, lookup(path)) for path, conditions in flat.items())
        for flat in _alternatives(policy, ())
    )


def _attribute_values(attributes: dict, name: str):
    """The values an attribute offers to conditions; _MISSING when absent."""
    attribute = attributes.get(name)
    if attribute is None:
        return _MISSING
    kind, value = attribute["Type"], attribute["Value"]
    if kind == "String.Array":
        try:
            items = json.loads(value)
        except (ValueError, RecursionError):
            return []
        return items if isinstance(items, list) else []
    base = kind.split(".", 1)[0]
    if base == "String":
        return [value]
    if base == "Number":
        try:
            return [float(value)]
        except ValueError:
            return []
    return []  # Binary: present, never equal to anything.


def _body_values(document: dict, path: tuple):
    current = [document]
    for key in path:
        found = []
        for node in current:
            if isinstance(node, dict) and key in node:
                value = node[key]
                found.extend(value if isinstance(value, list) else [value])
        if not found:
            return _MISSING
        current = found
    return current


def _key_matches(conditions: list, values) -> bool:
    for condition in conditions:
        if isinstance(condition, dict) and "exists" in condition:
            if condition["exists"] == (values is not _MISSING):
                return True
        elif values is not _MISSING and any(_value_matches(condition, v) for v in values):
            return True
    return False


def _equal(condition, value) -> bool:
    if condition is None or isinstance(condition, bool):
        return value is condition
    if isinstance(condition, str):
        return isinstance(value, str) and value == condition
    return _is_number(value) and float(value) == float(condition)


def _string_test(kind: str, operand: str, value) -> bool:
    if not isinstance(value, str):
        return False
    if kind == "prefix":
        return value.startswith(operand)
    if kind == "suffix":
        return value.endswith(operand)
    return value.casefold() == operand.casefold()


def _value_matches(condition, value) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    ((kind, operand),) = condition.items()
    if kind in ("prefix", "suffix", "equals-ignore-case"):
        return _string_test(kind, operand, value)
    if kind == "anything-but":
        if isinstance(operand, dict):
            ((inner, text),) = operand.items()
            return isinstance(value, str) and not _string_test(inner, text, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_equal(v, value) for v in excluded)
    if kind == "numeric":
        return _is_number(value) and _in_range(operand, float(value))
    if kind == "cidr":
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
