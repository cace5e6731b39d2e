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
Receivers of Function's pre_save and post_save, connected in
InvocationsConfig.ready()."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from functions.models import Function
from invocations import dispatch
from invocations.models import Invocation

log = logging.getLogger(__name__)
# A bound on one wake; the rest go at the reconciler's next round.
WAKE_MAX = 10_000


def note_lift(sender, instance: Function, update_fields=None, **kwargs) -> None:
    """pre_save: mark a save that lifts a reservation of 0. Only saves
    naming `reserved_concurrency` (concurrency.set_reserved's) cost a query."""
    if update_fields is None or "reserved_concurrency" not in update_fields:
        return
    if instance.reserved_concurrency == 0 or instance.pk is None:
        return
    was = Function.objects.filter(pk=instance.pk).values_list("reserved_concurrency", flat=True).first()
    if was == 0:
        instance._wakes_throttled = True


def wake_after_lift(sender, instance: Function, **kwargs) -> None:
    """post_save: once committed, queue the function's waiting events."""
    if not getattr(instance, "_wakes_throttled", False):
        return
    instance._wakes_throttled = False
    function_id = instance.pk
    transaction.on_commit(lambda: wake(function_id))


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
