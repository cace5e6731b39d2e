"""An in-memory StreamSource (kind "kinesis"), a fake function and the
running of a poller for the stream poller's unit tests: the poller runs
for real (its leases on the tests' own redis-server, its checkpoints in
the test database), only the stream and the function call are stand-ins.
A module of poller tests imports the autouse fixtures `own_redis` and
`quick_backoff` from here."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import redis
from asgiref.sync import async_to_sync

from invocations.done import Done
from mappings import stream_batches, wakeups
from mappings import stream_poller as sp
from mappings.sources import Record, Shard

ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/orders"


@pytest.fixture(autouse=True)
def own_redis(settings, redis_url):
    settings.REDIS_URL = redis_url
    # Each test its own key space on the shared test Redis.
    settings.STRATUS_INSTANCE = f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(stream_batches, "backoff_s", lambda retry: 0.01)


class MemoryStream:
    """Shards with records; sequence numbers increase over the stream."""

    kind = "kinesis"

    def __init__(self, redis_url: str | None = None) -> None:
        self.deleted = False
        self.shard_list: list[Shard] = []
        self.records: dict[str, list[Record]] = {}
        self.seq = 1000
        self.redis = redis.Redis.from_url(redis_url) if redis_url else None

    # StreamSource
    def matches(self, arn: str) -> bool:
        return arn.startswith("arn:aws:kinesis:")

    def exists(self, team, arn: str) -> bool:
        return not self.deleted

    def delete(self) -> None:
        """The stream is deleted: no shards, no records."""
        self.deleted = True
        self.shard_list, self.records = [], {}

    def shards(self, arn: str) -> list[Shard]:
        return list(self.shard_list)

    def read(self, arn: str, shard_id: str, after: int | None, limit: int) -> list[Record]:
        found = [r for r in self.records.get(shard_id, []) if after is None or r.sequence_number > after]
        return found[:limit]

    def position(self, arn: str, shard_id: str, starting: str, at) -> int | None:
        kept = self.records.get(shard_id, [])
        if starting == "LATEST":
            return kept[-1].sequence_number if kept else None
        if starting == "AT_TIMESTAMP":
            before = [r.sequence_number for r in kept if r.arrival < at]
            return before[-1] if before else None
        return None

    def wake_channel(self, arn: str) -> str:
        return wakeups.channel(arn)

    # The test's side
    def add_shard(self, shard_id: str, parent: str | None = None, closed: bool = False) -> None:
        self.shard_list.append(Shard(shard_id, parent, closed))
        self.records.setdefault(shard_id, [])

    def close(self, shard_id: str) -> None:
        self.shard_list = [
            Shard(s.shard_id, s.parent_shard_id, True) if s.shard_id == shard_id else s
            for s in self.shard_list
        ]

    def put(self, shard_id: str, data: str, key: str = "k", arrival: datetime | None = None) -> Record:
        self.seq += 1
        arrival = arrival or datetime.now(UTC)
        record = Record(
            sequence_number=self.seq, arrival=arrival, size=len(data),
            event={
                "kinesis": {
                    "kinesisSchemaVersion": "1.0", "partitionKey": key, "sequenceNumber": f"{self.seq:056d}",
                    "data": base64.b64encode(data.encode()).decode(),
                    "approximateArrivalTimestamp": arrival.timestamp(),
                },
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": f"{shard_id}:{self.seq}", "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::000000000000:role/stratus-event-source-mapping",
                "awsRegion": "us-east-1", "eventSourceARN": ARN,
            },
        )
        self.records[shard_id].append(record)
        if self.redis is not None:
            self.redis.publish(wakeups.channel(ARN), b"")
        return record


def data_of(entry: dict) -> str:
    return base64.b64decode(entry["kinesis"]["data"]).decode()


class FakeFunction:
    """Stands in for dispatch.invoke_sync: records every call's event and
    answers with `behave(records) -> dict of Done fields` (default: success)."""

    def __init__(self, behave: Callable[[list[dict]], dict] | None = None) -> None:
        self.calls: list[list[dict]] = []
        self.events: list[dict] = []  # the whole events, tumbling-window fields and all
        self.behave = behave or (lambda records: {"status": "succeeded", "result": "null"})
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}  # most batches in flight at once holding a key
        self.gate: asyncio.Event | None = None

    async def __call__(self, fn, event: str, *, source: str, trigger: str, priority: str) -> Done:
        import json

        whole = json.loads(event)
        records = whole["Records"]
        assert source == "kinesis" and trigger.startswith("event-source-mapping:")
        self.events.append(whole)
        self.calls.append(records)
        keys = {r["kinesis"]["partitionKey"] for r in records}
        for key in keys:
            self.now[key] = self.now.get(key, 0) + 1
            self.peak[key] = max(self.peak.get(key, 0), self.now[key])
        try:
            await asyncio.sleep(0.001)
            if self.gate is not None:
                await self.gate.wait()
            wants_whole = getattr(self.behave, "whole_event", False)
            answer = self.behave(whole if wants_whole else records)
        finally:
            for key in keys:
                self.now[key] -= 1
        return Done(request_id="r", **answer)

    def delivered(self) -> list[str]:
        return [data_of(r) for call in self.calls for r in call]


async def until(condition: Callable[[], object], timeout_s: float = 20.0, what: str = "condition") -> None:
    """Wait until condition() is true (an outcome, never a timing assert)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def run(scenario) -> None:
    """Run the coroutine function `scenario` to its end."""
    async_to_sync(scenario)()


def poller(invoke, holder="a", **kw) -> sp.Poller:
    """A Poller calling `invoke`, looking every 0.05 s unless `look_s`."""
    kw.setdefault("look_s", 0.05)
    return sp.Poller(holder, invoke=invoke, **kw)


async def serving(p: sp.Poller) -> asyncio.Future:
    return asyncio.ensure_future(p.serve())


async def stopped(p: sp.Poller, task: asyncio.Future) -> None:
    await p.close()
    await task


def served_until(invoke, condition: Callable[[], object], timeout_s: float = 20.0,
                 what: str = "condition", **kw) -> None:
    """A poller (`poller(invoke, **kw)`) served until `condition` holds
    (`until`), then closed."""
    async def scenario():
        p = poller(invoke, **kw)
        task = await serving(p)
        await until(condition, timeout_s=timeout_s, what=what)
        await stopped(p, task)

    run(scenario)
