"""Sync invocations: the caller subscribes to the row's done channel before
the task is queued, then sleeps until the worker publishes (no polling)."""

import time
import uuid

from functions.models import Function
from invocations import live
from invocations.models import FINISHED, Invocation

# Past the function timeout, give the queue and a cold start this long.
GRACE_S = 60.0


def invoke_and_wait(fn: Function, event: str, *, source: str) -> Invocation:
    request_id = uuid.uuid4()
    pubsub = live.redis_client().pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(live.done_channel(request_id))
        inv = Invocation.submit(
            fn, event, invocation_type="RequestResponse", source=source, request_id=request_id
        )
        deadline = time.monotonic() + fn.timeout_s + GRACE_S
        while time.monotonic() < deadline:
            if pubsub.get_message(timeout=min(5.0, max(0.0, deadline - time.monotonic()))):
                break
            # A missed message (Redis restarted) must not strand the caller.
            if Invocation.objects.filter(request_id=request_id, status__in=FINISHED).exists():
                break
    finally:
        pubsub.close()
    inv.refresh_from_db()
    return inv
