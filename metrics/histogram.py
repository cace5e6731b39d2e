"""Duration histograms with log-scaled buckets, small enough to keep one
per function and minute, and mergeable by adding counts.

Buckets grow by GAMMA = 1.05 (each is 5 % wider than the one below),
from 0.01 ms to 15 minutes (Lambda's longest timeout):

- bucket 0 holds every duration <= 0.01 ms (0 included);
- bucket i (1 <= i < LAST) holds (0.01 * GAMMA**(i-1), 0.01 * GAMMA**i] ms;
- bucket LAST (377) holds everything above 0.01 * GAMMA**(LAST-1) ms,
  which is just over 15 minutes (927 s).

A histogram is a dict {bucket index as text: count} (text keys, so it is
the same dict after a JSON round trip: MetricMinute.durations, Redis).

Error bound: `percentile` answers with a bucket's representative value
2 * upper / (GAMMA + 1), which is within ALPHA = (GAMMA - 1) / (GAMMA + 1)
(2.44 %) of every value in the bucket (the DDSketch construction: Masson,
Rim & Lee, VLDB 2019). So for durations between 0.01 ms and 15 min the
answer is within 2.44 % of the true nearest-rank percentile of the
recorded durations; below 0.01 ms it answers 0.01 ms (an absolute error
under 0.01 ms); above 15 min it answers the bucket's lower bound."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GAMMA = 1.05
LOWEST_MS = 0.01
HIGHEST_MS = 15 * 60 * 1000.0
ALPHA = (GAMMA - 1) / (GAMMA + 1)
_LOG_GAMMA = math.log(GAMMA)
# The first bucket whose upper bound reaches 15 minutes, plus one more
# for anything beyond.
LAST = math.ceil(math.log(HIGHEST_MS / LOWEST_MS) / _LOG_GAMMA) + 1

Histogram = dict[str, int]


def bucket_of(ms: float) -> int:
    """The bucket index (0..LAST) of a duration in milliseconds."""
    if not ms > LOWEST_MS:  # also NaN and negatives
        return 0
    index = math.ceil(math.log(ms / LOWEST_MS) / _LOG_GAMMA)
    # Floating point can put an exact bound one bucket too high or low.
    if index > 0 and ms <= upper_bound(index - 1):
        index -= 1
    elif ms > upper_bound(index):
        index += 1
    return min(max(index, 1), LAST)


def upper_bound(index: int) -> float:
    """The largest duration (ms) bucket `index` holds; infinity for LAST."""
    if index >= LAST:
        return math.inf
    return LOWEST_MS * GAMMA**index


def lower_bound(index: int) -> float:
    """The duration (ms) every value of bucket `index` is above (0 for bucket 0)."""
    return 0.0 if index <= 0 else LOWEST_MS * GAMMA ** (index - 1)


def representative(index: int) -> float:
    """The value (ms) `percentile` answers for bucket `index` (see the
    module's error bound)."""
    if index <= 0:
        return LOWEST_MS
    if index >= LAST:
        return lower_bound(LAST)
    return 2 * upper_bound(index) / (GAMMA + 1)


def of(durations: Iterable[float]) -> Histogram:
    """The histogram of some durations (ms)."""
    hist: Histogram = {}
    for ms in durations:
        key = str(bucket_of(ms))
        hist[key] = hist.get(key, 0) + 1
    return hist


def merge(a: Mapping[str, int] | None, b: Mapping[str, int] | None) -> Histogram:
    """A new histogram holding the counts of both (either may be None or empty)."""
    merged: Histogram = dict(a or {})
    for key, count in (b or {}).items():
        key = str(key)
        merged[key] = merged.get(key, 0) + int(count)
    return merged


def add_into(target: Histogram, other: Mapping[str, int] | None) -> Histogram:
    """Add `other`'s counts into `target` in place (merge without a copy,
    for summing many); returns `target`."""
    for key, count in (other or {}).items():
        key = str(key)
        target[key] = target.get(key, 0) + int(count)
    return target


def count(hist: Mapping[str, int] | None) -> int:
    return sum(int(c) for c in (hist or {}).values())


def percentile(
    hist: Mapping[str, int] | None, q: float, low: float | None = None, high: float | None = None,
) -> float | None:
    """The q-th percentile (q in 0..100) in ms, nearest rank: the smallest
    recorded duration that at least q % of them are at or below, within
    ALPHA (see the module docstring). None for an empty histogram.
    ValueError for q outside 0..100.

    `low`, `high`: the smallest and largest duration recorded (ms), when
    known (MetricMinute.duration_ms_min / _max): the answer is clamped to
    [low, high], since no percentile lies outside them, and the first and
    last ranks answer `low` and `high` themselves. So one call's
    percentiles are its duration exactly, and a percentile whose bucket
    holds the extreme is never beyond it (Lambda's p99 of one 2004.79 ms
    call is 2004.79, not the bucket's 2031.4). Both or neither."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q!r}")
    items = sorted((int(k), int(c)) for k, c in (hist or {}).items() if int(c) > 0)
    total = sum(c for _, c in items)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    found = representative(items[-1][0])
    for index, c in items:
        seen += c
        if seen >= rank:
            found = representative(index)
            break
    if low is not None and high is not None:
        # The first and last ranks are the extremes themselves.
        if rank >= total:
            return high
        if rank == 1:
            return low
        found = min(max(found, low), high)
    return found


def cumulative(hist: Mapping[str, int] | None, bounds_ms: Iterable[float]) -> list[int]:
    """For each bound (ms, ascending, each a bucket's upper bound), how many
    durations are at or below it: the `le` counts of a Prometheus histogram.
    Exact when every bound is an upper_bound() of some bucket."""
    items = sorted((int(k), int(c)) for k, c in (hist or {}).items())
    out, seen, i = [], 0, 0
    for bound in bounds_ms:
        while i < len(items) and upper_bound(items[i][0]) <= bound * (1 + 1e-12):
            seen += items[i][1]
            i += 1
        out.append(seen)
    return out
