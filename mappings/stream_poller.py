"""Stream pollers: Kinesis and DynamoDB stream mappings read into their
functions, in order per shard, by every worker process at once.

Every worker process that runs invocations runs one `Poller` on an event
loop thread of its own (`start()`, from console/celery.py's worker_ready).
Each second (and at once when a stream is written: mappings.wakeups) it:

1. beats (leases.Leases.beat) and lists the enabled stream mappings and the
   shards each should read now: a shard is read after its parent finished
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
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from invocations import dispatch, nodes
from invocations.done import Done
from mappings import checkpoints, event_filter, failures, sources
from mappings import stream_batches as batches
from mappings.leases import Leases, lease_key
from mappings.models import EventSourceMapping
from mappings.sources import Record, Shard, StreamSource

log = logging.getLogger(__name__)

STREAM_KINDS = ("kinesis", "dynamodb")
# How often a poller looks for new mappings and shards, and each shard for
# records, without a wake (Lambda polls a shard about once a second).
LOOK_INTERVAL_S = 1.0
# Records read ahead per partition: a shard buffers at most this many
# batches per partition (its memory bound).
READ_AHEAD_BATCHES = 2
# On a clean stop, how long batches in flight may take to end before their
# leases are given back anyway (their records are then delivered again).
STOP_GRACE_S = 5.0

Invoke = Callable[..., Awaitable[Done]]


async def _invoke(fn, event: str, *, source: str, trigger: str, priority: str) -> Done:
    return await dispatch.invoke_sync(fn, event, source=source, trigger=trigger, priority=priority)


def _db(func, *args):
    """Run blocking ORM work off the loop (one thread for all of it)."""
    return sync_to_async(func, thread_sensitive=True)(*args)


def _now() -> datetime:
    return datetime.now(UTC)


async def _wait_any(events: list[asyncio.Event], timeout: float | None) -> None:
    """Until one of `events` is set, or `timeout` seconds."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


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
                await _wait_any([self._stopped], self.look_s)
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
        wanted = await _db(survey)
        for key, run in list(self.runs.items()):
            if run.abandoned:
                continue
            if key not in wanted:
                run.stop()  # disabled, deleted, or finished elsewhere
            else:
                mapping, shard, _source = wanted[key]
                if run.settings_key != _settings_key(mapping):
                    run.stop()  # started again with the new settings next round
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
        await _db(store_results, pending)


def _settings_key(mapping: EventSourceMapping) -> tuple:
    """The settings a running shard cannot take on the fly."""
    return (mapping.parallelization_factor, str(mapping.filter_criteria), mapping.function_id)


def survey() -> dict[str, tuple[EventSourceMapping, Shard, StreamSource]]:
    """{lease key: (mapping, shard, source)} of every shard that should be
    read now: enabled stream mappings, unfinished shards whose parent is
    finished (or gone)."""
    close_old_connections()
    mappings = list(
        EventSourceMapping.objects.filter(enabled=True, kind__in=STREAM_KINDS)
        .exclude(state__in=("Disabled", "Disabling", "Deleting"))
        .select_related("function__team")
    )
    done = checkpoints.finished(m.id for m in mappings)
    wanted = {}
    for mapping in mappings:
        source = sources.of_kind(mapping.kind)
        if source is None:
            continue
        try:
            shards = source.shards(mapping.event_source_arn)
        except Exception as e:  # noqa: BLE001 - one broken source must not stop the others
            log.warning("shards of %s unreadable: %s", mapping.event_source_arn, e)
            continue
        present = {s.shard_id for s in shards}
        for shard in shards:
            if (str(mapping.id), shard.shard_id) in done:
                continue
            parents = (shard.parent_shard_id, shard.adjacent_parent_shard_id)
            if any(p and p in present and (str(mapping.id), p) not in done for p in parents):
                continue
            wanted[lease_key(mapping.id, shard.shard_id)] = (mapping, shard, source)
    return wanted


def store_results(results: dict[str, list]) -> None:
    for mapping_id, (result, error, fired_at) in results.items():
        values = {"last_processing_result": result, "last_fired_at": fired_at}
        if error is not None:
            values["last_error"] = error
        EventSourceMapping.objects.filter(pk=mapping_id).update(**values)


def _filters(mapping: EventSourceMapping) -> event_filter.Filters | None:
    """The mapping's FilterCriteria, or None when it filters nothing."""
    return event_filter.parse(mapping.filter_criteria) or None


class ShardRun:
    """One leased shard of one mapping: a reader and its partitions."""

    def __init__(self, poller: Poller, key: str, mapping: EventSourceMapping, shard: Shard,
                 source: StreamSource) -> None:
        self.poller = poller
        self.key = key
        self.mapping = mapping
        self.shard = shard
        self.source = source
        self.channel = source.wake_channel(mapping.event_source_arn)
        self.settings_key = _settings_key(mapping)
        factor = max(1, min(mapping.parallelization_factor or 1, 10))
        self.partitions = [Partition(self) for _ in range(factor)]
        # In read order: [sequence number, done]; the checkpoint is the last
        # done entry before the first not done.
        self.buffer: deque[list] = deque()
        self.entries: dict[int, list] = {}
        self.checkpoint: int | None = None
        self.read_pos: int | None = None
        self.wake = asyncio.Event()
        self.halt = asyncio.Event()
        self.stopping = False
        self.abandoned = False
        self.task: asyncio.Task | None = None
        self.filters = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.main())
        self.task.add_done_callback(lambda _t: self.poller.ended(self))

    def stop(self) -> None:
        """Stop after the batches in flight (their checkpoint is written)."""
        self.stopping = True
        self.halt.set()

    def abandon(self) -> None:
        """Stop at once, writing nothing more (the lease is no longer ours)."""
        self.stopping = self.abandoned = True
        self.halt.set()
        if self.task is not None:
            self.task.cancel()

    async def main(self) -> None:
        tasks: list[asyncio.Task] = []
        try:
            self.filters = _filters(self.mapping)
            found = await _db(checkpoints.start, self.mapping, self.shard, self.source)
            if found.finished:
                return
            start = None if found.sequence_number is None else int(found.sequence_number)
            self.checkpoint = self.read_pos = start
            tasks = [asyncio.ensure_future(p.main()) for p in self.partitions]
            await self.read()
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the shard is taken again next round
            log.exception("shard %s of %s stopped", self.shard.shard_id, self.mapping.id)
            self.poller.note(self.mapping, "PROBLEM: Internal error", f"{type(e).__name__}: {e}")
        finally:
            for task in tasks:
                task.cancel()

    def pending(self) -> int:
        return len(self.entries)

    async def read(self) -> None:
        """Read records after the read position into the partitions, until
        stopped or the closed shard is done."""
        mapping = self.mapping
        while not self.stopping:
            self.wake.clear()
            limit = max(1, mapping.batch_size) * len(self.partitions) * READ_AHEAD_BATCHES
            room = min(limit - self.pending(), 10_000)
            if room > 0:
                closed = self.shard.closed
                records = await _db(
                    self.source.read, mapping.event_source_arn, self.shard.shard_id, self.read_pos, room
                )
                if records:
                    await self.route(records)
                    continue
                if closed and not self.buffer:
                    await _db(checkpoints.finish, mapping.id, self.shard.shard_id)
                    self.stopping = True
                    self.halt.set()
                    return
            await _wait_any([self.wake, self.halt], self.poller.look_s)

    async def route(self, records: list[Record]) -> None:
        factor = len(self.partitions)
        now = time.monotonic()
        skipped = False
        for record in records:
            entry = [record.sequence_number, False]
            self.buffer.append(entry)
            if self.filters is not None and not self.filters.matches(self.mapping.kind, record.event):
                entry[1] = skipped = True  # filtered out: skipped, checkpointed past
                continue
            self.entries[record.sequence_number] = entry
            self.partitions[batches.partition(record, factor)].add(record, now)
        self.read_pos = records[-1].sequence_number
        if skipped:
            await self.advance()

    async def done(self, records: list[Record]) -> None:
        """These records are done (delivered or discarded): move the checkpoint."""
        for record in records:
            entry = self.entries.pop(record.sequence_number, None)
            if entry is not None:
                entry[1] = True
        await self.advance()
        self.wake.set()  # room to read more

    async def advance(self) -> None:
        last = None
        while self.buffer and self.buffer[0][1]:
            last = self.buffer.popleft()[0]
        if last is None or (self.checkpoint is not None and last <= self.checkpoint):
            return
        self.checkpoint = last
        try:
            if self.abandoned or not await self.poller.leases.holds(self.key):
                return  # the next holder starts from the stored checkpoint
        except redis.RedisError:
            return  # unknown: written with the next batch, or by the next holder
        await _db(checkpoints.advance, self.mapping.id, self.shard.shard_id, last)

    async def call(self, records: list[Record], extra: dict | None = None) -> Done:
        mapping = self.mapping
        try:
            return await self.poller.invoke(
                mapping.function, batches.payload(records, extra), source=mapping.kind,
                trigger=mapping.trigger, priority=mapping.priority,
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the platform failed, not the function
            log.warning("batch of %s not handed over: %s", mapping.id, e)
            return Done(request_id="", status="failed", error={
                "errorType": "ServiceUnavailable", "errorMessage": str(e),
            })

    async def discard(self, piece: batches.Piece, condition: str) -> None:
        """Give up on `piece`: its OnFailure record, then skip it."""
        body = failures.record(
            self.mapping, self.shard.shard_id, piece.records, condition=condition,
            invokes=piece.invokes, status=piece.last_status, error=piece.last_error,
            executed_version=piece.executed_version,
        )
        try:
            await _db(failures.send, self.mapping, body)
        except Exception:  # noqa: BLE001 - Lambda discards the batch all the same
            log.exception("OnFailure record of %s not delivered", self.mapping.id)
        await self.done(piece.records)

    async def pause(self, seconds: float) -> None:
        await _wait_any([self.halt], seconds)


class Partition:
    """One ParallelizationFactor partition of a shard: its records in order,
    one batch in flight."""

    def __init__(self, run: ShardRun) -> None:
        self.run = run
        self.queue: list[Record] = []
        self.seen: list[float] = []  # when each queued record was read (monotonic)
        self.arrived = asyncio.Event()
        # TumblingWindowInSeconds: the open window (epoch seconds) and the
        # state the function last returned for it.
        self.window: tuple[float, float] | None = None
        self.state: dict = {}

    def add(self, record: Record, seen: float) -> None:
        self.queue.append(record)
        self.seen.append(seen)
        self.arrived.set()

    async def main(self) -> None:
        run = self.run
        while not run.stopping:
            mapping = run.mapping
            size = max(1, mapping.batch_size)
            tumbling = mapping.tumbling_window_s
            if not self.queue:
                self.arrived.clear()
                if self.window is not None:
                    # The open tumbling window ends with its final invoke.
                    left = self.window[1] - time.time()
                    if left <= 0:
                        await self.close_window()
                        continue
                    await _wait_any([self.arrived, run.halt], left)
                    continue
                await _wait_any([self.arrived, run.halt], None)
                continue
            if tumbling:
                head = batches.window_of(self.queue[0], tumbling)
                if self.window is not None and self.window != head:
                    await self.close_window()
                    continue
                self.window = head
            window = mapping.batching_window_s
            if window and len(self.queue) < size:
                # MaximumBatchingWindowInSeconds: gather up to the window
                # (counted from the oldest record read), unless full.
                left = self.seen[0] + window - time.monotonic()
                if left > 0:
                    self.arrived.clear()
                    await _wait_any([self.arrived, run.halt], left)
                    continue
            batch = batches.take(self.queue, size)
            if tumbling:
                # A batch never spans two windows (a prefix of the queue:
                # what is delivered is cut from its head).
                same = [batches.window_of(r, tumbling) == self.window for r in batch]
                batch = batch[: same.index(False)] if False in same else batch
            handled = await self.deliver(batch)
            del self.queue[:handled]
            del self.seen[:handled]

    async def deliver(self, batch: list[Record]) -> int:
        """Deliver `batch` with Lambda's rules; how many of its records (from
        the head) are done. Fewer than all only when the run stops."""
        run = self.run
        work = deque([batches.Piece(batch)])
        handled = 0
        while work:
            if run.stopping:
                return handled
            mapping = run.mapping
            piece = work[0]
            if batches.too_old(piece.records, mapping.max_record_age_s, _now()):
                await run.discard(piece, "RecordAgeExceeded")
                run.poller.note(mapping, "PROBLEM: Function call failed")
                handled += len(piece.records)
                work.popleft()
                continue
            answer = await run.call(piece.records, self.window_event() if self.window else None)
            if self.window is not None and answer.status == "succeeded":
                answer = self.take_state(answer)
            piece.invokes += 1
            piece.last_status, piece.last_error = answer.status, answer.error
            piece.executed_version = answer.executed_version
            partial = False
            if answer.status == "succeeded":
                try:
                    first = (
                        batches.first_failed(answer.result, piece.records)
                        if "ReportBatchItemFailures" in (mapping.function_response_types or []) else None
                    )
                except batches.MalformedReport as e:
                    # The whole batch failed (bisected like a function error).
                    piece.last_error = {"errorType": "MalformedBatchItemFailures", "errorMessage": str(e)}
                    first = 0
                if first is None:
                    await run.done(piece.records)
                    run.poller.note(mapping, "OK")
                    handled += len(piece.records)
                    work.popleft()
                    continue
                if first > 0:
                    # Lambda checkpoints before the lowest failed record and
                    # retries from it ("bisected at the returned sequence number").
                    await run.done(piece.records[:first])
                    handled += first
                    piece.records = piece.records[first:]
                partial = piece.last_error is None
                piece.last_error = piece.last_error or {
                    "errorType": "BatchItemFailures",
                    "errorMessage": f"the function reported record {piece.records[0].sequence_number} failed",
                }
            error = piece.last_error or {}
            run.poller.note(
                mapping, "PROBLEM: Function call failed",
                f"{error.get('errorType', answer.status)}: {error.get('errorMessage', '')}".strip(),
            )
            if not batches.reached_function(answer.status, answer.error):
                # Throttled or not handed over: retried until the records are
                # too old, without using the retry quota.
                piece.invokes -= 1
                piece.blocked += 1
                await run.pause(batches.backoff_s(min(piece.blocked, 6)))
                continue
            if mapping.bisect_on_error and not partial and len(piece.records) > 1:
                work.popleft()
                work.extendleft(reversed(piece.halves()))
                continue
            if 0 <= mapping.max_retry_attempts <= piece.retries:
                await run.discard(piece, "RetryAttemptsExhausted")
                handled += len(piece.records)
                work.popleft()
                continue
            piece.retries += 1
            await run.pause(batches.backoff_s(piece.retries))
        return handled


    def window_event(self, final: bool = False) -> dict:
        """Lambda's tumbling-window fields, after `Records` in the event."""
        run = self.run
        start, end = self.window
        return {
            "window": {"start": batches.window_text(start), "end": batches.window_text(end)},
            "state": self.state, "shardId": run.shard.shard_id,
            "eventSourceARN": run.mapping.event_source_arn,
            "isFinalInvokeForWindow": final, "isWindowTerminatedEarly": False,
        }

    def take_state(self, answer: Done) -> Done:
        """Keep the `state` the function returned; a success without one is
        a failed call, as Lambda treats it."""
        found = batches.window_state(answer.result)
        if found is None:
            return Done(
                request_id=answer.request_id, status="failed", executed_version=answer.executed_version,
                error={
                    "errorType": "InvalidTumblingWindowResponse",
                    "errorMessage": 'With TumblingWindowInSeconds the function must return {"state": {...}}.',
                },
            )
        self.state = found
        return answer

    async def close_window(self) -> None:
        """The window's final invoke (no records, isFinalInvokeForWindow),
        retried until it succeeds: Lambda "suspends further processing
        until a successful invocation"."""
        run = self.run
        tries = 0
        while not run.stopping:
            answer = await run.call([], self.window_event(final=True))
            if answer.status == "succeeded":
                self.window, self.state = None, {}
                return
            tries += 1
            error = answer.error or {}
            run.poller.note(run.mapping, "PROBLEM: Function call failed",
                            f"{error.get('errorType', answer.status)}: {error.get('errorMessage', '')}")
            await run.pause(batches.backoff_s(min(tries, 6)))


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
