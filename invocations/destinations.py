"""Destinations of async invocations: ARNs of a function, a topic or a
queue in the same team, checked when configured and resolved when used.

Each kind of destination is registered by the app that owns it, from its
AppConfig.ready(): functions here (the engine runs them), topics and queues
by the messaging app. The engine never imports a service app: an ARN whose
service has no registered kind is simply not a usable destination."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from awsapi import arns
from functions import qualifiers
from functions.models import Function, Team
from invocations import dispatch

log = logging.getLogger(__name__)


class DestinationError(ValueError):
    """A destination that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Kind:
    """A kind of destination.

    service: the ARN's service ("lambda", "sns", "sqs"); label: what the
    console calls it ("function", "topic", "queue"); find(team, arn): the
    object or None; deliver(target, body, source_request_id, priority):
    send the invocation record (JSON text); choices(team, exclude): (ARN,
    label) pairs for the console's selects."""

    service: str
    label: str
    find: Callable[[Team, str], object | None]
    deliver: Callable[[object, str, object, str], None]
    choices: Callable[[Team, object | None], list[tuple[str, str]]]
    # The resource part of the ARN: e.g. "function:NAME" for Lambda, and
    # the pattern it must match.
    example: str = "NAME"
    resource: str = r"[A-Za-z0-9_.-]+"


_kinds: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    _kinds[kind.service] = kind


@dataclass(frozen=True)
class Destination:
    kind: Kind
    arn: str


def parse(team: Team, arn: str) -> Destination:
    """The destination an ARN names, if its shape, region and account fit."""
    examples = ", ".join(f"arn:aws:{k.service}:REGION:ACCOUNT:{k.example}" for k in _kinds.values())
    try:
        parsed = arns.parse(arn)
    except arns.ArnError:
        raise DestinationError(f"{arn!r} is not a destination ARN: use {examples}.") from None
    kind = _kinds.get(parsed.service)
    if kind is None:
        raise DestinationError(f"{arn!r} is not a destination ARN: use {examples}.")
    if parsed.region != settings.STRATUS_REGION:
        raise DestinationError(
            f"The destination {arn} is in region {parsed.region}; this server is {settings.STRATUS_REGION}."
        )
    if not re.fullmatch(kind.resource, parsed.resource):
        raise DestinationError(
            f"{arn!r} is not a {kind.label} ARN (arn:aws:{kind.service}:REGION:ACCOUNT:{kind.example})."
        )
    if parsed.account != team.account_id:
        raise DestinationError(
            f"The destination {arn} belongs to another account; use one of team "
            f"{team.name}'s ({team.account_id})."
        )
    return Destination(kind, arn.strip())


def resolve(team: Team, dest: Destination):
    """The function, topic or queue, or None if it does not exist."""
    return dest.kind.find(team, dest.arn)


def validate(fn: Function, arn: str) -> str:
    """The ARN cleaned, or DestinationError. Blank means no destination."""
    arn = (arn or "").strip()
    if not arn:
        return ""
    dest = parse(fn.team, arn)
    target = resolve(fn.team, dest)
    if isinstance(target, Function) and target.pk == fn.pk:
        # Every success (or failure) would invoke the function again, forever.
        raise DestinationError(f"A function cannot be its own destination ({arn}).")
    if target is None:
        raise DestinationError(
            f"The destination {arn} does not exist in team {fn.team.name}: "
            f"create the {dest.kind.label} first, or pick one that exists."
        )
    return dest.arn


def choices(team: Team, exclude: Function | None = None) -> list[tuple[str, str]]:
    """(ARN, label) for the console's destination selects."""
    options: list[tuple[str, str]] = []
    for kind in _kinds.values():
        options += kind.choices(team, exclude)
    return options


def send(team: Team, arn: str, record: dict, *, source_request_id, priority: str) -> str:
    """Deliver a destination record; "" when it was handed over, else why
    it was skipped (for the invocation's page: "alias 'live' of function
    sink does not exist"). A destination deleted since it was configured is
    logged and skipped: the event is in the dead letters (on failure) or
    the invocation's record (on success) all the same."""
    try:
        dest = parse(team, arn)
    except DestinationError as e:
        log.warning("destination of %s unusable: %s", source_request_id, e)
        return str(e)
    target = resolve(team, dest)
    if target is None:
        why = missing_text(team, dest)
        log.warning("destination %s of %s skipped: %s", arn, source_request_id, why)
        return why
    dest.kind.deliver(target, json.dumps(record), source_request_id, priority)
    return ""


def missing_text(team: Team, dest: Destination) -> str:
    """Why `dest` resolves to nothing: a function ARN's missing version or
    alias is named (qualifiers.missing_text), anything else as a whole."""
    if dest.kind.service == "lambda":
        try:
            _, name, qualifier = arns.split_function_name(dest.arn)
        except arns.ArnError:
            name, qualifier = "", None
        if qualifier and Function.objects.filter(team=team, name=name).exists():
            return qualifiers.missing_text(name, qualifier)
    return f"the {dest.kind.label} {dest.arn} does not exist"


# Functions: the engine's own kind -------------------------------------------


def _find_function(team: Team, arn: str) -> Function | None:
    """The function an ARN names, as its version or alias if qualified
    (qualifiers.resolve: an alias picks its version now); None when the
    function, version or alias does not exist."""
    try:
        account, name, qualifier = arns.split_function_name(arn)
    except arns.ArnError:
        return None
    if account != team.account_id:
        return None
    fn = Function.objects.select_related("team", "code").filter(team=team, name=name).first()
    if fn is None:
        return None
    try:
        return qualifiers.resolve(fn, qualifier)
    except qualifiers.QualifierNotFound:
        return None


def _deliver_to_function(target: Function, body: str, source_request_id, priority: str) -> None:
    # `target` is resolved already (_find_function, just before).
    dispatch.submit_async(
        target, body, source="destination", priority=priority,
        trigger=f"destination:{source_request_id}",
        origin={"destination_of": str(source_request_id)},
    )


def _function_choices(team: Team, exclude) -> list[tuple[str, str]]:
    """Each function but `exclude`, then each of its aliases."""
    found = Function.objects.filter(team=team).order_by("name").prefetch_related("aliases")
    return [
        choice
        for fn in found
        if exclude is None or fn.pk != exclude.pk
        for choice in [
            (arns.function_arn(team.account_id, fn.name), f"Function {fn.name}"),
            *((arns.function_arn(team.account_id, fn.name, a.name), f"Function {fn.name}:{a.name}")
              for a in fn.aliases.all()),
        ]
    ]


FUNCTION = Kind(
    service="lambda", label="function", find=_find_function, deliver=_deliver_to_function,
    choices=_function_choices, example="function:NAME[:ALIAS or VERSION]",
    resource=r"function:[A-Za-z0-9_-]+(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?",
)
