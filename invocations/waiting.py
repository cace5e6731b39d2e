"""Sync invocations: the caller registers with the process's done listener
before the task is queued, then sleeps until the worker publishes; the row
is read only every RECHECK_S in case a message was lost."""

import time
import uuid

from django.utils import timezone

from functions.models import Function
from invocations import concurrency
from invocations.done_listener import listener
from invocations.models import FINISHED, Invocation

# Past the function timeout, give the queue and a cold start this long.
GRACE_S = 60.0
RECHECK_S = 5.0


def submit_sync(
    fn: Function, event: str, *, source: str, request_id=None, trigger: str = "",
    priority: str = "normal",
) -> Invocation:
    """Take a reserved-concurrency slot, then submit. Over the limit the row
    is stored `throttled` and no task is queued: sync calls are refused, not
    queued (Lambda's 429), and the refusal is on the record."""
    request_id = request_id or uuid.uuid4()
    if not concurrency.take_for_sync(fn, request_id, GRACE_S):
        now = timezone.now()
        return Invocation.objects.create(
            request_id=request_id, function=fn, event=event, invocation_type="RequestResponse",
            source=source, memory_size_mb=fn.memory_mb, status="throttled", finished_at=now,
            trigger=trigger, priority=priority,
            error={
                "errorType": "TooManyRequestsException",
                "errorMessage": (
                    f"Rate Exceeded: {fn.name} already runs its reserved concurrency of "
                    f"{fn.reserved_concurrency}; try again when one finishes."
                ),
            },
        )
    return Invocation.submit(
        fn, event, invocation_type="RequestResponse", source=source, request_id=request_id,
        trigger=trigger, priority=priority,
    )


def invoke_and_wait(
    fn: Function,
    event: str,
    *,
    source: str,
    trigger: str = "",
    priority: str = "normal",
    request_id: uuid.UUID | None = None,
) -> Invocation:
    # A caller may pick the id first when the event itself carries it
    # (an HTTP route's requestContext.requestId).
    request_id = request_id or uuid.uuid4()
    waiter = listener().expect(request_id)
    try:
        inv = submit_sync(
            fn, event, source=source, request_id=request_id, trigger=trigger, priority=priority
        )
        deadline = time.monotonic() + fn.timeout_s + GRACE_S
        while not inv.is_finished and time.monotonic() < deadline:
            if waiter.wait(min(RECHECK_S, max(0.0, deadline - time.monotonic()))):
                break
            if is_finished(request_id):
                break
    finally:
        listener().forget(request_id)
    inv.refresh_from_db()
    return inv


def is_finished(request_id) -> bool:
    """Read the row: a missed message (Redis restarted) must not strand a
    waiting caller."""
    return Invocation.objects.filter(request_id=request_id, status__in=FINISHED).exists()
