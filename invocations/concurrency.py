"""Reserved concurrency: at most N invocations of a function run at once,
across every web and worker process, counted in Redis.

Each function has a sorted set of holders (request ids) scored by the time
their slot expires. Taking a slot is one Lua script, so two processes can
never both take the last one: purge expired holders, then add ours if there
is room. A slot is given back when the row finishes; a holder whose process
died without giving it back expires (its function timeout plus a margin).

Sync calls take the slot in the web process before the call is handed over
and are refused (429) when the function is full; the worker gives it back
with the answer. Async rows take it in the worker just before claiming;
when the function is full, admit() says how long to wait (the dispatcher
puts the task back), and that wait is not an attempt. With a limit of 0 (Lambda's
"throttle everything") async rows stay queued without a task: the reconciler
looks at them again every STRATUS_REQUEUE_AFTER seconds, and they expire
(EventAgeExceeded) once older than the function's maximum event age."""

from __future__ import annotations

from django.conf import settings

from functions.models import Function
from invocations import redis_link

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


def _key(function_id) -> str:
    return f"{settings.STRATUS_INSTANCE}:concurrency:{function_id}"


def acquire(function_id, request_id, limit: int, ttl_s: float) -> int:
    """FULL, TAKEN, or ALREADY_HELD (the holder's expiry is renewed)."""
    global _acquire_script
    client = redis_link.client()
    if _acquire_script is None:
        # Made once: a Script hashes its source and then runs by EVALSHA.
        _acquire_script = client.register_script(_ACQUIRE)
    return int(
        _acquire_script(keys=[_key(function_id)], args=[str(request_id), limit, ttl_s], client=client)
    )


_acquire_script = None


def release(function_id, request_id) -> None:
    redis_link.client().zrem(_key(function_id), str(request_id))


def holders(function_id) -> int:
    """How many slots are held now (expired holders included until purged)."""
    return int(redis_link.client().zcard(_key(function_id)))


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


def throttle_error(fn: Function) -> dict:
    """Lambda's refusal of a call over the function's reserved concurrency."""
    if fn.reserved_concurrency == 0:
        message = (
            f"Rate Exceeded: {fn.name} has a reserved concurrency of 0, so every call is "
            "throttled; raise it (Configuration tab, PutFunctionConcurrency) to run it."
        )
    else:
        message = (
            f"Rate Exceeded: {fn.name} already runs its reserved concurrency of "
            f"{fn.reserved_concurrency}; try again when one finishes."
        )
    return {"errorType": "TooManyRequestsException", "errorMessage": message}


async def take_async(client, fn: Function, request_id, ttl_s: float) -> bool:
    """The web's slot for a sync call (an asyncio Redis client); False when
    the function is full."""
    script = getattr(client, "acquire_script", None)
    if script is None:
        script = client.acquire_script = client.register_script(_ACQUIRE)
    state = await script(keys=[_key(fn.id)], args=[str(request_id), fn.reserved_concurrency, ttl_s])
    return int(state) != FULL


async def release_async(client, fn: Function, request_id) -> None:
    await client.zrem(_key(fn.id), str(request_id))


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


def admit(fn: Function, request_id) -> Admission | float:
    """An async row's slot, or the seconds to wait before trying again
    (the function is full; invocations.dispatch.wait_for_slot carries that
    out)."""
    if fn.reserved_concurrency is None:
        return Admission(fn, request_id, taken=False)
    state = acquire(fn.id, request_id, fn.reserved_concurrency, fn.timeout_s + EXPIRY_MARGIN_S)
    if state == FULL:
        return WAIT_COUNTDOWN_S
    return Admission(fn, request_id, taken=state == TAKEN)


def release_to(pipe, function_id, request_id) -> None:
    """Queue giving a slot back on a Redis pipeline."""
    pipe.zrem(_key(function_id), str(request_id))


def release_for(fn: Function, request_id) -> None:
    if fn.reserved_concurrency is not None:
        redis_link.quietly(lambda c: c.zrem(_key(fn.id), str(request_id)), "concurrency release")
