"""Minute buckets as they are read back from Redis (not yet in the
database), and the arithmetic of adding buckets together, shared by the
flush (into MetricMinute / MetricTotal), the series and Prometheus.

Redis holds two kinds (metrics.recording, metrics.flush): *pending*
buckets, still being written, and *flushing* ones, taken by a flusher
(renamed to `<prefix>flushing:<flush id>|<bucket key>`, listed in the
sorted set `<prefix>flushing` by the time they were taken) until its
transaction commits. `<prefix>seq` moves on whenever a bucket changes
kind or leaves Redis, so a reader can tell that the database changed under
it (metrics.series)."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics import histogram, recording

INT_FIELDS = (
    "invocations", "errors_failed", "errors_timed_out", "errors_out_of_memory", "throttles",
    "cold_starts", "billed_ms_sum",
)
SUM_FIELDS = (*INT_FIELDS, "duration_ms_sum", "gb_seconds")
MAX_FIELDS = recording.CONCURRENCY_FIELDS
# Float sums are rounded to this many significant digits where they are
# made: GB-seconds are billed ms x MB / 1024 / 1000 (at most ~12 digits
# of any real bill), and floats adding such values leave noise in the
# last place (0.000125 + 0.001 = 0.0011250000000000001).
SIGNIFICANT = 12

# The shortest and longest duration (ms): merged as least / greatest, and
# unknown (absent / None) rather than 0 when nothing was recorded.
EXTREME_FIELDS = ("duration_ms_min", "duration_ms_max")
# A flushing bucket taken longer ago than this lost its flusher (metrics.flush).
STALE_S = 60.0

# KEYS: pending set, flushing set, seq. Returns {seq, {key, fields...},
# {flushing key, taken at, fields...}}, read at one instant.
_READ = """
local out = {redis.call('GET', KEYS[3]) or '0'}
local pending = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  pending[#pending + 1] = k
  pending[#pending + 1] = redis.call('HGETALL', k)
end
out[2] = pending
local flushing = {}
local f = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #f, 2 do
  flushing[#flushing + 1] = f[i]
  flushing[#flushing + 1] = f[i + 1]
  flushing[#flushing + 1] = redis.call('HGETALL', f[i])
end
out[3] = flushing
return out
"""


def flushing_key() -> str:
    return f"{recording.prefix()}flushing"


def seq_key() -> str:
    return f"{recording.prefix()}seq"


def flushing_name(flush_id: str, bucket_key: str) -> str:
    return f"{recording.prefix()}flushing:{flush_id}|{bucket_key}"


@dataclass
class Bucket:
    """One function's, qualifier's and minute's recorded figures.
    `values`: MetricMinute's sum and max fields; `durations`: a histogram."""

    minute: int
    function_id: str
    qualifier: str
    team_id: int
    function_name: str
    values: dict[str, float] = field(default_factory=dict)
    durations: dict[str, int] = field(default_factory=dict)
    flush_id: str | None = None
    taken_at: float | None = None
    key: str = ""


def parse(key: str, flat: list) -> Bucket | None:
    """A Bucket from a bucket key (or a flushing key) and its HGETALL as a
    flat [field, value, ...] list; None for a hash that is gone."""
    if not flat:
        return None
    key = key.decode() if isinstance(key, bytes) else key
    flush_id = None
    bucket_key = key
    if key.startswith(flushing_key() + ":"):
        flush_id, _, bucket_key = key[len(flushing_key()) + 1:].partition("|")
    minute, function_id, qualifier = recording.parse_bucket_key(bucket_key)
    fields = {}
    for i in range(0, len(flat), 2):
        name = flat[i].decode() if isinstance(flat[i], bytes) else flat[i]
        value = flat[i + 1].decode() if isinstance(flat[i + 1], bytes) else flat[i + 1]
        fields[name] = value
    team, _, name = fields.get("_meta", "0|").partition("|")
    bucket = Bucket(
        minute=minute, function_id=function_id, qualifier=qualifier, team_id=int(team or 0),
        function_name=name, flush_id=flush_id, key=key,
    )
    for name, value in fields.items():
        if name.startswith("h:"):
            bucket.durations[name[2:]] = int(value)
        elif name in INT_FIELDS or name in MAX_FIELDS:
            bucket.values[name] = int(value)
        elif name == "duration_us_sum":
            bucket.values["duration_ms_sum"] = tidy(int(value) / 1000)
        elif name in ("duration_us_min", "duration_us_max"):
            bucket.values[f"duration_ms_{name[-3:]}"] = int(value) / 1000
        elif name == "mb_ms_sum":
            bucket.values["gb_seconds"] = tidy(int(value) / 1024 / 1000)
    return bucket


@dataclass
class Unflushed:
    """What Redis holds at one instant: `seq`, the pending buckets and the
    flushing ones (each with its flush id and taken_at)."""

    seq: int = 0
    pending: list[Bucket] = field(default_factory=list)
    flushing: list[Bucket] = field(default_factory=list)


def read(client) -> Unflushed:
    """Unflushed buckets, read in one Lua call (raises RedisError)."""
    seq, pending, flushing = client.eval(
        _READ, 3, recording.pending_key(), flushing_key(), seq_key()
    )
    found = Unflushed(seq=int(seq))
    for i in range(0, len(pending), 2):
        bucket = parse(pending[i], pending[i + 1])
        if bucket is not None:
            found.pending.append(bucket)
    for i in range(0, len(flushing), 3):
        bucket = parse(flushing[i], flushing[i + 2])
        if bucket is not None:
            bucket.taken_at = float(flushing[i + 1])
            found.flushing.append(bucket)
    return found


def current_seq(client) -> int:
    return int(client.get(seq_key()) or 0)


def tidy(value: float) -> float:
    """`value` rounded to SIGNIFICANT significant digits (float noise off)."""
    return float(f"{value:.{SIGNIFICANT}g}")


def extreme(name: str, current: float | None, value: float | None) -> float | None:
    """The least (`duration_ms_min`) or greatest (`duration_ms_max`) of two
    extremes, either unknown (None)."""
    if current is None or value is None:
        return value if current is None else current
    return min(current, value) if name == "duration_ms_min" else max(current, value)


def add_values(target: dict, values: dict) -> dict:
    """Add a bucket's `values` into `target` (sums added, maxima kept,
    extremes least / greatest)."""
    for name, value in values.items():
        if name in EXTREME_FIELDS:
            target[name] = extreme(name, target.get(name), value)
        elif name in MAX_FIELDS:
            target[name] = max(target.get(name, 0), value)
        elif name in INT_FIELDS:
            target[name] = target.get(name, 0) + value
        else:
            target[name] = tidy(target.get(name, 0) + value)
    return target


def merge_into_row(row, values: dict, durations: dict) -> None:
    """Add figures into a MetricMinute or MetricTotal row (in memory)."""
    for name, value in values.items():
        if not hasattr(row, name):
            continue  # a maximum MetricTotal does not keep
        if name in EXTREME_FIELDS:
            setattr(row, name, extreme(name, getattr(row, name), float(value)))
            continue
        current = getattr(row, name) or 0
        if name in MAX_FIELDS:
            setattr(row, name, max(current, int(value)))
        elif name in INT_FIELDS:
            setattr(row, name, current + int(value))
        else:
            setattr(row, name, tidy(current + float(value)))
    row.durations = histogram.merge(row.durations, durations)
