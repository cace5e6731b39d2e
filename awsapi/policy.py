"""Execution policies: what a function's own credentials may do.

A policy is IAM's identity-based policy document, the subset Stratus
evaluates (source: IAM User Guide, "Policy evaluation logic" and "IAM JSON
policy elements reference"):

    {"Version": "2012-10-17",
     "Statement": [{"Sid": "optional",
                    "Effect": "Allow" | "Deny",
                    "Action": "sqs:SendMessage" | ["s3:Get*", ...],
                    "Resource": "arn:aws:sqs:us-east-1:123456789012:orders" | [...]}]}

Rules, as IAM's: nothing is allowed unless a statement allows it (implicit
deny); an explicit Deny wins over any Allow. `Action` matches the service
prefix case-insensitively and `*` / `?` wildcards anywhere ("s3:Get*",
"sqs:*", "*"); `Resource` matches ARNs with the same wildcards,
case-sensitively. `NotAction`, `NotResource`, `Principal` and `Condition`
are refused when the policy is saved (validate), so a saved policy never
means more or less than it says.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

VERSIONS = ("2012-10-17", "2008-10-17")
_ALLOWED_KEYS = {"Sid", "Effect", "Action", "Resource"}
_ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
MAX_POLICY_CHARS = 20_480  # Lambda's execution-role inline policy limit is 10,240; room for spaces


class PolicyError(ValueError):
    """A document that is not a policy Stratus can evaluate; says what and where."""


@dataclass(frozen=True)
class Decision:
    """`allowed`; `explicit`: a Deny statement matched (else the deny is implicit)."""

    allowed: bool
    explicit: bool = False


def parse(text: str) -> dict:
    """The policy in `text` (JSON), validated; "" or blank is the empty
    policy ({}: nothing allowed). PolicyError otherwise."""
    if not text or not text.strip():
        return {}
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(f"The policy is {len(text)} characters; the limit is {MAX_POLICY_CHARS}.")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise PolicyError(f"The policy is not JSON: {e.msg} at line {e.lineno}, column {e.colno}.") from None
    validate(document)
    return document


def validate(document) -> None:
    """PolicyError unless `document` is {} or a policy of the shape above."""
    if document == {}:
        return
    if not isinstance(document, dict):
        raise PolicyError("The policy must be a JSON object with Version and Statement.")
    unknown = set(document) - {"Version", "Statement", "Id"}
    if unknown:
        raise PolicyError(f"Unknown policy element(s): {', '.join(sorted(unknown))}.")
    if document.get("Version") not in VERSIONS:
        raise PolicyError(
            f"Version must be \"2012-10-17\" (or \"2008-10-17\"), not {document.get('Version')!r}."
        )
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise PolicyError("Statement must be a statement object or a non-empty list of them.")
    for number, statement in enumerate(statements, 1):
        where = f"Statement {number}"
        if not isinstance(statement, dict):
            raise PolicyError(f"{where} is not an object.")
        extra = set(statement) - _ALLOWED_KEYS
        if extra:
            raise PolicyError(
                f"{where}: {', '.join(sorted(extra))} is not supported; Stratus evaluates "
                "Sid, Effect, Action and Resource."
            )
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(
                f"{where}: Effect must be \"Allow\" or \"Deny\", not {statement.get('Effect')!r}."
            )
        for element in ("Action", "Resource"):
            values = _as_list(statement.get(element))
            if not values or not all(isinstance(v, str) and v for v in values):
                raise PolicyError(f"{where}: {element} must be a string or a non-empty list of strings.")
        for action in _as_list(statement["Action"]):
            if not _ACTION.match(action):
                raise PolicyError(
                    f"{where}: Action {action!r} is not SERVICE:ACTION (e.g. \"s3:GetObject\", \"sqs:*\")."
                )
        for resource in _as_list(statement["Resource"]):
            if resource != "*" and not resource.startswith("arn:"):
                raise PolicyError(f"{where}: Resource {resource!r} is not an ARN or \"*\".")


def evaluate(document: dict, action: str, resource: str) -> Decision:
    """May `action` ("sqs:SendMessage") be done on `resource` (an ARN, or
    "*" for actions on no resource) under `document`?"""
    allowed = False
    for statement in _statements(document):
        if not any(_matches(p, action, ignore_case=True) for p in _as_list(statement.get("Action"))):
            continue
        if not any(_matches(p, resource) for p in _as_list(statement.get("Resource"))):
            continue
        if statement.get("Effect") == "Deny":
            return Decision(False, explicit=True)
        allowed = True
    return Decision(allowed)


def _statements(document: dict) -> list[dict]:
    statements = (document or {}).get("Statement") or []
    return [statements] if isinstance(statements, dict) else statements


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def denied_message(principal_arn: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied wording for an identity-based policy decision."""
    why = (
        "with an explicit deny in an identity-based policy"
        if decision.explicit
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"
