"""Held async events go as soon as their function is Active.

`dispatch.hold` looks at an event of a function that is not Active again
after a while (up to dispatch.HOLD_MAX_S); when the function's dependency
build succeeds, or a Failed function takes code that needs none, its held
events are queued at once instead. A published version waiting on its
build (FunctionVersion.state Pending, functions.dependencies.finish ends
it) does the same when it becomes Active, and when it becomes Failed:
a version never changes again, so the runner fails its events at once
(their on-failure destination / dead-letter queue as usual) instead of
holding them until their maximum event age. Connected by `watch`
(invocations.field_change) in InvocationsConfig.ready()."""

from __future__ import annotations

import logging

from functions.models import Function, FunctionVersion
from invocations import dispatch, field_change
from invocations.models import Invocation

log = logging.getLogger(__name__)
NOT_ACTIVE = ("Pending", "Failed")
LATEST = "$LATEST"
# A bound on one release; the rest go on their own hold timer.
RELEASE_MAX = 10_000


def watch() -> None:
    """Connect the releases (InvocationsConfig.ready): a function's held
    events when it becomes Active from Pending or Failed, a published
    version's when it ends Pending (Active or Failed)."""
    field_change.watch(Function, "state", lambda new: new == "Active", lambda old: old in NOT_ACTIVE,
                       lambda fn: release(fn.pk), "eic-held")
    field_change.watch(FunctionVersion, "state", lambda new: new != "Pending", lambda old: old == "Pending",
                       lambda v: release(v.function_id, str(v.version)), "eic-held-version")


def release(function_id, version: str = LATEST) -> int:
    """Queue the queued async events that never ran (held ones) of the
    function's $LATEST, or of one published `version` ("3": the version
    the event resolved to, Invocation.function_version). A duplicate task
    is harmless: the claim is conditional. Events waiting for a retry keep
    their backoff. Returns how many."""
    held = list(
        Invocation.objects.filter(
            function_id=function_id, function_version=version, status="queued", invocation_type="Event",
            attempts=0,
        ).values_list("request_id", "priority")[:RELEASE_MAX]
    )
    for request_id, priority in held:
        dispatch.queue(request_id, priority)
    if held:
        log.info("function %s version %s is no longer Pending: %d held event(s) queued",
                 function_id, version, len(held))
    return len(held)
