"""Reserved concurrency: at most N invocations of a function run at once,
across every web and worker process, counted in Redis.

Each function has a sorted set of holders (request ids) scored by the time
their slot expires. Taking a slot is one Lua script, so two processes can
never both take the last one: purge expired holders, then add ours if there
is room. A slot is given back when the row finishes; a holder whose process
died without giving it back expires (its function timeout plus a margin).

Sync calls take the slot in the web process before the row exists and are
refused (429) when the function is full. Async rows take it in the worker
just before claiming; when the function is full the task is put back with a
short countdown, and that wait is not an attempt. With a limit of 0 (Lambda's
"throttle everything") async rows stay queued without a task: the reconciler
looks at them again every STRATUS_REQUEUE_AFTER seconds, and they expire
(EventAgeExceeded) once older than the function's maximum event age."""

from __future__ import annotations

import redis
from django.conf import settings
from django.utils import timezone

from functions.models import Function
from invocations import live

# The most a function may reserve; Lambda's default account limit.
MAX_RESERVED = 1000
# Past the function timeout, how long a holder is kept if nobody releases it.
EXPIRY_MARGIN_S = 60.0
# How soon a waiting async row is tried again.
WAIT_COUNTDOWN_S = 1.0

FULL, TAKEN, ALREADY_HELD = 0, 1, 2

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expires = now + tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], expires, ARGV[1])
  return 2
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], expires, ARGV[1])
  redis.call('EXPIRE', KEYS[1], 86400)
  return 1
end
return 0
"""


class ReservedConcurrencyError(ValueError):
    """A reserved concurrency value that cannot be stored; says why."""


def redis_client() -> redis.Redis:
    return live.redis_client()


def _key(function_id) -> str:
    return f"{settings.STRATUS_INSTANCE}:concurrency:{function_id}"


def acquire(function_id, request_id, limit: int, ttl_s: float) -> int:
    """FULL, TAKEN, or ALREADY_HELD (the holder's expiry is renewed)."""
    global _acquire_script
    client = redis_client()
    if _acquire_script is None:
        # Made once: a Script hashes its source and then runs by EVALSHA.
        _acquire_script = client.register_script(_ACQUIRE)
    return int(
        _acquire_script(keys=[_key(function_id)], args=[str(request_id), limit, ttl_s], client=client)
    )


_acquire_script = None


def release(function_id, request_id) -> None:
    redis_client().zrem(_key(function_id), str(request_id))


def holders(function_id) -> int:
    """How many slots are held now (expired holders included until purged)."""
    return int(redis_client().zcard(_key(function_id)))


def clean_reserved(value) -> int | None:
    """A stored reserved concurrency from form or API input; blank is none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ReservedConcurrencyError(
            f"Reserved concurrency must be a whole number from 0 to {MAX_RESERVED}, got {value!r}; "
            "leave it blank for no limit."
        ) from None
    if not 0 <= number <= MAX_RESERVED:
        raise ReservedConcurrencyError(
            f"Reserved concurrency must be from 0 to {MAX_RESERVED}, got {number}."
        )
    return number


def set_reserved(fn: Function, value: int | None) -> None:
    fn.reserved_concurrency = value
    # No new revision: warm environments stay valid, only admission changes.
    # A save (not update()) so post_save reaches functions.lookup's copy.
    fn.save(update_fields=["reserved_concurrency"])


# Used by the callers -------------------------------------------------------


def take_for_sync(fn: Function, request_id, wait_s: float) -> bool:
    """The web process's slot for a sync call; False when the function is full."""
    if fn.reserved_concurrency is None:
        return True
    ttl = fn.timeout_s + wait_s + EXPIRY_MARGIN_S
    return acquire(fn.id, request_id, fn.reserved_concurrency, ttl) != FULL


class Admission:
    """The worker's slot for one run. `taken` is False when the slot was
    already held (the sync caller took it), so a duplicate task that loses
    the claim does not give away a slot it never took."""

    def __init__(self, fn: Function, request_id, taken: bool):
        self.fn = fn
        self.request_id = request_id
        self.taken = taken

    def abandon(self) -> None:
        if self.taken:
            release(self.fn.id, self.request_id)


def admit(fn: Function, request_id) -> Admission | None:
    """None when the function is full; the caller puts the task back."""
    if fn.reserved_concurrency is None:
        return Admission(fn, request_id, taken=False)
    state = acquire(fn.id, request_id, fn.reserved_concurrency, fn.timeout_s + EXPIRY_MARGIN_S)
    if state == FULL:
        return None
    return Admission(fn, request_id, taken=state == TAKEN)


def release_for(fn: Function, request_id) -> None:
    if fn.reserved_concurrency is not None:
        release(fn.id, request_id)


def wait_for_slot(inv) -> None:
    """Put a full function's async row back in line, without an attempt."""
    from invocations.models import Invocation, queue_task

    if inv.function.reserved_concurrency == 0:
        # Throttled entirely: no task loop; the reconciler re-queues the row
        # now and then, and it expires by its maximum event age.
        return
    # A fresh queued_at tells the reconciler this row's task is not lost.
    Invocation.objects.filter(request_id=inv.request_id, status="queued").update(
        queued_at=timezone.now()
    )
    queue_task(inv.request_id, inv.priority, countdown=WAIT_COUNTDOWN_S)
