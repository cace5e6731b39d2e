"""Running a stored target's version or alias: what every trigger, event
source mapping, destination and SNS/S3 target that names a qualifier
calls just before it dispatches.

The qualifier is resolved by functions.qualifiers.resolve at the moment
of the call (an alias picks its version then, by RoutingConfig weight) and
the engine gets the resolved Function. A version or alias that no longer
exists fails that delivery as Lambda fails it (ResourceNotFoundException
naming the qualified ARN), never runs $LATEST instead: an async event is
stored `failed` without running and goes through the finish hooks (dead
letter, on-failure destination); a sync caller gets the error to answer."""

from __future__ import annotations

import copy
import logging
import uuid

from django.db import transaction
from django.utils import timezone

from awsapi import arns
from functions import qualifiers
from functions.models import Function
from invocations import dispatch, fastsql, hooks
from invocations.models import Invocation

log = logging.getLogger(__name__)

NOT_FOUND = "ResourceNotFoundException"
QUALIFIER_MAX = 128  # Lambda's Qualifier: 1-128 characters


def qualified_arn(fn: Function, qualifier: str | None) -> str:
    """The function's ARN with `:qualifier` when there is one."""
    return arns.function_arn(fn.team.account_id, fn.name, qualifier or None)


def not_found_error(fn: Function, qualifier: str | None) -> dict:
    """The error a call to a missing version or alias ends with (Lambda's
    ResourceNotFoundException message, in the function-error shape)."""
    return {
        "errorType": NOT_FOUND,
        "errorMessage": f"Function not found: {qualified_arn(fn, qualifier)}",
        "stackTrace": [],
    }


def resolve(fn: Function, qualifier: str | None) -> Function:
    """qualifiers.resolve; QualifierNotFound when it names nothing. A
    qualified call never marks `fn` itself ("$LATEST", or an alias of
    $LATEST, resolves to the function object, which a route, a mapping or
    Invoke's per-process copy keeps and shares): it resolves a copy, whose
    `.qualifier` ("$LATEST" included) makes the invokedFunctionArn."""
    if not qualifier:
        return qualifiers.resolve(fn, None)
    own = copy.copy(fn)
    own._state = copy.copy(fn._state)
    return qualifiers.resolve(own, qualifier)


def submit_async(fn: Function, qualifier: str | None, event: str, **kwargs) -> Invocation:
    """dispatch.submit_async(...) of `fn` as `qualifier` names it (None:
    $LATEST); keyword arguments as submit_async's. When the version or
    alias does not exist the event is stored `failed` with
    ResourceNotFoundException, attempts 0, and the finish hooks run once it
    is committed (a dead letter and the on-failure destination, as for any
    async event that could not be delivered)."""
    try:
        target = resolve(fn, qualifier)
    except qualifiers.QualifierNotFound:
        return _failed(fn, qualifier, event, **kwargs)
    return dispatch.submit_async(target, event, **kwargs)


def _failed(
    fn: Function, qualifier: str | None, event: str, *, source: str, trigger: str = "",
    priority: str = "normal", origin: dict | None = None, request_id=None,
) -> Invocation:
    inv = record_not_run(
        fn, qualifier, event, source=source, trigger=trigger, priority=priority, origin=origin,
        request_id=request_id, invocation_type="Event",
    )
    transaction.on_commit(lambda: hooks.run_finished(inv))
    return inv


def record_not_run(
    fn: Function, qualifier: str | None, event: str, *, source: str, trigger: str = "",
    priority: str = "normal", origin: dict | None = None, request_id=None,
    invocation_type: str = "RequestResponse",
) -> Invocation:
    """Store a call of `fn` as `qualifier` names it, which does not exist,
    as `failed` with ResourceNotFoundException, attempts 0 and no start:
    it never ran (Invocation.ran), and the console says why. Runs no finish
    hooks: a stream mapping's own retries and OnFailure record handle the
    batch (mappings.shard_runs); submit_async runs them for an event."""
    error, logs = _not_run_fields(fn, qualifier)
    inv = Invocation(
        request_id=request_id or uuid.uuid4(), function=fn, event=event, invocation_type=invocation_type,
        source=source, memory_size_mb=fn.memory_mb, priority=priority, trigger=trigger,
        qualifier=qualifier or "", origin=origin, status="failed", error=error,
        finished_at=timezone.now(), logs=logs,
    )
    fastsql.insert(inv)
    log.warning("%s not run (%s from %s): %s", inv.request_id, source, trigger, error["errorMessage"])
    return inv


def fail_queued(inv: Invocation, qualifier: str) -> bool:
    """A stored, queued event whose version or alias (`qualifier`) no longer
    exists when the async queue runs it (invocations.runner.run_async
    resolves the qualifier at each attempt, as Lambda does): queued ->
    `failed` with ResourceNotFoundException as record_not_run stores it,
    its attempts and start left as they were (0 and None unless an earlier
    attempt ran). False when the row was no longer queued (another task
    took it). Runs no finish hooks: the caller does, once this is True."""
    error, logs = _not_run_fields(inv.function, qualifier)
    now = timezone.now()
    changed = Invocation.objects.filter(request_id=inv.request_id, status="queued").update(
        status="failed", finished_at=now, error=error, logs=inv.logs + logs,
    )
    if changed != 1:
        return False
    inv.status, inv.finished_at, inv.error, inv.logs = "failed", now, error, inv.logs + logs
    log.warning("%s not run (%s): %s", inv.request_id, inv.source, error["errorMessage"])
    return True


def _not_run_fields(fn: Function, qualifier: str | None) -> tuple[dict, str]:
    """The error and the log line of a call whose qualifier names nothing."""
    error = not_found_error(fn, qualifier)
    why = qualifiers.missing_text(fn.name, qualifier) if qualifier else "the function does not exist"
    return error, f"[Stratus] not run: {why} ({error['errorMessage']})\n"
