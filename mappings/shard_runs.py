"""One leased shard of a stream mapping, read and delivered in order: a
`ShardRun` (the reader: records after the checkpoint, routed to
ParallelizationFactor partitions; the checkpoint) and its `Partition`s
(one batch in flight each, delivered with mappings.stream_batches' rules
and mappings.failures' OnFailure record; tumbling windows). Driven by
mappings.stream_poller's Poller, which holds the shard's lease."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import redis
from asgiref.sync import sync_to_async

from functions import qualifiers
from invocations import qualified
from invocations.done import Done
from mappings import checkpoints, event_filter, failures
from mappings import stream_batches as batches
from mappings.models import EventSourceMapping
from mappings.sources import Record, Shard, StreamSource

log = logging.getLogger(__name__)

# Records read ahead per partition: a shard buffers at most this many
# batches per partition (its memory bound).
READ_AHEAD_BATCHES = 2


def db(func, *args):
    """Run blocking ORM work off the loop (one thread for all of it)."""
    return sync_to_async(func, thread_sensitive=True)(*args)


def now() -> datetime:
    return datetime.now(UTC)


async def wait_any(events: list[asyncio.Event], timeout: float | None) -> None:
    """Until one of `events` is set, or `timeout` seconds."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def settings_key(mapping: EventSourceMapping) -> tuple:
    """The settings a running shard cannot take on the fly."""
    return (mapping.parallelization_factor, str(mapping.filter_criteria), mapping.function_id)


def _filters(mapping: EventSourceMapping) -> event_filter.Filters | None:
    """The mapping's FilterCriteria, or None when it filters nothing."""
    return event_filter.parse(mapping.filter_criteria) or None


class ShardRun:
    """One leased shard of one mapping: a reader and its partitions.
    `poller`: the stream_poller.Poller holding the lease (its `invoke`,
    `leases`, `look_s`, `note()` and `ended()` are used)."""

    def __init__(self, poller, key: str, mapping: EventSourceMapping, shard: Shard,
                 source: StreamSource) -> None:
        self.poller = poller
        self.key = key
        self.mapping = mapping
        self.shard = shard
        self.source = source
        self.channel = source.wake_channel(mapping.event_source_arn)
        self.settings_key = settings_key(mapping)
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
            found = await db(checkpoints.start, self.mapping, self.shard, self.source)
            if found.finished:
                return
            start = None if found.sequence_number is None else int(found.sequence_number)
            self.checkpoint = self.read_pos = start
            tasks = [asyncio.ensure_future(p.main()) for p in self.partitions]
            # One failing ends the run (the finally cancels the others).
            await asyncio.gather(self.read(), *tasks)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the shard is taken again next round
            log.exception("shard %s of %s stopped", self.shard.shard_id, self.mapping.id)
            self.poller.note(self.mapping, "PROBLEM: Internal error", f"{type(e).__name__}: {e}")
        finally:
            for task in tasks:
                task.cancel()

    def pending(self) -> int:
        """Records read and not yet checkpointed past (filtered-out ones
        behind a record still in flight count too: the memory bound)."""
        return len(self.buffer)

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
                records = await db(
                    self.source.read, mapping.event_source_arn, self.shard.shard_id, self.read_pos, room
                )
                if records:
                    await self.route(records)
                    continue
                if closed and not self.buffer:
                    # "When the shard ends, Lambda considers the window closed."
                    for partition in self.partitions:
                        await partition.close_window()
                    if self.stopping:
                        return
                    await db(checkpoints.finish, mapping.id, self.shard)
                    self.stopping = True
                    self.halt.set()
                    return
            await wait_any([self.wake, self.halt], self.poller.look_s)

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
        await db(checkpoints.advance, self.mapping.id, self.shard, last)

    async def call(
        self, records: list[Record], extra: dict | None = None, *, record_miss: bool = True,
    ) -> Done:
        """One call with `records`. `record_miss`: store a never-ran
        invocation row when the mapping's version or alias is missing (the
        first blocked try of a batch does; its retries do not, so a shard
        blocked for days leaves one row per batch, not one per backoff)."""
        mapping = self.mapping
        target = mapping.function
        payload = batches.payload(records, extra, mapping.function.role or None)
        if mapping.qualifier:
            # The mapping's version or alias, resolved at each batch; a
            # missing one never runs $LATEST instead. The call could not be
            # made (Lambda: an error "before invocation"), so the batch is
            # retried until its records are too old, then its OnFailure
            # record says so (Done.executed_version "": not reached,
            # mappings.stream_batches.reached_function).
            try:
                target = await db(qualified.resolve, mapping.function, mapping.qualifier)
            except qualifiers.QualifierNotFound:
                row = None
                if record_miss:
                    try:
                        row = await db(partial(
                            qualified.record_not_run, mapping.function, mapping.qualifier, payload,
                            source=mapping.kind, trigger=mapping.trigger, priority=mapping.priority,
                        ))
                    except Exception:  # noqa: BLE001 - the batch is retried all the same
                        log.exception("never-ran row of a batch of %s not stored", mapping.id)
                return Done(
                    request_id=str(row.request_id) if row else "", status="failed", executed_version="",
                    error=qualified.not_found_error(mapping.function, mapping.qualifier),
                )
        try:
            return await self.poller.invoke(
                target, payload,
                source=mapping.kind,
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
            await db(failures.send, self.mapping, body)
        except Exception:  # noqa: BLE001 - Lambda discards the batch all the same
            log.exception("OnFailure record of %s not delivered", self.mapping.id)
        await self.done(piece.records)

    async def pause(self, seconds: float) -> None:
        await wait_any([self.halt], seconds)


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
        self.closing = asyncio.Lock()

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
                    await wait_any([self.arrived, run.halt], left)
                    continue
                await wait_any([self.arrived, run.halt], None)
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
                    await wait_any([self.arrived, run.halt], left)
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
            old = batches.too_old(piece.records, mapping.max_record_age_s, now())
            if old:
                # Only the old records go (their own failure record); the
                # fresh ones after them are delivered.
                await run.discard(replace(piece, records=piece.records[:old]), "RecordAgeExceeded")
                run.poller.note(mapping, "PROBLEM: Function call failed")
                handled += old
                piece.records = piece.records[old:]
                if not piece.records:
                    work.popleft()
                continue
            answer = await run.call(
                piece.records, self.window_event() if self.window else None, record_miss=not piece.blocked,
            )
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
                partial = piece.last_error is None
                if partial:
                    # The call succeeded (LastProcessingResult "OK", as
                    # Lambda's: "the result of the last invocation"); the
                    # reported items are retried, and the tab says which.
                    ids = batches.reported(answer.result)
                    shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
                    piece.last_error = {
                        "errorType": "BatchItemFailures",
                        "errorMessage": f"the function reported {len(ids)} of {len(piece.records)} "
                                        f"record(s) failed: {shown}; retrying from the lowest",
                    }
                    run.poller.note(mapping, "OK", f"{piece.last_error['errorType']}: "
                                                   f"{piece.last_error['errorMessage']}")
                if first > 0:
                    # Lambda checkpoints before the lowest failed record and
                    # retries from it ("bisected at the returned sequence number").
                    await run.done(piece.records[:first])
                    handled += first
                    piece.records = piece.records[first:]
            if not partial:
                error = piece.last_error or {}
                run.poller.note(
                    mapping, "PROBLEM: Function call failed",
                    f"{error.get('errorType', answer.status)}: {error.get('errorMessage', '')}".strip(),
                )
            if not batches.reached_function(answer.status, answer.error, answer.executed_version):
                # Throttled, not handed over or no such version or alias:
                # retried until the records are too old, without using the
                # retry quota.
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
        async with self.closing:  # the reader may close it too (the shard ended)
            while not run.stopping and self.window is not None:
                answer = await run.call([], self.window_event(final=True), record_miss=not tries)
                if answer.status == "succeeded":
                    self.window, self.state = None, {}
                    return
                tries += 1
                error = answer.error or {}
                run.poller.note(run.mapping, "PROBLEM: Function call failed",
                                f"{error.get('errorType', answer.status)}: {error.get('errorMessage', '')}")
                await run.pause(batches.backoff_s(min(tries, 6)))
