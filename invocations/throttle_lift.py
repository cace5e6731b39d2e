"""Async events throttled by a reserved concurrency of 0 go as soon as it
is lifted.

A reservation of 0 is Lambda's "throttle everything": no event of the
function can run, so none gets a task of its own (invocations.dispatch.
wait_for_slot); the reconciler looks at them again every
STRATUS_REQUEUE_AFTER seconds (invocations.recovery.requeue_lost), and they
expire by their maximum event age. When the reservation is raised above 0
or removed (PutFunctionConcurrency, DeleteFunctionConcurrency, the
Configuration tab: concurrency.set_reserved), their tasks are queued at
once, for $LATEST and every version (an alias's events are stored with the
version it picked), instead of waiting up to a reconciler round more.
Connected by `watch` (invocations.field_change) in InvocationsConfig.ready()."""

from __future__ import annotations

import logging

from django.utils import timezone

from functions.models import Function
from invocations import dispatch, field_change
from invocations.models import Invocation

log = logging.getLogger(__name__)
# A bound on one wake; the rest go at the reconciler's next round.
WAKE_MAX = 10_000


def watch() -> None:
    """Connect the wake (InvocationsConfig.ready): a save that moves
    `reserved_concurrency` from 0 to more, or to none (concurrency.set_reserved)."""
    field_change.watch(Function, "reserved_concurrency", lambda new: new != 0, lambda old: old == 0,
                       lambda fn: wake(fn.pk), "throttle-lift")


def wake(function_id) -> int:
    """Queue the function's queued async events that are due (any version;
    events waiting for a retry keep their backoff: their queued_at is
    ahead). A duplicate task is harmless: the claim is conditional.
    Returns how many."""
    waiting = list(
        Invocation.objects.filter(
            function_id=function_id, status="queued", invocation_type="Event", queued_at__lte=timezone.now(),
        ).values_list("request_id", "priority")[:WAKE_MAX]
    )
    for request_id, priority in waiting:
        dispatch.queue(request_id, priority)
    if waiting:
        log.info("function %s: its reservation of 0 was lifted; %d waiting event(s) queued",
                 function_id, len(waiting))
    return len(waiting)
