"""One consistent reading of the database and of what Redis holds that is
not flushed yet, for metrics.series and metrics.prometheus.

Read Redis (pending and flushing buckets, and `seq`, in one Lua call),
then the database, then `seq` again: when it moved, a flush took or
finished buckets in between (they may be in both, or in neither), so read
again. While a flush is committing (flushing buckets younger than
metrics.buckets.STALE_S), wait for it, up to FLUSH_WAIT_S; flushing buckets
older than that lost their flusher, and MetricFlush tells which of them
were committed (the one extra query, only then)."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from invocations import redis_link
from metrics import buckets
from metrics.buckets import Bucket
from metrics.models import MetricFlush

FLUSH_WAIT_S = 1.0
READ_AGAIN_S = 0.02
ATTEMPTS = 5


def consistent(query: Callable[[], list]) -> tuple[list, list[Bucket]]:
    """(query(), the unflushed buckets not in what it read). With Redis
    unreachable: (query(), [])."""
    waited_until = time.monotonic() + FLUSH_WAIT_S
    moved_again = 0
    while True:
        unflushed = redis_link.quietly(buckets.read, "metrics reading")
        if unflushed is None:
            return query(), []
        young = time.time() - buckets.STALE_S
        if any(b.taken_at > young for b in unflushed.flushing) and time.monotonic() < waited_until:
            time.sleep(READ_AGAIN_S)
            continue
        rows = query()
        held = unflushed.pending + unflushed.flushing
        if unflushed.flushing:
            committed = set(MetricFlush.objects.filter(
                id__in={b.flush_id for b in unflushed.flushing}
            ).values_list("id", flat=True))
            held = unflushed.pending + [b for b in unflushed.flushing if b.flush_id not in committed]
        try:
            moved = buckets.current_seq(redis_link.client()) != unflushed.seq
        except redis.RedisError:
            moved = False
        if moved and moved_again < ATTEMPTS:
            moved_again += 1
            continue
        return rows, held
