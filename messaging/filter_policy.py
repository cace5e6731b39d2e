"""Subscription filter policies, exact match only.

A policy maps attribute names to the values a message may carry:
`{"color": ["red", "blue"], "size": [3]}` matches a message whose `color`
attribute is "red" or "blue" AND whose `size` is the number 3. A string in the
policy matches a String attribute with the same text; a number matches a
Number attribute of equal value ("3" and "3.0" are equal). A message without
one of the policy's attributes does not match.

SNS's other operators (prefix, anything-but, numeric ranges, exists, nested
message-body policies) are not supported: saving such a policy is refused
with an error saying so, rather than silently matching differently."""

import json

from messaging.validation import MessagingError

MAX_KEYS = 5
MAX_VALUES = 150


def parse(text: str | None) -> dict | None:
    """The policy from the console's JSON text; blank means no policy."""
    if text is None or not text.strip():
        return None
    try:
        policy = json.loads(text)
    except ValueError as e:
        raise MessagingError(f"The filter policy is not valid JSON ({e}).", "filter_policy") from None
    return validate(policy)


def validate(policy) -> dict | None:
    if policy is None or policy == {}:
        return None
    if not isinstance(policy, dict):
        raise MessagingError(
            'A filter policy is a JSON object such as {"color": ["red", "blue"]}.', "filter_policy"
        )
    if len(policy) > MAX_KEYS:
        raise MessagingError(f"A filter policy may name at most {MAX_KEYS} attributes.", "filter_policy")
    total = 0
    for key, values in policy.items():
        if not isinstance(values, list) or not values:
            raise MessagingError(
                f"The filter policy's {key!r} must be a non-empty list of values, "
                f'e.g. {{"{key}": ["a", "b"]}}.',
                "filter_policy",
            )
        for value in values:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise MessagingError(
                    f"The filter policy's {key!r} holds {json.dumps(value)}: only exact-match strings "
                    "and numbers are supported (no prefix, anything-but, numeric ranges or exists).",
                    "filter_policy",
                )
        total += len(values)
    if total > MAX_VALUES:
        raise MessagingError(f"A filter policy may list at most {MAX_VALUES} values.", "filter_policy")
    return policy


def _value_matches(allowed, attribute: dict) -> bool:
    if isinstance(allowed, str):
        return attribute["Type"] == "String" and attribute["Value"] == allowed
    if attribute["Type"] != "Number":
        return False
    try:
        return float(attribute["Value"]) == float(allowed)
    except ValueError:
        return False


def matches(policy: dict | None, attributes: dict) -> bool:
    """Every key of the policy must be present with one of its values."""
    if not policy:
        return True
    for key, allowed in policy.items():
        attribute = attributes.get(key)
        if attribute is None or not any(_value_matches(v, attribute) for v in allowed):
            return False
    return True
