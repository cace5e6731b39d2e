"""Held async events go as soon as their function is Active.

`dispatch.hold` looks at an event of a function that is not Active again
after a while (up to dispatch.HOLD_MAX_S); when the function's dependency
build succeeds, or a Failed function takes code that needs none, its held
events are queued at once instead. A published version waiting on its
build (FunctionVersion.state Pending, functions.dependencies.finish ends
it) does the same when it becomes Active, and when it becomes Failed:
a version never changes again, so the runner fails its events at once
(their on-failure destination / dead-letter queue as usual) instead of
holding them until their maximum event age. Receivers of Function's and
FunctionVersion's pre_save and post_save, connected in
InvocationsConfig.ready()."""

from __future__ import annotations

import logging

from django.db import transaction

from functions.models import Function, FunctionVersion
from invocations import dispatch
from invocations.models import Invocation

log = logging.getLogger(__name__)
NOT_ACTIVE = ("Pending", "Failed")
LATEST = "$LATEST"
# A bound on one release; the rest go on their own hold timer.
RELEASE_MAX = 10_000


def note_activation(sender, instance: Function, update_fields=None, **kwargs) -> None:
    """pre_save: mark a save that makes a Pending or Failed function Active.
    Only saves that name `state` (the dependency build's) cost a query."""
    if update_fields is None or "state" not in update_fields:
        return
    if instance.state != "Active" or instance.pk is None:
        return
    was = Function.objects.filter(pk=instance.pk).values_list("state", flat=True).first()
    if was in NOT_ACTIVE:
        instance._releases_held = True


def release_after_activation(sender, instance: Function, **kwargs) -> None:
    """post_save: once committed, queue the function's held events."""
    if not getattr(instance, "_releases_held", False):
        return
    instance._releases_held = False
    function_id = instance.pk
    transaction.on_commit(lambda: release(function_id))


def note_version_end(sender, instance: FunctionVersion, update_fields=None, **kwargs) -> None:
    """pre_save: mark a save that ends a Pending version (Active or Failed:
    functions.dependencies.finish). Only saves naming `state` cost a query."""
    if update_fields is None or "state" not in update_fields:
        return
    if instance.state == "Pending" or instance.pk is None:
        return
    was = FunctionVersion.objects.filter(pk=instance.pk).values_list("state", flat=True).first()
    if was == "Pending":
        instance._releases_held = True


def release_after_version_end(sender, instance: FunctionVersion, **kwargs) -> None:
    """post_save: once committed, queue the version's held events."""
    if not getattr(instance, "_releases_held", False):
        return
    instance._releases_held = False
    function_id, version = instance.function_id, str(instance.version)
    transaction.on_commit(lambda: release(function_id, version))


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
