"""Destinations of async invocations: ARNs of a function, a topic or a
queue in the same team, checked when configured and resolved when used.

Topics and queues belong to the messaging app, which is imported lazily:
this module only needs its four lookup and send functions."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from django.conf import settings

from functions.models import Function, Team

log = logging.getLogger(__name__)

_ARN = re.compile(
    r"^arn:aws:(?P<service>lambda|sns|sqs):(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<rest>.+)$"
)
KINDS = {"lambda": "function", "sns": "topic", "sqs": "queue"}


class DestinationError(ValueError):
    """A destination that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Destination:
    kind: str  # "function", "topic" or "queue"
    arn: str
    name: str


def function_arn(team: Team, name: str) -> str:
    return f"arn:aws:lambda:{settings.STRATUS_REGION}:{team.account_id}:function:{name}"


def parse(team: Team, arn: str) -> Destination:
    """The destination an ARN names, if its shape, region and account fit."""
    match = _ARN.match(arn.strip())
    if not match:
        raise DestinationError(
            f"{arn!r} is not a destination ARN: use arn:aws:lambda:REGION:ACCOUNT:function:NAME, "
            "arn:aws:sns:REGION:ACCOUNT:TOPIC or arn:aws:sqs:REGION:ACCOUNT:QUEUE."
        )
    service, region, account, rest = match.group("service", "region", "account", "rest")
    if region != settings.STRATUS_REGION:
        raise DestinationError(
            f"The destination {arn} is in region {region}; this server is {settings.STRATUS_REGION}."
        )
    if account != team.account_id:
        raise DestinationError(
            f"The destination {arn} belongs to another account; use one of team "
            f"{team.name}'s ({team.account_id})."
        )
    if service == "lambda":
        if not rest.startswith("function:") or ":" in rest[len("function:"):]:
            raise DestinationError(
                f"{arn!r} is not a function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)."
            )
        rest = rest[len("function:"):]
    elif ":" in rest:
        raise DestinationError(f"{arn!r} is not a {KINDS[service]} ARN.")
    return Destination(KINDS[service], arn.strip(), rest)


def _messaging():
    """messaging.api, or None where the messaging app is not installed."""
    try:
        from messaging import api
    except ImportError:
        return None
    return api


def resolve(team: Team, dest: Destination):
    """The Function, topic or queue object, or None if it does not exist."""
    if dest.kind == "function":
        return Function.objects.filter(team=team, name=dest.name).first()
    api = _messaging()
    if api is None:
        return None
    if dest.kind == "topic":
        return api.find_topic_by_arn(team, dest.arn)
    return api.find_queue_by_arn(team, dest.arn)


def validate(fn: Function, arn: str) -> str:
    """The ARN cleaned, or DestinationError. Blank means no destination."""
    arn = (arn or "").strip()
    if not arn:
        return ""
    dest = parse(fn.team, arn)
    if dest.kind == "function" and dest.name == fn.name:
        # Every success (or failure) would invoke the function again, forever.
        raise DestinationError(f"A function cannot be its own destination ({arn}).")
    if resolve(fn.team, dest) is None:
        raise DestinationError(
            f"The destination {arn} does not exist in team {fn.team.name}: "
            f"create the {dest.kind} first, or pick one that exists."
        )
    return dest.arn


def choices(team: Team, exclude: Function | None = None) -> list[tuple[str, str]]:
    """(ARN, label) for the console's destination selects."""
    options = [
        (function_arn(team, fn.name), f"Function {fn.name}")
        for fn in Function.objects.filter(team=team).order_by("name")
        if exclude is None or fn.pk != exclude.pk
    ]
    try:
        from messaging.models import Queue, Topic
    except ImportError:
        return options
    for label, model in (("Topic", Topic), ("Queue", Queue)):
        items = model.objects.filter(team=team).order_by("name")
        options += [(item.arn, f"{label} {item.name}") for item in items]
    return options


def send(team: Team, arn: str, record: dict, *, source_request_id, priority: str) -> None:
    """Deliver a destination record. A destination deleted since it was
    configured is logged and skipped: the event is in the dead letters (on
    failure) or the invocation's record (on success) all the same."""
    from invocations.models import Invocation

    dest = parse(team, arn)
    target = resolve(team, dest)
    if target is None:
        log.warning("destination %s of %s no longer exists; skipped", arn, source_request_id)
        return
    body = json.dumps(record)
    if dest.kind == "function":
        Invocation.submit(
            target, body, invocation_type="Event", source="destination", priority=priority,
            trigger=f"destination:{source_request_id}",
            origin={"destination_of": str(source_request_id)},
        )
    elif dest.kind == "topic":
        _messaging().publish(target, body)
    else:
        _messaging().send(target, body)
