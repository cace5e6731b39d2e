"""Moving recorded buckets from Redis into the database, in batches, each
exactly once.

A flusher thread runs in every worker's main process (started by
invocations.node_upkeep) and, every FLUSH_INTERVAL_S:

1. takes up to BATCH pending buckets in one Lua call: each hash is
   RENAMEd to `<prefix>flushing:<flush id>|<bucket key>` (new records of
   that minute start a fresh hash), listed in `<prefix>flushing` with the
   time it was taken;
2. adds them to MetricMinute and MetricTotal in one transaction that also
   stores MetricFlush(<flush id>), upserting rows (a row of the minute
   gets the counts added, maxima kept, histograms merged); two flushers
   that both insert the same new row: one gets an IntegrityError and
   tries again, now updating it;
3. after the commit, deletes the flushing hashes.

A process that dies between 1 and 3 leaves flushing hashes behind; after
STALE_S any flusher takes them over (fresh time, same flush id) and
applies them, unless MetricFlush says their flush id was committed
already, in which case it only deletes them. So nothing is lost and
nothing is added twice, with any number of flushers. While Redis is
unreachable the flusher waits; recording skips (metrics.recording)."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import redis
from django.db import IntegrityError, close_old_connections, transaction

from functions.models import Team
from invocations import redis_link
from metrics import buckets, recording
from metrics.buckets import Bucket
from metrics.models import MetricFlush, MetricMinute, MetricTotal

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 1.0
BATCH = 500
STALE_S = buckets.STALE_S
RETRIES = 5

# KEYS: pending set, flushing set, seq. ARGV: flush id, now, batch size,
# the flushing prefix. Returns {flushing key, fields...}.
_TAKE = """
local out = {}
for _, key in ipairs(redis.call('SPOP', KEYS[1], ARGV[3])) do
  if redis.call('EXISTS', key) == 1 then
    local taken = ARGV[4] .. ':' .. ARGV[1] .. '|' .. key
    redis.call('RENAME', key, taken)
    redis.call('ZADD', KEYS[2], ARGV[2], taken)
    out[#out + 1] = taken
    out[#out + 1] = redis.call('HGETALL', taken)
  end
end
if #out > 0 then redis.call('INCR', KEYS[3]) end
return out
"""
# KEYS: flushing set, seq. ARGV: cutoff, now. Stale flushing hashes get a
# fresh time (one flusher takes each over). Returns {key, fields...}.
_TAKE_OVER = """
local out = {}
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  redis.call('ZADD', KEYS[1], ARGV[2], key)
  out[#out + 1] = key
  out[#out + 1] = redis.call('HGETALL', key)
end
if #out > 0 then redis.call('INCR', KEYS[2]) end
return out
"""
# KEYS: flushing set, seq, then the flushing hashes to delete.
_DONE = """
for i = 3, #KEYS do
  redis.call('DEL', KEYS[i])
  redis.call('ZREM', KEYS[1], KEYS[i])
end
redis.call('INCR', KEYS[2])
return #KEYS - 2
"""


def _parse_all(flat: list) -> list[Bucket]:
    found = []
    for i in range(0, len(flat), 2):
        bucket = buckets.parse(flat[i], flat[i + 1])
        if bucket is not None:
            found.append(bucket)
    return found


def flush_once(client: redis.Redis, batch: int = BATCH) -> int:
    """Take, apply and delete up to `batch` pending buckets. Returns how
    many were taken."""
    flush_id = uuid.uuid4().hex
    flat = client.eval(
        _TAKE, 3, recording.pending_key(), buckets.flushing_key(), buckets.seq_key(),
        flush_id, time.time(), batch, buckets.flushing_key(),
    )
    taken = _parse_all(flat)
    if taken:
        apply(flush_id, taken)
        _done(client, [b.key for b in taken])
        _purge_running(client, taken)
    return len(taken)


def _purge_running(client: redis.Redis, taken: list[Bucket]) -> None:
    """Drop expired holders (their process died without giving the slot
    back) from the running sets of the functions just flushed: the counts
    ignore them already; this keeps the sets small."""
    keys = {key for b in taken for key in recording.running_keys(b.function_id, b.team_id)}
    pipe = client.pipeline(transaction=False)
    now = time.time()
    for key in sorted(keys):
        pipe.zremrangebyscore(key, "-inf", now)
    pipe.execute()


def recover(client: redis.Redis, stale_s: float = STALE_S) -> int:
    """Apply (or, when already committed, only delete) flushing buckets
    whose flusher died. Returns how many were taken over."""
    now = time.time()
    flat = client.eval(_TAKE_OVER, 2, buckets.flushing_key(), buckets.seq_key(), now - stale_s, now)
    taken = _parse_all(flat)
    by_flush: dict[str, list[Bucket]] = defaultdict(list)
    for bucket in taken:
        by_flush[bucket.flush_id].append(bucket)
    for flush_id, group in by_flush.items():
        apply(flush_id, group)
        _done(client, [b.key for b in group])
    return len(taken)


def _done(client: redis.Redis, keys: list[str]) -> None:
    client.eval(_DONE, 2 + len(keys), buckets.flushing_key(), buckets.seq_key(), *keys)


def apply(flush_id: str, taken: list[Bucket]) -> bool:
    """Add `taken` to the database under `flush_id`, once: False when that
    flush id was committed before (nothing is added again)."""
    for attempt in range(RETRIES):
        try:
            with transaction.atomic():
                if MetricFlush.objects.filter(id=flush_id).exists():
                    return False
                MetricFlush.objects.create(id=flush_id)
                _add(taken)
            return True
        except IntegrityError:
            # Another flusher inserted a row this one meant to insert.
            if attempt == RETRIES - 1:
                raise
    return False


def _minute(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


def _add(taken: list[Bucket]) -> None:
    teams = set(Team.objects.filter(id__in={b.team_id for b in taken}).values_list("id", flat=True))
    kept = [b for b in taken if b.team_id in teams]  # a deleted team's figures went with it
    if not kept:
        return
    _upsert(
        MetricMinute, kept, lambda b: (b.function_id, b.qualifier, b.minute),
        lambda row: (str(row.function_id), row.qualifier, int(row.minute.timestamp())),
        {"minute__in": {_minute(b.minute) for b in kept}},
        lambda b: {"minute": _minute(b.minute)},
    )
    _upsert(
        MetricTotal, kept, lambda b: (b.function_id, b.qualifier),
        lambda row: (str(row.function_id), row.qualifier), {}, lambda b: {},
    )


def _upsert(model, taken, key_of, row_key, extra_filter, extra_fields) -> None:
    grouped: dict[tuple, list[Bucket]] = defaultdict(list)
    for bucket in taken:
        grouped[key_of(bucket)].append(bucket)
    existing = {
        row_key(row): row for row in model.objects.select_for_update().filter(
            function_id__in={b.function_id for b in taken},
            qualifier__in={b.qualifier for b in taken}, **extra_filter,
        )
    }
    changed, new = [], []
    for key, group in grouped.items():
        row = existing.get(key)
        if row is None:
            first = group[0]
            row = model(
                team_id=first.team_id, function_id=first.function_id, function_name=first.function_name,
                qualifier=first.qualifier, **extra_fields(first),
            )
            new.append(row)
        else:
            changed.append(row)
        for bucket in group:
            buckets.merge_into_row(row, bucket.values, bucket.durations)
            if bucket.function_name:
                row.function_name = bucket.function_name  # renamed functions keep their id
    fields = [
        f.name for f in model._meta.concrete_fields
        if f.name in (
            *buckets.SUM_FIELDS, *buckets.MAX_FIELDS, *buckets.EXTREME_FIELDS, "durations", "function_name",
        )
    ]
    if changed:
        model.objects.bulk_update(changed, fields)
    if new:
        model.objects.bulk_create(new)


def serve(stop: threading.Event, interval_s: float = FLUSH_INTERVAL_S) -> None:
    """Flush until `stop` is set, riding out Redis and database outages."""
    recovered_at = 0.0
    while not stop.is_set():
        try:
            close_old_connections()
            client = redis_link.client()
            if time.monotonic() - recovered_at > STALE_S / 4:
                recovered_at = time.monotonic()
                recover(client)
            while flush_once(client) >= BATCH:
                pass
            redis_link.outage.succeeded()
        except redis.RedisError as e:
            redis_link.outage.failed("metrics flush", e)
        except Exception:  # noqa: BLE001 - the buckets stay in Redis and are taken over
            log.exception("flushing metrics failed; the batch stays in Redis")
        stop.wait(interval_s)


_started: set[int] = set()


def start() -> threading.Event:
    """A flusher thread in this process (once per process)."""
    stop = threading.Event()
    if os.getpid() not in _started:
        _started.add(os.getpid())
        threading.Thread(target=serve, args=(stop,), name="metrics-flush", daemon=True).start()
    return stop
