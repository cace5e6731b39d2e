"""Concurrency: how many invocations may run at once, counted in Redis
across every web and worker process, as Lambda counts them.

- A function with reserved concurrency N runs at most N at once, and the
  N are its own.
- Every team is an account with a concurrency limit (Lambda's
  ConcurrentExecutions, `team_limit`). Functions without a reservation share
  what the reservations leave of it (UnreservedConcurrentExecutions). The
  limit defaults to a share of the lane threads alive, so one team can never
  take every worker: a chain of nested synchronous invokes is throttled at the
  team's limit and unwinds, where it used to hold every lane thread while its
  innermost call waited for one, and stalled every team's calls.

Each pool (a function's reservation, a team's unreserved pool) is a sorted
set of holders (request ids) scored by the time their slot expires. Taking
a slot is one Lua script, one Redis round trip on every call: purge expired
holders, then add ours if there is room. For a team whose limit is derived
from the installation, the same script counts the lane threads alive
(invocations.nodes.lanes_key). A slot is given back when the call ends,
however it ends (the worker's answer, the row's finish, crash recovery); a
holder whose process died without giving it back expires (its function
timeout plus a margin).

Sync calls take the slot in the web process before the call is handed over
and are refused at once (429 TooManyRequestsException) when the pool is
full; the worker gives it back with the answer. Async rows take it in the
worker just before claiming; when the pool is full, admit() says how long
to wait (the dispatcher puts the task back), and that wait is not an
attempt. With a reservation of 0 (Lambda's "throttle everything") async rows
stay queued without a task: the reconciler looks at them again every
STRATUS_REQUEUE_AFTER seconds, invocations.throttle_lift queues them as
soon as the reservation is raised or deleted, and they expire
(EventAgeExceeded) once older than the function's maximum event age.

The reservation is the function's, shared by $LATEST and every version and
alias: `fn` here may be a version's copy (functions.qualifiers.frozen),
which must carry the function's current reservation
(invocations.runner._version_for makes it over the row just read)."""

from __future__ import annotations

import math
import time

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_save
from django.dispatch import receiver

from functions import changes
from functions.models import Function, ProvisionedConcurrencyConfig, Team
from invocations import nodes, redis_link
from metrics import recording

# The most a function may reserve; Lambda's default account limit. Also the
# team limit while no lane thread is known (no worker has beaten yet).
MAX_RESERVED = 1000
# Past the function timeout, how long a holder is kept if nobody releases it.
EXPIRY_MARGIN_S = 60.0
# How soon a waiting async row is tried again.
WAIT_COUNTDOWN_S = 1.0
# Lambda keeps 100 of an account's 1000 unreserved: a tenth, at least one.
UNRESERVED_MINIMUM_SHARE = 0.1
# How long a process keeps a team's terms (its limit, its reservations'
# total) when no change news arrives.
TERMS_TTL_S = 10.0

FULL, TAKEN, ALREADY_HELD = 0, 1, 2

# KEYS: the pool's holders, the lane threads[, the running sets of
# metrics.recording.running_keys: function, team, installation]. ARGV:
# holder, limit ("auto": the installation's share, less ARGV[4] reserved),
# ttl (s), reserved, seconds a lane thread's beat stays fresh. acquire()
# returns {state, limit}; an admitted holder is also added to the running
# sets (what the metrics count as concurrent executions).
# A local function, so invocations.dispatch can run it and the lane push in
# one script (a sync call's one round trip).
ACQUIRE_FUNCTION = """
local function running(holder, expires)
  if KEYS[3] then
    for j = 3, 5 do
      redis.call('ZADD', KEYS[j], expires, holder)
      redis.call('EXPIRE', KEYS[j], 86400)
    end
  end
end
local function acquire()
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expires = now + tonumber(ARGV[3])
local limit = tonumber(ARGV[2])
if not limit then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
  local lanes = redis.call('ZCARD', KEYS[2])
  if lanes == 0 then
    limit = MAX_RESERVED
  else
    limit = math.max(1, lanes - math.max(1, math.floor(lanes / 4)))
  end
  limit = math.max(0, limit - tonumber(ARGV[4]))
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], expires, ARGV[1])
  running(ARGV[1], expires)
  return {2, limit}
end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], expires, ARGV[1])
  redis.call('EXPIRE', KEYS[1], 86400)
  running(ARGV[1], expires)
  return {1, limit}
end
return {0, limit}
end
""".replace("MAX_RESERVED", str(MAX_RESERVED))
_ACQUIRE = ACQUIRE_FUNCTION + "return acquire()\n"


def auto_limit(lanes: int) -> int:
    """The team limit derived from the installation: three quarters of its
    lane threads alive (`lanes`), at least one, and always at least one left
    for the other teams when there are two or more; MAX_RESERVED while no
    lane thread is known. The Lua script above computes the same."""
    if lanes == 0:
        return MAX_RESERVED
    return max(1, lanes - max(1, lanes // 4))


def unreserved_minimum(limit: int) -> int:
    """The unreserved concurrency a team always keeps: Lambda keeps 100 of
    its default 1000 (a tenth); scaled to the team's limit, at least 1."""
    return max(1, math.ceil(limit * UNRESERVED_MINIMUM_SHARE))


def lanes_alive() -> int:
    """The lane threads that beat within STRATUS_WORKER_LOST_AFTER (0 when
    Redis cannot be asked: none known)."""
    since = time.time() - settings.STRATUS_WORKER_LOST_AFTER
    return int(redis_link.quietly(
        lambda client: client.zcount(nodes.lanes_key(), since, "+inf"), "counting lane threads", 0
    ))


# A team's terms: (its own limit or None, the total its functions reserve) ----

_terms: dict[int, tuple[float, int | None, int]] = {}


def fixed_limit(own: int | None) -> int | None:
    """The team's limit when it is not derived from the installation: its
    own (Team.concurrency_limit), else STRATUS_TEAM_CONCURRENCY when set."""
    return own if own is not None else (settings.STRATUS_TEAM_CONCURRENCY or None)


def cached_terms(team_id) -> tuple[int | None, int] | None:
    hit = _terms.get(team_id)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1], hit[2]
    return None


def terms(team_id, fresh: bool = False) -> tuple[int | None, int]:
    """(the team's own limit or None, its functions' reservations' total):
    one query on a miss, kept TERMS_TTL_S or until a function or team changes.
    `fresh`: read (and keep) them even when kept, so a caller that refreshes
    more often than TERMS_TTL_S keeps them from ever expiring."""
    hit = None if fresh else cached_terms(team_id)
    if hit is not None:
        return hit
    row = Team.objects.filter(pk=team_id).annotate(
        reserved=Sum("functions__reserved_concurrency")
    ).values_list("concurrency_limit", "reserved").first()
    own, reserved = row if row is not None else (None, 0)
    _terms[team_id] = (time.monotonic() + TERMS_TTL_S, own, reserved or 0)
    return own, reserved or 0


@changes.on_change
def _dropped(what: str | None) -> None:
    if what in (None, "function", "team"):
        _terms.clear()


@receiver(post_save, sender=Team)
def _team_changed(sender, instance: Team, **kwargs) -> None:
    changes.announce("team")


def team_limit(team: Team) -> int:
    """Lambda's ConcurrentExecutions for the team: its own limit, else
    STRATUS_TEAM_CONCURRENCY, else auto_limit(lanes_alive())."""
    fixed = fixed_limit(team.concurrency_limit)
    return fixed if fixed is not None else auto_limit(lanes_alive())


def reserved_total(team: Team, excluding: Function | None = None) -> int:
    functions = Function.objects.filter(team=team)
    if excluding is not None:
        functions = functions.exclude(pk=excluding.pk)
    return functions.aggregate(total=Sum("reserved_concurrency"))["total"] or 0


class ReservedConcurrencyError(ValueError):
    """A reserved concurrency value that cannot be stored; says why."""


def _key(function_id) -> str:
    return f"{settings.STRATUS_INSTANCE}:concurrency:{function_id}"


def _team_key(team_id) -> str:
    """The holders of a team's unreserved pool."""
    return f"{settings.STRATUS_INSTANCE}:concurrency:team:{team_id}"


def pool_of(fn: Function, own: int | None, reserved: int) -> tuple[str, int | str, int]:
    """(holders key, limit or "auto", reserved total) of the pool a call of
    `fn` takes its slot from, given its team's terms."""
    if fn.reserved_concurrency is not None:
        return _key(fn.id), fn.reserved_concurrency, 0
    fixed = fixed_limit(own)
    limit = "auto" if fixed is None else max(0, fixed - reserved)
    return _team_key(fn.team_id), limit, reserved


def _args(key: str, limit, reserved: int, request_id, ttl_s: float, fn: Function | None = None) -> dict:
    """The script's keys and args; with `fn`, the call is counted running
    (metrics.recording.running_keys) when admitted."""
    return {
        "keys": [key, nodes.lanes_key(), *(recording.running_keys(fn.id, fn.team_id) if fn else ())],
        "args": [str(request_id), limit, ttl_s, reserved, settings.STRATUS_WORKER_LOST_AFTER],
    }


def acquire(function_id, request_id, limit: int, ttl_s: float) -> int:
    """A slot of a function's reservation: FULL, TAKEN, or ALREADY_HELD (the
    holder's expiry is renewed)."""
    return _acquire(_key(function_id), limit, 0, request_id, ttl_s)[0]


def _acquire(
    key: str, limit, reserved: int, request_id, ttl_s: float, fn: Function | None = None
) -> tuple[int, int]:
    """(state, the pool's limit): one round trip."""
    global _acquire_script
    client = redis_link.client()
    if _acquire_script is None:
        # Made once: a Script hashes its source and then runs by EVALSHA.
        _acquire_script = client.register_script(_ACQUIRE)
    state, size = _acquire_script(client=client, **_args(key, limit, reserved, request_id, ttl_s, fn))
    return int(state), int(size)


_acquire_script = None


def release(function_id, request_id) -> None:
    redis_link.client().zrem(_key(function_id), str(request_id))


def holders(function_id) -> int:
    """How many slots of a function's reservation are held now (expired
    holders included until purged)."""
    return int(redis_link.client().zcard(_key(function_id)))


def team_holders(team_id) -> int:
    """How many slots of a team's unreserved pool are held now."""
    return int(redis_link.client().zcard(_team_key(team_id)))


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


def check_reservation(limit: int, others: int, value: int) -> None:
    """Lambda's rule: reservations may not leave the account's unreserved
    concurrency below its minimum (unreserved_minimum(limit)).
    `others`: what the team's other functions reserve."""
    minimum = unreserved_minimum(limit)
    if limit - others - value < minimum:
        raise ReservedConcurrencyError(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{minimum}]. "
            f"(This team's concurrency limit is {limit} and its other functions reserve "
            f"{others}, so this one may reserve at most {max(0, limit - others - minimum)}.)"
        )


def provisioned_total(fn: Function) -> int:
    """The sum of the function's provisioned concurrency configurations
    (every version and alias: ProvisionedConcurrencyConfig.requested)."""
    return ProvisionedConcurrencyConfig.objects.filter(function_id=fn.pk).aggregate(
        n=Sum("requested"))["n"] or 0


def check_provisioned(fn: Function, value: int | None) -> None:
    """Lambda's rule: provisioned concurrency comes out of the function's
    reserved concurrency, so a reservation may not be less than the sum of
    its provisioned concurrency configurations (PutFunctionConcurrency is
    refused with InvalidParameterValueException; the developer guide's
    "Configuring provisioned concurrency"). None (no reservation) is
    always allowed."""
    if value is None:
        return
    provisioned = provisioned_total(fn)
    if value < provisioned:
        raise ReservedConcurrencyError(
            f"ReservedConcurrentExecutions {value} is less than the function's provisioned concurrency "
            f"of {provisioned} (the sum of its provisioned concurrency configurations): reserve at "
            "least that much, or lower or delete its provisioned concurrency first."
        )


def check_for(fn: Function, value: int | None, team: Team | None = None) -> None:
    """check_reservation for `fn` reserving `value` in its team now (less
    than it reserves already only gives back), and check_provisioned."""
    check_provisioned(fn, value)
    current = fn.reserved_concurrency
    if value is not None and (current is None or value > current):
        team = team or fn.team
        check_reservation(team_limit(team), reserved_total(team, excluding=fn), value)


def set_reserved(fn: Function, value: int | None) -> None:
    """Store a reservation (None: none); ReservedConcurrencyError when it
    breaks check_reservation, and then nothing is stored."""
    with transaction.atomic():
        if value is not None:
            # Locks the team row (PostgreSQL), so two reservations made at
            # once cannot both take the last of the unreserved pool.
            check_for(fn, value, Team.objects.select_for_update().get(pk=fn.team_id))
        fn.reserved_concurrency = value
        # No new revision: warm environments stay valid, only admission changes.
        # A save (not update()) so post_save reaches functions.lookup's copy.
        fn.save(update_fields=["reserved_concurrency"])


# Used by the callers -------------------------------------------------------


def throttle_error(fn: Function, limit: int | None = None) -> dict:
    """Lambda's refusal of a call over the function's reserved concurrency,
    or (no reservation) over its team's unreserved pool of `limit`. Reason as
    Lambda's TooManyRequestsException gives it."""
    if fn.reserved_concurrency is None:
        return {
            "errorType": "TooManyRequestsException", "Reason": "ConcurrentInvocationLimitExceeded",
            "errorMessage": (
                f"Rate Exceeded: {fn.name} has no reserved concurrency, and its account's "
                f"unreserved concurrency of {limit} is all in use; try again when a call finishes, "
                "or ask for a higher team concurrency limit."
            ),
        }
    if fn.reserved_concurrency == 0:
        # Nothing runs, so nothing will finish: waiting does not help.
        message = (
            f"Rate Exceeded: the reserved concurrency of {fn.name} is 0, so every call is "
            "throttled until it is raised (Configuration tab, or PutFunctionConcurrency; "
            "DeleteFunctionConcurrency removes the reservation)."
        )
    else:
        message = (
            f"Rate Exceeded: {fn.name} already runs its reserved concurrency of "
            f"{fn.reserved_concurrency}; try again when one finishes."
        )
    return {
        "errorType": "TooManyRequestsException",
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "errorMessage": message,
    }


def acquire_call(fn: Function, request_id, ttl_s: float, team_terms) -> dict:
    """keys/args of ACQUIRE_FUNCTION for a call of `fn` (its pool given its
    team's terms, `team_terms`: terms(fn.team_id)); the args come first, so
    a script that adds its own starts at ARGV[6]."""
    return _args(*pool_of(fn, *team_terms), request_id, ttl_s, fn)


async def release_async(client, fn: Function, request_id) -> None:
    pipe = client.pipeline(transaction=False)
    release_to(pipe, fn, request_id)
    await pipe.execute()


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
            release_for(self.fn, self.request_id)


def admit(fn: Function, request_id) -> Admission | float:
    """An async row's slot (its function's reservation, or its team's
    unreserved pool), or the seconds to wait before trying again (the pool
    is full; invocations.dispatch.wait_for_slot carries that out)."""
    key, limit, reserved = pool_of(fn, *terms(fn.team_id))
    try:
        state, _size = _acquire(key, limit, reserved, request_id, fn.timeout_s + EXPIRY_MARGIN_S, fn)
    except redis.RedisError as e:
        if fn.reserved_concurrency is not None:
            raise  # a reservation is a promise: the task is tried again
        # The team's pool is a guard, not a promise: Redis away for a moment
        # (the row came through it a moment ago) does not hold the row back.
        redis_link.outage.failed("team concurrency", e)
        return Admission(fn, request_id, taken=False)
    if state == FULL:
        return WAIT_COUNTDOWN_S
    return Admission(fn, request_id, taken=state == TAKEN)


def release_to(pipe, fn: Function, request_id) -> None:
    """Queue giving a call's slot back on a Redis pipeline. From both pools
    it may be in: the function's reservation may have been set or removed
    while the call ran. It stops counting as running (metrics)."""
    pipe.zrem(_key(fn.id), str(request_id))
    pipe.zrem(_team_key(fn.team_id), str(request_id))
    for key in recording.running_keys(fn.id, fn.team_id):
        pipe.zrem(key, str(request_id))


def release_for(fn: Function, request_id) -> None:
    """Give a call's slot back (one round trip); a Redis that is away only
    delays it: the holder expires."""

    def give_back(client):
        pipe = client.pipeline(transaction=False)
        release_to(pipe, fn, request_id)
        pipe.execute()

    redis_link.quietly(give_back, "concurrency release")
