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

import json
from collections.abc import Iterator

from awsapi import event_patterns
from messaging.validation import MessagingError

ATTRIBUTES = "MessageAttributes"
BODY = "MessageBody"
SCOPES = (ATTRIBUTES, BODY)
MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_NUMBER = 1_000_000_000
MAX_POLICY_BYTES = 256 * 1024
SYNTAX = event_patterns.Syntax(
    noun="filter policy", nouns="filter policies",
    operators=frozenset(
        {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"}
    ),
    anything_but=("prefix", "suffix", "equals-ignore-case"),
    max_number=MAX_NUMBER, number_range=f"-{MAX_NUMBER} to {MAX_NUMBER}",
    ignore_case_affixes=False, empty_matches=False,
)


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
        if scope == ATTRIBUTES:
            _refuse_nesting(policy)
        event_patterns.check(policy, SYNTAX)
        alternatives = list(_alternatives(policy, ()))
    except event_patterns.PatternError as e:
        raise FilterPolicyError(str(e)) from None
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


def _refuse_nesting(policy: dict) -> None:
    """On attributes a name holds conditions only (SNS: nested keys are
    for the MessageBody scope)."""
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list):
            for branch in value:
                if isinstance(branch, dict):
                    _refuse_nesting(branch)
        elif isinstance(value, dict):
            raise FilterPolicyError(
                f"{key!r} holds an object: nested policies need the filter policy scope {BODY}; "
                'on attributes each name takes a list, e.g. {"color": ["red"]}.'
            )


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
        all(event_patterns.leaf_matches(conditions, lookup(path)) for path, conditions in flat.items())
        for flat in _alternatives(policy, ())
    )


def _attribute_values(attributes: dict, name: str):
    """The values an attribute offers to conditions; None when absent."""
    attribute = attributes.get(name)
    if attribute is None:
        return None
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
            return None
        current = found
    return current


