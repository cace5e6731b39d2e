"""Stream pollers: Kinesis and DynamoDB stream mappings read into their
functions, in order per shard, by every worker process at once.

Every worker process that runs invocations runs one `Poller` on an event
loop thread of its own (`start()`, from console/celery.py's worker_ready).
Each second (and at once when a stream is written: mappings.wakeups) it:

1. beats (leases.Leases.beat) and lists the enabled stream mappings and the
   shards each should read now: a shard is read after its parents (and
   every other shard it must follow, Shard.must_follow) finished
   (ShardCheckpoint.finished), as Lambda finishes a parent first;
2. renews its shard leases (a task of its own, three times per lease
   life); a lease it lost (its key expired while this process stalled,
   another took it) stops that shard at once;
3. keeps its fair share, ceil(shards / live pollers): it gives back its
   extra shards (after their batch in flight) and takes free ones up to
   its share, so shards spread over the workers and a dead worker's
   shards move once its leases expire.

Each leased shard is a `ShardRun`: a reader task reads records after the
checkpoint into ParallelizationFactor partitions (by partition key or item
keys); each partition delivers one batch at a time, in order
(`invoke_sync`, source "kinesis"/"dynamodb", trigger `mapping.trigger`)
with the rules of mappings.stream_batches (ReportBatchItemFailures,
retries, bisecting, record age; mappings.failures for OnFailure). The
checkpoint is the last sequence number below which every record is done
(delivered, filtered out by FilterCriteria, or discarded), written after
the calls ended: a worker killed mid-batch loses nothing, and the next
holder of the shard delivers that batch again (at-least-once, in order)."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from invocations import dispatch, nodes
from invocations.done import Done
from mappings import checkpoints, sources
from mappings.leases import Leases, lease_key
from mappings.shard_runs import ShardRun, db, settings_key, wait_any
from mappings.models import EventSourceMapping
from mappings.sources import Shard, StreamSource

log = logging.getLogger(__name__)

STREAM_KINDS = ("kinesis", "dynamodb")
# How often a poller looks for new mappings and shards, and each shard for
# records, without a wake (Lambda polls a shard about once a second).
LOOK_INTERVAL_S = 1.0
# On a clean stop, how long batches in flight may take to end before their
# leases are given back anyway (their records are then delivered again).
STOP_GRACE_S = 5.0

Invoke = Callable[..., Awaitable[Done]]


async def _invoke(fn, event: str, *, source: str, trigger: str, priority: str) -> Done:
    return await dispatch.invoke_sync(fn, event, source=source, trigger=trigger, priority=priority)


class Poller:
    """One process's stream poller. `holder`: its lease owner id (default
    the worker id); `invoke`: how a batch is delivered (default
    dispatch.invoke_sync; tests pass their own); `ttl_s`: lease time to live;
    `look_s`: how often it looks without a wake."""

    def __init__(
        self, holder: str | None = None, *, invoke: Invoke | None = None,
        ttl_s: float | None = None, look_s: float = LOOK_INTERVAL_S,
    ) -> None:
        self.holder = holder or nodes.worker_id()
        self.invoke = invoke or _invoke
        self.ttl_ms = int((ttl_s or settings.STRATUS_SHARD_LEASE_S) * 1000)
        self.look_s = look_s
        self.runs: dict[str, ShardRun] = {}
        self.stopping = False
        self.client: redis.asyncio.Redis | None = None
        self.leases: Leases | None = None
        self.renewed_at = time.monotonic()
        # mapping id -> [LastProcessingResult, last error, last fired] not yet stored.
        self.results: dict[str, list] = {}
        self._tasks: list[asyncio.Task] = []
        self._stopped = asyncio.Event()

    # The loop --------------------------------------------------------------

    async def serve(self) -> None:
        """Run until `close()`."""
        # A Redis call that hangs must not outlast a lease.
        timeout = max(0.5, self.ttl_ms / 1000.0 / 4)
        self.client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.leases = Leases(self.client, self.holder, self.ttl_ms)
        self._tasks = [asyncio.ensure_future(self._listen()), asyncio.ensure_future(self._keep_leases())]
        try:
            while not self.stopping:
                try:
                    await self.tick()
                except redis.RedisError as e:
                    log.warning("stream poller %s: Redis unreachable (%s)", self.holder, e)
                except Exception:  # noqa: BLE001 - the next round tries again
                    log.exception("stream poller %s: a round failed", self.holder)
                await wait_any([self._stopped], self.look_s)
        finally:
            await self._wind_down()

    async def close(self) -> None:
        """A clean stop: batches in flight may end (up to STOP_GRACE_S), then
        every lease is given back so other workers take the shards at once."""
        self.stopping = True
        self._stopped.set()

    def crash(self) -> None:
        """Stop at once without giving anything back, as a killed process
        would (tests): the leases expire on their own."""
        self.stopping = True
        for run in self.runs.values():
            run.abandon()
        for task in self._tasks:
            task.cancel()
        self.leases = None

    async def _wind_down(self) -> None:
        held = list(self.runs)
        for run in list(self.runs.values()):
            run.stop()
        pending = [run.task for run in self.runs.values() if run.task]
        if pending:
            await asyncio.wait(pending, timeout=STOP_GRACE_S)
        for run in list(self.runs.values()):
            run.abandon()
        for task in self._tasks:
            task.cancel()
        try:
            await self._store_results()
        except Exception:  # noqa: BLE001 - best effort on the way out
            log.exception("stream poller %s: results not stored", self.holder)
        if self.leases is not None:
            try:
                for key in held:
                    await self.leases.release(key)
                await self.leases.leave()
            except redis.RedisError:
                pass  # they expire on their own
        self.runs.clear()
        if self.client is not None:
            await self.client.aclose()

    def _check_lease_age(self) -> None:
        """Unable to renew for most of a lease's life: another worker may
        take our shards any moment, so stop them before it does."""
        if time.monotonic() - self.renewed_at > self.ttl_ms / 1000.0 * 0.8:
            for run in list(self.runs.values()):
                run.abandon()

    async def _keep_leases(self) -> None:
        """Renew the leases three times per lease life, apart from the
        rounds (a slow database must not let them expire); a lease found
        lost stops its shard at once."""
        while not self.stopping:
            try:
                keys = list(self.runs)
                held = await self.leases.renew(keys)
                self.renewed_at = time.monotonic()
                for key in keys:
                    run = self.runs.get(key)
                    if key not in held and run is not None:
                        log.warning("stream poller %s lost the lease of %s", self.holder, key)
                        run.abandon()
            except redis.RedisError:
                self._check_lease_age()
            await asyncio.sleep(self.ttl_ms / 1000.0 / 3)

    async def tick(self) -> None:
        """One round: beat, survey, rebalance (the module's steps 1 and 3;
        `_keep_leases` does step 2)."""
        live = await self.leases.beat()
        wanted = await db(survey)
        for key, run in list(self.runs.items()):
            if run.abandoned:
                continue
            if key not in wanted:
                run.stop()  # disabled, deleted, or finished elsewhere
            else:
                mapping, shard, _source = wanted[key]
                if run.settings_key != settings_key(mapping):
                    run.stop()  # started again with the new settings next round
                elif run.shard.generation != shard.generation:
                    run.stop()  # the stream was deleted and created again
                else:
                    run.mapping, run.shard = mapping, shard
        share = math.ceil(len(wanted) / live) if wanted else 0
        active = [k for k, r in self.runs.items() if not r.stopping]
        for key in active[share:]:
            self.runs[key].stop()  # another worker takes it after its batch
        free = [k for k in wanted if k not in self.runs]
        random.shuffle(free)
        count = min(len(active), share)
        for key in free:
            if count >= share or self.stopping:
                break
            if await self.leases.take(key):
                mapping, shard, source = wanted[key]
                run = ShardRun(self, key, mapping, shard, source)
                self.runs[key] = run
                run.start()
                count += 1
        await self._store_results()

    def ended(self, run: ShardRun) -> None:
        """A shard run ended (stopped, finished, failed): give its lease back."""
        if self.runs.get(run.key) is run:
            del self.runs[run.key]
        if self.leases is not None and not run.abandoned:
            task = asyncio.ensure_future(self._release(run.key))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    async def _release(self, key: str) -> None:
        try:
            await self.leases.release(key)
        except redis.RedisError:
            pass  # it expires on its own

    # Wakes -----------------------------------------------------------------

    async def _listen(self) -> None:
        """Subscribe to the wake channel of every leased stream and wake its
        shards' readers; re-subscribes after a Redis outage."""
        control = f"{settings.STRATUS_INSTANCE}:stream-pollers:{self.holder}"
        while not self.stopping:
            pubsub = self.client.pubsub()
            subscribed: set[str] = set()
            try:
                await pubsub.subscribe(control)
                while not self.stopping:
                    want = {run.channel for run in self.runs.values()}
                    if want - subscribed:
                        await pubsub.subscribe(*(want - subscribed))
                    if subscribed - want:
                        await pubsub.unsubscribe(*(subscribed - want))
                    subscribed = want
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
                    if message and message.get("type") == "message":
                        channel = message["channel"].decode()
                        for run in list(self.runs.values()):
                            if run.channel == channel:
                                run.wake.set()
            except redis.RedisError:
                await asyncio.sleep(1.0)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001 - the connection may be gone
                    pass

    # What the Triggers tab shows ------------------------------------------

    def note(self, mapping: EventSourceMapping, result: str, error: str | None = None) -> None:
        """Remember a batch's outcome; stored once per round, not per batch."""
        entry = self.results.setdefault(str(mapping.id), [result, None, None])
        entry[0] = result
        if error is not None:
            entry[1] = error
        entry[2] = timezone.now()

    async def _store_results(self) -> None:
        if not self.results:
            return
        pending, self.results = self.results, {}
        await db(store_results, pending)


def survey() -> dict[str, tuple[EventSourceMapping, Shard, StreamSource]]:
    """{lease key: (mapping, shard, source)} of every shard that should be
    read now: enabled stream mappings whose function is ready
    (invocations.dispatch.not_ready), unfinished shards whose parent is
    finished (or gone)."""
    close_old_connections()
    mappings = list(
        EventSourceMapping.objects.filter(enabled=True, kind__in=STREAM_KINDS)
        .exclude(state__in=("Disabled", "Disabling", "Deleting"))
        .select_related("function__team")
    )
    done = checkpoints.finished(m.id for m in mappings)
    wanted = {}
    # Each stream's shards are read once a round, however many mappings
    # read it (None: unreadable this round).
    listed: dict[tuple[str, str], list[Shard] | None] = {}
    for mapping in mappings:
        if dispatch.not_ready(mapping.function) is not None:
            # Lambda: a mapping waits while its function is Pending; its
            # shards stay unread (and a run reading one stops after its
            # batch) and the checkpoint keeps every record.
            continue
        source = sources.of_kind(mapping.kind)
        if source is None:
            continue
        stream = (mapping.kind, mapping.event_source_arn)
        if stream not in listed:
            try:
                listed[stream] = source.shards(mapping.event_source_arn)
            except Exception as e:  # noqa: BLE001 - one broken source must not stop the others
                log.warning("shards of %s unreadable: %s", mapping.event_source_arn, e)
                listed[stream] = None
        shards = listed[stream]
        if shards is None:
            continue
        if not shards:
            _note_if_gone(mapping, source)
            continue
        present = {s.shard_id for s in shards}
        for shard in shards:
            if (str(mapping.id), shard.shard_id, shard.generation) in done:
                continue
            if any(p in present and (str(mapping.id), p, shard.generation) not in done
                   for p in shard.must_follow()):
                continue
            wanted[lease_key(mapping.id, shard.shard_id)] = (mapping, shard, source)
    return wanted


def gone(arn: str) -> str:
    """LastProcessingResult of a mapping whose stream was deleted."""
    return f"PROBLEM: The event source {arn} does not exist."


def _note_if_gone(mapping: EventSourceMapping, source: StreamSource) -> None:
    """Lambda keeps a mapping whose stream was deleted and says so in
    LastProcessingResult; written once, not every round."""
    arn = mapping.event_source_arn
    if mapping.last_processing_result == gone(arn) or source.exists(mapping.function.team, arn):
        return
    EventSourceMapping.objects.filter(pk=mapping.pk).update(last_processing_result=gone(arn))


def store_results(results: dict[str, list]) -> None:
    for mapping_id, (result, error, fired_at) in results.items():
        values = {"last_processing_result": result, "last_fired_at": fired_at}
        if error is not None:
            values["last_error"] = error
        EventSourceMapping.objects.filter(pk=mapping_id).update(**values)


# The worker's poller thread ---------------------------------------------------

_lock = threading.Lock()
_running: dict = {}


def start() -> None:
    """Run this process's poller on a thread of its own (once per process)."""
    with _lock:
        if _running:
            return
        loop = asyncio.new_event_loop()
        poller = Poller()
        thread = threading.Thread(target=_serve, args=(loop, poller), name="stream-pollers", daemon=True)
        _running.update(loop=loop, poller=poller, thread=thread)
        thread.start()


def _serve(loop: asyncio.AbstractEventLoop, poller: Poller) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(poller.serve())
    except Exception:  # noqa: BLE001 - logged; the worker goes on without pollers
        log.exception("the stream poller stopped")


def stop(timeout_s: float = STOP_GRACE_S + 2) -> None:
    """Give the leases back and stop (the worker is shutting down)."""
    with _lock:
        running = dict(_running)
    if not running:
        return
    loop, poller, thread = running["loop"], running["poller"], running["thread"]
    try:
        asyncio.run_coroutine_threadsafe(poller.close(), loop)
    except RuntimeError:
        return  # the loop is already closed
    thread.join(timeout_s)
