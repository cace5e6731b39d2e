"""Time series of the recorded metrics, for the charts (dashboard, the
Monitor tab) and the usage page: the database's minute buckets plus what
Redis holds that is not flushed yet, so a call is in the series within a
second of finishing.

One database query per call whatever the number of steps (two in the rare
moment a flusher died holding buckets: which of them were committed is
asked). Redis and the database are read consistently (metrics.reading),
so a bucket is never counted twice nor missed."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from metrics import buckets, histogram, reading
from metrics.models import MetricMinute

KEYS = (
    "invocations", "errors", "errors_failed", "errors_timed_out", "errors_out_of_memory", "throttles",
    "cold_starts", "p50", "p95", "p99", "concurrency", "gb_seconds",
)
COUNTS = (
    "invocations", "errors_failed", "errors_timed_out", "errors_out_of_memory", "throttles", "cold_starts",
)
PERCENTILES = {"p50": 50, "p95": 95, "p99": 99}

_ROW_FIELDS = (
    "team_id", "function_id", "qualifier", "minute", *COUNTS, "durations", "duration_ms_min",
    "duration_ms_max", "gb_seconds",
    "concurrency_max", "team_concurrency_max", "installation_concurrency_max",
)


def _unix(value) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _team_ids(teams) -> set[int] | None:
    if teams is None:
        return None
    return {int(getattr(t, "pk", t)) for t in teams}


def series(
    *, teams: Iterable | None, function_id=None, qualifier: str | None = None,
    since, until, step_s: int = 60,
) -> dict:
    """The metrics of [since, until) in steps of `step_s` seconds.

    teams: Teams (or their ids) whose functions count; None: the whole
    installation (staff). function_id: only this function (still within
    `teams`); qualifier: only this qualifier ("$LATEST", a version, an
    alias), None: all of them. since, until: aware datetimes or unix
    seconds. step_s: a multiple of 60 (60 for 1 h, 600 for 24 h, 3600 for
    7 d); steps start at multiples of step_s (UTC), the first one holding
    `since`.

    Returns {"t": [unix seconds of each step's start], "invocations",
    "errors" (the three kinds together), "errors_failed",
    "errors_timed_out", "errors_out_of_memory", "throttles", "cold_starts",
    "gb_seconds": [sums per step], "p50", "p95", "p99": [ms or None per
    step, from the merged duration histograms: within
    metrics.histogram.ALPHA, clamped to the step's shortest and longest
    call (exact for a single call, and for the first and last rank) when
    every minute in it kept them], "concurrency": [the most executions running
    at once in the step], "totals": {the same keys over the whole range}}.
    Every step is present, zero / None where nothing ran.
    ValueError when step_s is not a positive multiple of 60."""
    if step_s <= 0 or step_s % 60:
        raise ValueError(f"step_s must be a positive multiple of 60 seconds, got {step_s!r}")
    start = math.floor(_unix(since) / step_s) * step_s
    end = _unix(until)
    steps = list(range(start, math.ceil(end), step_s)) if end > start else []
    team_ids = _team_ids(teams)
    scope = "function" if function_id is not None else ("installation" if team_ids is None else "teams")
    rows, unflushed = _read(team_ids, function_id, qualifier, start, end)
    return _shape(steps, step_s, scope, rows, unflushed)


def _query(team_ids, function_id, qualifier, start: int, end: float):
    query = MetricMinute.objects.filter(
        minute__gte=datetime.fromtimestamp(start, tz=UTC), minute__lt=datetime.fromtimestamp(end, tz=UTC),
    )
    if team_ids is not None:
        query = query.filter(team_id__in=team_ids)
    if function_id is not None:
        query = query.filter(function_id=function_id)
    if qualifier is not None:
        query = query.filter(qualifier=qualifier)
    return query.values_list(*_ROW_FIELDS)


def _wanted(bucket: buckets.Bucket, team_ids, function_id, qualifier, start: int, end: float) -> bool:
    return (
        start <= bucket.minute < end
        and (team_ids is None or bucket.team_id in team_ids)
        and (function_id is None or bucket.function_id == str(function_id))
        and (qualifier is None or bucket.qualifier == qualifier)
    )


def _read(team_ids, function_id, qualifier, start: int, end: float):
    """(database rows as tuples of _ROW_FIELDS, unflushed Buckets), one
    consistent reading (metrics.reading)."""
    rows, held = reading.consistent(lambda: list(_query(team_ids, function_id, qualifier, start, end)))
    return rows, [b for b in held if _wanted(b, team_ids, function_id, qualifier, start, end)]


def _shape(steps: list[int], step_s: int, scope: str, rows, unflushed) -> dict:
    index = {t: i for i, t in enumerate(steps)}
    n = len(steps)
    sums = {name: [0] * n for name in COUNTS}
    gb = [0.0] * n
    hists: list[dict] = [{} for _ in range(n)]
    # Per step [least, greatest, every minute with durations kept them].
    extremes: list[list] = [[None, None, True] for _ in range(n)]
    # Concurrency per minute: the function's own maximum; a set of teams:
    # the sum over teams of each team's maximum; the installation's maximum.
    per_minute: dict[int, dict] = defaultdict(dict)

    def take(minute: int, team_id, values: dict, durations) -> None:
        i = index.get(minute - minute % step_s)
        if i is None:
            return
        for name in COUNTS:
            sums[name][i] += int(values.get(name) or 0)
        gb[i] += float(values.get("gb_seconds") or 0)
        histogram.add_into(hists[i], durations)
        if histogram.count(durations):
            low, high = values.get("duration_ms_min"), values.get("duration_ms_max")
            ext = extremes[i]
            if low is None or high is None:
                ext[2] = False  # a minute from before extremes were kept
            else:
                ext[0] = buckets.extreme("duration_ms_min", ext[0], low)
                ext[1] = buckets.extreme("duration_ms_max", ext[1], high)
        seen = per_minute[minute]
        if scope == "function":
            seen[None] = max(seen.get(None, 0), int(values.get("concurrency_max") or 0))
        elif scope == "teams":
            seen[team_id] = max(seen.get(team_id, 0), int(values.get("team_concurrency_max") or 0))
        else:
            seen[None] = max(seen.get(None, 0), int(values.get("installation_concurrency_max") or 0))

    for row in rows:
        values = dict(zip(_ROW_FIELDS, row, strict=True))
        take(int(values["minute"].timestamp()), values["team_id"], values, values["durations"])
    for bucket in unflushed:
        take(bucket.minute, bucket.team_id, bucket.values, bucket.durations)

    concurrency = [0] * n
    for minute, seen in per_minute.items():
        i = index[minute - minute % step_s]
        concurrency[i] = max(concurrency[i], sum(seen.values()))
    out: dict = {"t": steps, **sums}
    out["errors"] = [
        failed + timed_out + oom for failed, timed_out, oom
        in zip(sums["errors_failed"], sums["errors_timed_out"], sums["errors_out_of_memory"], strict=True)
    ]
    bounds = [(e[0], e[1]) if e[2] else (None, None) for e in extremes]
    for key, q in PERCENTILES.items():
        out[key] = [_ms(histogram.percentile(h, q, *b)) for h, b in zip(hists, bounds, strict=True)]
    out["concurrency"] = concurrency
    out["gb_seconds"] = [round(v, 6) for v in gb]
    whole: dict = {}
    for h in hists:
        histogram.add_into(whole, h)
    known = [e for e in extremes if e[0] is not None]
    whole_bounds = (
        (min(e[0] for e in known), max(e[1] for e in known))
        if known and all(e[2] for e in extremes) else (None, None)
    )
    out["totals"] = {
        **{name: sum(out[name]) for name in (*COUNTS, "errors")},
        **{key: _ms(histogram.percentile(whole, q, *whole_bounds)) for key, q in PERCENTILES.items()},
        "concurrency": max(concurrency, default=0),
        "gb_seconds": round(sum(gb), 6),
    }
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
