"""One way in: every request to run a function comes through here.

Callers: the Lambda API (Invoke), HTTP routes, webhooks, schedules, topics,
queues, the console, the CLI, destinations and redrive. Two kinds:

- Async (`submit_async`): Lambda's Event invocations. The row is stored
  `queued` first and its Celery task `invocations.run` is queued once the
  row is committed, so nothing accepted is lost when a process dies; the
  reconciler queues again a row whose task was lost. Retries, waits for a
  concurrency slot and expiry are decided by the policies
  (invocations.delivery, invocations.concurrency) and carried out here.
- Sync (`invoke_sync`): a caller waits. As in Lambda, nothing durable is
  kept before it runs: the call travels on the Redis *sync lane* to a
  worker (invocations.lane), the answer comes back as a done message
  (invocations.done) and the record is written after it, in batches
  (invocations.recorder). A call no worker took within
  STRATUS_SYNC_QUEUE_WAIT seconds is taken off the lane and recorded
  `cancelled`: it never runs after its caller was told it failed.

The lane is one Redis list per node and priority,
`<instance>:lane:<node>:<priority>`, plus `<instance>:lane:any:<priority>`;
the push goes to the list of a node that has an idle environment of the
function's revision, when several nodes are alive and one has, else to
`any`. Workers pop their node's list before `any`, high before low."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import redis
import redis.asyncio
from asgiref.sync import async_to_sync, sync_to_async
from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from functions import dependencies
from functions.models import Function
from invocations import call_marks, concurrency, done, fastsql, fragments, live, nodes, recorder
from invocations.done import Done
from invocations.models import FINISHED, Attempt, Invocation, cap_logs
from invocations.sync_request import SyncRequest
from metrics import live as metrics_live
from metrics import recording

log = logging.getLogger(__name__)

PRIORITIES = ("high", "normal", "low")
# Celery's Redis transport: a lower number is served first.
CELERY_PRIORITY = {"high": 0, "normal": 3, "low": 6}
# A worker that popped a sync call starts it within this (the sandbox's
# ready timeout) or fails it; the web waits this long past its queue wait.
START_BOUND_S = 30.0
# Past a started call's function timeout, how long the web still waits.
DONE_MARGIN_S = 5.0
# While waiting, how often a caller looks for its record after the done
# listener reconnected (a message may have been lost meanwhile).
RECHECK_S = 5.0
# How long a hand-over rides out an unreachable Redis before the caller is
# told the platform failed.
HANDOVER_RETRY_S = 5.0
WORKER_LOST = {
    "errorType": "Runtime.WorkerLost",
    "errorMessage": "The worker running this invocation stopped before it finished.",
    "stackTrace": [],
}


# A function that is not Active ------------------------------------------------

# Lambda runs no code of a function that is not Active: State "Pending"
# while its first dependency build runs (functions.dependencies), "Failed"
# when that build failed. How long a held async event waits before it is
# looked at again: HOLD_S while it is young, then a tenth of its age, at
# most HOLD_MAX_S (a Failed function may stay so for hours; its events'
# maximum event age still ends them).
HOLD_S = 5.0
HOLD_MAX_S = 60.0
NOT_READY_ERROR = "ResourceConflictException"
# A sync call refused this way never reached a worker: its Done has this
# status (a status the function itself cannot produce).
NOT_READY_STATUS = "cancelled"


def not_ready(fn: Function) -> dict | None:
    """The one rule for every way in: None when `fn` (as resolved: $LATEST
    or a published version's copy) may run now, else Lambda's error
    {errorType: ResourceConflictException, errorMessage} naming its State
    (a published version has its own: Pending while its build runs).
    What each caller does with it (Lambda's behaviour per source):
    - sync calls (`SyncCall.begin`: Invoke, HTTP routes, function URLs, the
      console, stream batches) are answered at once with a Done of status
      NOT_READY_STATUS and nothing is recorded; see `is_not_ready`;
    - async events (`submit_async`: Invoke Event, schedules, webhooks,
      S3/SNS/EventBridge, destinations, redrive) are accepted and stay
      queued: the runner holds them (`hold`) until the function is Active,
      or until their maximum event age;
    - event source mappings (SQS, Kinesis/DynamoDB streams) do not read
      their source while it is not ready, so no record is taken or lost."""
    message = dependencies.refuse_invoke(fn)
    if message is None:
        return None
    return {"errorType": NOT_READY_ERROR, "errorMessage": message}


def is_not_ready(done: Done) -> bool:
    """Whether a sync call's answer is `not_ready`'s refusal."""
    return done.status == NOT_READY_STATUS and (done.error or {}).get("errorType") == NOT_READY_ERROR


def hold(inv: Invocation, error: dict) -> None:
    """Keep a queued async row queued (not an attempt, not a throttle) and
    look at it again after `hold_s`: its function is not ready (`not_ready`)."""
    log.info("%s held: %s", inv.request_id, error["errorMessage"])
    now = timezone.now()
    Invocation.objects.filter(request_id=inv.request_id, status="queued").update(queued_at=now)
    queue(inv.request_id, inv.priority, countdown=hold_s((now - inv.created_at).total_seconds()))


def hold_s(age_s: float) -> float:
    """Seconds until a held event of `age_s` seconds is looked at again."""
    return min(max(HOLD_S, age_s / 10), HOLD_MAX_S)


# Async -----------------------------------------------------------------------


def submit_async(
    fn: Function, event: str, *, source: str, trigger: str = "", priority: str = "normal",
    origin: dict | None = None, request_id=None, client_context: str = "",
) -> Invocation:
    """Store an Event invocation `queued`; its task is queued once the row is
    committed (at once outside a transaction). `client_context`: Invoke's
    ClientContext, decoded (JSON text). `fn` resolved through an alias
    (functions.qualifiers) keeps the alias's name in Invocation.qualifier:
    its retries and destinations are the alias's
    (invocations.delivery.invoked_qualifier)."""
    inv = Invocation(
        request_id=request_id or uuid.uuid4(), function=fn, event=event, invocation_type="Event",
        # A version or alias (functions.qualifiers): the version it resolved to.
        function_version=fn.executed_version,
        # ...and what the caller named, for its invokedFunctionArn.
        qualifier=fn.qualifier or "", client_context=client_context,
        source=source, memory_size_mb=fn.memory_mb, priority=priority, trigger=trigger,
        origin=origin,
    )
    fastsql.insert(inv)
    transaction.on_commit(lambda: queue(inv.request_id, priority))
    return inv


def queue(request_id, priority: str = "normal", countdown: float | None = None) -> None:
    """Queue a stored row's task. A broker that is down does not fail the
    caller: the row is stored, and the reconciler queues it later."""
    try:
        # By name: the task module imports the runner, which imports this one.
        current_app.tasks["invocations.run"].apply_async(
            (str(request_id),), priority=CELERY_PRIORITY.get(priority, 3), countdown=countdown,
        )
    except Exception as e:  # noqa: BLE001 - kombu raises several kinds
        log.warning("could not queue %s (%r); the reconciler will", request_id, e)


def wait_for_slot(inv: Invocation, countdown: float) -> None:
    """Carry out concurrency's "wait": the row stays queued and is tried
    again after `countdown` (not an attempt). A limit of 0 gets no task: the
    reconciler looks again now and then, invocations.throttle_lift when the
    reservation is lifted, and the row expires by age. Each
    wait is a throttle in the metrics, as Lambda counts async throttles."""
    recording.record(recording.throttle_sample(inv.function, inv.function_version))
    if inv.function.reserved_concurrency == 0:
        return  # a reservation of 0 never admits
    # A fresh queued_at tells the reconciler this row's task is not lost.
    Invocation.objects.filter(request_id=inv.request_id, status="queued").update(
        queued_at=timezone.now()
    )
    queue(inv.request_id, inv.priority, countdown=countdown)


def retry(inv: Invocation, logs: str, wait_s: float, *, status: str, error: dict | None = None,
          duration_ms: float = 0.0, **_outcome) -> bool:
    """Carry out delivery's "retry": record the failed attempt, put the row
    back `queued` and queue its task after `wait_s`. False when the row was
    no longer this attempt's (the reconciler closed it meanwhile)."""
    now = timezone.now()
    note = (
        f"[Stratus] attempt {inv.attempts} ended {status}"
        f"{': ' + error.get('errorType', '') if error else ''}; retrying in {wait_s:.2f} s\n"
    )
    try:
        with transaction.atomic():
            changed = Invocation.objects.filter(
                request_id=inv.request_id, status="running", attempts=inv.attempts
            ).update(
                status="queued", queued_at=now + timedelta(seconds=wait_s), error=error,
                logs=cap_logs(inv.logs + logs + note), claimed_by="",
            )
            if changed != 1:
                # Closed by the reconciler, or deleted with its function.
                transaction.set_rollback(True)
                return False
            Attempt.objects.get_or_create(
                invocation=inv, number=inv.attempts, defaults=dict(
                    status=status, error=error, started_at=inv.started_at, finished_at=now,
                    duration_ms=round(duration_ms, 2),
                ),
            )
            request_id, priority = inv.request_id, inv.priority
            transaction.on_commit(lambda: queue(request_id, priority, countdown=wait_s))
    except IntegrityError:
        return False  # the function was deleted meanwhile
    inv.status = "queued"
    return True


def expire(inv: Invocation, error: dict) -> bool:
    """Carry out delivery's "expired": queued -> expired without running."""
    now = timezone.now()
    changed = Invocation.objects.filter(request_id=inv.request_id, status="queued").update(
        status="expired", finished_at=now, error=error
    )
    if changed != 1:
        return False
    inv.status, inv.finished_at, inv.error = "expired", now, error
    return True


# Sync ------------------------------------------------------------------------

# Takes the call's concurrency slot (concurrency.ACQUIRE_FUNCTION, ARGV[1..5])
# and, when it got one, pushes the call to a lane, appending the watched live
# groups to it: one round trip per sync call. KEYS: the slot's pool, the
# lane threads and the metrics' running sets (the lane names are built from
# ARGV[6], the instance). ARGV
# from 6: instance, revision, priority, message, then (group key, group name)
# pairs. Returns {state, limit, lane, suffix}: the lane and what was appended
# for a later LREM, empty when the pool was full (nothing pushed).
_ADMIT_PUSH = concurrency.ACQUIRE_FUNCTION + r"""
local admitted = acquire()
if admitted[1] == 0 then return {0, admitted[2], '', ''} end
local prefix, rev, prio, msg = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local suffix = ''
for i = 10, #ARGV, 2 do
  if redis.call('EXISTS', ARGV[i]) == 1 then suffix = suffix .. '\n' .. ARGV[i + 1] end
end
local lane = prefix .. ':lane:any:' .. prio
local now = tonumber(redis.call('TIME')[1])
local alive = redis.call('ZRANGEBYSCORE', prefix .. ':nodes', now - 30, '+inf')
if #alive > 1 then
  for _, node in ipairs(alive) do
    if redis.call('EXISTS', prefix .. ':idle:' .. node .. ':' .. rev) == 1 then
      lane = prefix .. ':lane:' .. node .. ':' .. prio
      break
    end
  end
end
redis.call('LPUSH', lane, msg .. suffix)
return {admitted[1], admitted[2], lane, suffix}
"""

_async_clients: dict = {}


def _redis() -> redis.asyncio.Redis:
    """The running loop's Redis client (the web's side of the lane)."""
    loop = asyncio.get_running_loop()
    found = _async_clients.get(loop)
    if found is None:
        for old in [lp for lp in _async_clients if lp.is_closed()]:
            del _async_clients[old]
        found = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2
        )
        found.admit_push_script = found.register_script(_ADMIT_PUSH)
        _async_clients[loop] = found
    return found


def lane_key(node: str, priority: str) -> str:
    return f"{settings.STRATUS_INSTANCE}:lane:{node}:{priority}"


class SyncCall:
    """One sync call between its hand-over and its answer."""

    def __init__(self, fn: Function, request: SyncRequest) -> None:
        self.fn = fn
        self.request = request
        self.lane = ""
        self.message = ""
        self.future: asyncio.Future | None = None
        self.listener: done.Listener | None = None

    @classmethod
    async def begin(
        cls, fn: Function, event: str, *, source: str, trigger: str = "",
        priority: str = "normal", request_id=None, client_context: str = "",
    ) -> SyncCall | Done:
        """Admit and hand over the call; a Done at once when it is refused
        (throttled), the function is not ready (`not_ready`: nothing is
        recorded, as Lambda's Invoke refused) or cannot be handed over
        (Redis unreachable)."""
        if (error := not_ready(fn)) is not None:
            return Done(request_id=str(request_id or uuid.uuid4()), status=NOT_READY_STATUS, error=error)
        now = time.time()
        request = SyncRequest(
            request_id=str(request_id or uuid.uuid4()), function_id=str(fn.id),
            revision=str(fn.revision), event=event, source=source, trigger=trigger,
            priority=priority if priority in PRIORITIES else "normal", created_at=now,
            expires_at=now + settings.STRATUS_SYNC_QUEUE_WAIT,
            # A version or alias (functions.qualifiers) runs as its version.
            version=fn.executed_version,
            qualifier=fn.qualifier or "", client_context=client_context,
        )
        call = cls(fn, request)
        client = _redis()
        try:
            # Every call takes a slot (its function's reservation or its
            # team's unreserved pool) and is refused at once over it: a call
            # waiting in the lane while its caller holds a lane thread is how
            # nested invokes used to stall every team.
            # The slot and the push are one script (one round trip); the
            # answer's listener is registered first, so it cannot be missed.
            ttl = fn.timeout_s + settings.STRATUS_SYNC_QUEUE_WAIT + START_BOUND_S
            terms = await _team_terms(fn)
            call.listener = done.listener()
            call.future = await call.listener.expect(request.request_id)
            throttled = await _riding_out_a_blip(lambda: call._push(client, ttl, terms))
            if throttled is not None:
                call._forget()
                return await call._refuse("throttled", throttled)
        except redis.RedisError as e:
            log.warning("sync call %s not handed over: %s", request.request_id, e)
            call._forget()
            return await call._refuse("failed", {
                "errorType": "ServiceUnavailable",
                "errorMessage": "Stratus could not hand the call to a worker (its Redis is "
                                "unreachable); try again.",
            })
        return call

    async def _push(self, client, ttl_s: float, team_terms) -> dict | None:
        """Take the call's slot and hand it to a lane, one Lua call: None
        when handed over, else the throttle error (nothing pushed, no slot
        held). `team_terms`: concurrency.terms(fn.team_id)."""
        pairs = []
        if live.on_redis():
            for group in live.invocation_groups(self.request.request_id, self.request.function_id):
                pairs += [live.group_key(group), group]
        # The worker gives the slot back with the answer (SyncRequest.slot).
        self.request.slot = True
        self.message = self.request.encode()
        admit = concurrency.acquire_call(self.fn, self.request.request_id, ttl_s, team_terms)
        call_marks.mark(self.request.request_id, "web.pushing")
        state, limit, lane, suffix = await client.admit_push_script(keys=admit["keys"], args=[
            *admit["args"], settings.STRATUS_INSTANCE, self.request.revision, self.request.priority,
            self.message, *pairs,
        ])
        if int(state) == concurrency.FULL:
            self.request.slot = False
            return concurrency.throttle_error(self.fn, int(limit))
        self.lane, self.message = lane.decode(), self.message + suffix.decode()
        return None

    async def wait(self) -> Done:
        """The answer: the worker's Done, or `cancelled` when no worker took
        the call in time, or `failed` (Runtime.WorkerLost) when the worker
        that took it stopped."""
        try:
            answer = await self._wait_for(settings.STRATUS_SYNC_QUEUE_WAIT)
            if answer is not None:
                return answer
            try:
                removed = await _redis().lrem(self.lane, 1, self.message)
            except redis.RedisError:
                removed = 0  # unknown: a worker may have it; wait for it
            if removed:
                return await self._refuse("cancelled", {
                    "errorType": "Stratus.QueueTimeout",
                    "errorMessage": (
                        f"No worker took the call within {settings.STRATUS_SYNC_QUEUE_WAIT:g} s; "
                        "it was cancelled and will not run. Are the workers running or all busy?"
                    ),
                })
            answer = await self._wait_for(START_BOUND_S + self.fn.timeout_s + DONE_MARGIN_S)
            if answer is not None:
                return answer
            return await self._refuse("failed", WORKER_LOST)
        finally:
            self._forget()

    async def _wait_for(self, seconds: float) -> Done | None:
        deadline = time.monotonic() + seconds
        epoch = self.listener.epoch
        while (remaining := deadline - time.monotonic()) > 0:
            # asyncio.wait takes the bare future: no task per wait.
            await asyncio.wait((self.future,), timeout=min(RECHECK_S, remaining))
            if self.future.done():
                return self.future.result()
            if self.listener.epoch != epoch:
                # The listener reconnected: our message may be lost; the
                # record is written soon after the answer.
                row = await sync_to_async(_finished_row)(self.request.request_id)
                if row is not None:
                    return Done.of(row)
            if await self._worker_gone():
                return await self._refuse("failed", WORKER_LOST)
        return None

    async def _worker_gone(self) -> bool:
        """Whether the worker that took this call stopped beating (killed,
        out of memory): then no answer will come. A few Redis reads, made
        only for calls still unanswered after RECHECK_S."""
        try:
            client = _redis()
            worker = await client.get(nodes.running_key(self.request.request_id))
            if worker is None:
                return False
            beat = await client.hget(nodes.workers_key(), worker)
        except redis.RedisError:
            return False
        return beat is None or time.time() - float(beat) > settings.STRATUS_WORKER_LOST_AFTER

    def _forget(self) -> None:
        if self.listener is not None:
            self.listener.forget(self.request.request_id)

    async def _refuse(self, status: str, error: dict) -> Done:
        """Answer without a run, and put that on the record."""
        if self.request.slot:
            try:
                await concurrency.release_async(_redis(), self.fn, self.request.request_id)
            except redis.RedisError:
                pass  # the slot expires on its own
        inv = record_of(self.fn, self.request)
        inv.function = self.fn
        inv.status, inv.error, inv.finished_at = status, error, timezone.now()
        # A throttle counts as one; a lost worker's call ran and failed; a
        # call that never reached a worker counts nothing (metrics.recording).
        sample = None
        if status == "throttled" or error is WORKER_LOST:
            sample = recording.sample_of(inv)
        ticks = metrics_live.tick_groups(sample) if sample is not None and live.on_redis() else []
        try:
            pipe = _redis().pipeline(transaction=False)
            pipe.xadd(recorder.stream_key(), {"r": recorder.encode(inv)})
            recording.add(pipe, sample)
            for group in ticks:
                pipe.exists(live.group_key(group))
            replies = await pipe.execute(raise_on_error=False)
            if isinstance(replies[0], Exception):
                raise replies[0]
            asked = replies[len(replies) - len(ticks):]
            watched = [g for g, there in zip(ticks, asked, strict=True) if there]
            await _show_refused(inv)
        except redis.RedisError:
            await sync_to_async(recorder.store_now)(inv)
            watched = []
        if sample is not None and (watched or not live.on_redis()):
            live.send(watched or metrics_live.tick_groups(sample), metrics_live.tick_fragment(sample))
        return Done(request_id=self.request.request_id, status=status, error=error)


async def _show_refused(inv: Invocation) -> None:
    """A refused call (throttled...) is on the record, final at once: its
    function's open pages show its row too (invocations.fragments)."""
    groups = live.invocation_groups(inv.request_id, inv.function_id)
    if live.on_redis():
        client = _redis()
        groups = [g for g in groups if await client.exists(live.group_key(g))]
    if groups:
        live.send(groups, fragments.finished(inv))


async def _team_terms(fn: Function) -> tuple[int | None, int]:
    """concurrency.terms of the function's team; a thread only on a miss
    (every TERMS_TTL_S per team and process, or after a change)."""
    if fn.reserved_concurrency is not None:
        return None, 0  # a reservation is its own pool
    found = concurrency.cached_terms(fn.team_id)
    return found if found is not None else await sync_to_async(concurrency.terms)(fn.team_id)


async def _riding_out_a_blip(call, give_up_s: float = HANDOVER_RETRY_S):
    """await call(), tried again while Redis is unreachable (a restart
    takes a moment), for at most `give_up_s`; then its RedisError."""
    deadline = time.monotonic() + give_up_s
    wait = 0.05
    while True:
        try:
            return await call()
        except redis.ConnectionError:
            if time.monotonic() + wait > deadline:
                raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, 1.0)


def record_of(fn: Function, request: SyncRequest) -> Invocation:
    """The (unsaved) row of a sync call, as its record will hold it."""
    created = datetime.fromtimestamp(request.created_at, tz=UTC)
    values = {
        **_RECORD_DEFAULTS,
        "request_id": uuid.UUID(request.request_id), "function_id": uuid.UUID(request.function_id),
        "function_version": request.version, "source": request.source, "event": request.event,
        "created_at": created, "queued_at": created, "memory_size_mb": fn.memory_mb,
        "priority": request.priority, "trigger": request.trigger,
        "qualifier": request.qualifier, "client_context": request.client_context,
    }
    # Positionally, as rows read from the database are built: a third of
    # the cost of keyword arguments, on every warm call.
    inv = Invocation.from_db(None, _RECORD_FIELDS, [values[name] for name in _RECORD_FIELDS])
    inv._state.adding, inv._state.db = True, None
    return inv


_RECORD_FIELDS = [f.attname for f in Invocation._meta.concrete_fields]
_RECORD_DEFAULTS = {
    "status": "running", "invocation_type": "RequestResponse", "result": None, "error": None,
    "logs": "", "started_at": None, "finished_at": None, "duration_ms": None,
    "billed_duration_ms": None, "init_duration_ms": None, "max_memory_used_mb": None,
    "cold_start": False, "attempts": 0, "origin": None, "node": "", "claimed_by": "",
}


def _finished_row(request_id) -> Invocation | None:
    return Invocation.objects.filter(request_id=request_id, status__in=FINISHED).first()


async def invoke_sync(
    fn: Function, event: str, *, source: str, trigger: str = "", priority: str = "normal",
    request_id=None, client_context: str = "",
) -> Done:
    """Run a sync (RequestResponse) invocation and return its answer.
    `client_context`: Invoke's ClientContext, decoded (JSON text)."""
    call = await SyncCall.begin(
        fn, event, source=source, trigger=trigger, priority=priority, request_id=request_id,
        client_context=client_context,
    )
    return call if isinstance(call, Done) else await call.wait()


def invoke_sync_blocking(fn: Function, event: str, **kwargs) -> Done:
    """invoke_sync for blocking callers (the CLI, sync views)."""
    return async_to_sync(invoke_sync)(fn, event, **kwargs)


_background: set[asyncio.Task] = set()


def keep_until_done(task: asyncio.Task) -> None:
    """Keep a wait going after its caller stopped waiting (the task would
    otherwise be garbage), so the call is still cancelled or recorded."""
    _background.add(task)
    task.add_done_callback(_background.discard)


def start_sync(fn: Function, event: str, *, source: str, **kwargs) -> Done | str:
    """Hand a sync call over and return at once (the console: the page
    watches it live): its request id, or the Done of a refusal. The wait
    goes on as a task on the web's event loop, which cancels the call if no
    worker takes it in time."""

    async def begin():
        call = await SyncCall.begin(fn, event, source=source, **kwargs)
        if isinstance(call, Done):
            return call
        keep_until_done(asyncio.get_running_loop().create_task(call.wait()))
        return call.request.request_id

    return async_to_sync(begin)()
