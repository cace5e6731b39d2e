"""Recording what finished into Redis, off the invocation's critical path:
no database write, and at most one Lua call on a Redis round trip the
caller makes anyway (the sync answer's pipeline) or one of its own.

Per function, qualifier and UTC minute, one hash
`<instance>:metrics:b:<minute unix>:<function id>:<qualifier>` holds
whole-number counters (HINCRBY) named as MetricMinute's fields but
`duration_us_sum` (µs), the extremes `duration_us_min` / `duration_us_max`
(µs, kept as least / greatest in the same script) and `mb_ms_sum` (memory MB x billed ms, whence
GB-seconds),
histogram fields `h:<bucket>` (metrics.histogram), the running maxima
`concurrency_max`, `team_concurrency_max`, `installation_concurrency_max`,
and `_meta` ("<team id>|<function name>"). Every hash written is added to the set
`<instance>:metrics:pending`; metrics.flush moves them to the database.

Concurrency: invocations.concurrency adds a call to three sorted sets when
it admits it (`running_keys`: its function's, its team's, the
installation's; members are request ids scored by their expiry) and
removes it with the slot (metrics.flush purges holders whose process
died). When a call is recorded, each set's unexpired members (the call
itself counted) are the executions running at that moment, and the minute
keeps the largest seen. The peak of running executions always ends
with a finish, so the largest count seen at finishes is the peak.

What counts (as CloudWatch's Lambda metrics): every attempt that ran is
an invocation (async retries included); `failed` / `timed_out` /
`out_of_memory` are errors of their kind; a refusal for concurrency is a
throttle and not an invocation (sync 429s, and each time an async event
has to wait for a slot); `expired` and `cancelled` calls never ran and
count nothing. GB-seconds = billed ms / 1000 x memory MB / 1024.

When Redis is unreachable nothing is recorded and nothing fails
(invocations.redis_link.quietly)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

from django.conf import settings

from invocations import redis_link
from metrics import histogram

# Keep a bucket nobody flushes (no worker running) for a week at most.
BUCKET_TTL_S = 7 * 24 * 3600
ERROR_FIELDS = {
    "failed": "errors_failed", "timed_out": "errors_timed_out", "out_of_memory": "errors_out_of_memory",
}
RAN = {"succeeded", "failed", "timed_out", "out_of_memory"}
CONCURRENCY_FIELDS = ("concurrency_max", "team_concurrency_max", "installation_concurrency_max")

# KEYS: the bucket, the pending set[, the function's, team's and
# installation's running sets]. ARGV: "<team id>|<function name>", request
# id, now (unix s), then (field, increment) pairs. Returns the function's
# running count (0 without running sets). Few redis.call()s: each costs the
# server about what a pipelined command does.
_RECORD = """
local b = KEYS[1]
redis.call('HSETNX', b, '_meta', ARGV[1])
for i = 4, #ARGV, 2 do
  local f = ARGV[i]
  if f == 'duration_us_min' or f == 'duration_us_max' then
    -- the extremes, kept in the same atomic call (least / greatest)
    local seen = tonumber(redis.call('HGET', b, f))
    local v = tonumber(ARGV[i + 1])
    if not seen or (f == 'duration_us_min' and v < seen) or (f == 'duration_us_max' and v > seen) then
      redis.call('HSET', b, f, ARGV[i + 1])
    end
  else
    redis.call('HINCRBY', b, f, ARGV[i + 1])
  end
end
local running = 0
if KEYS[3] then
  local names = {'concurrency_max', 'team_concurrency_max', 'installation_concurrency_max'}
  local seen = redis.call('HMGET', b, names[1], names[2], names[3])
  local higher = {}
  for j = 3, 5 do
    -- the others still running (unexpired), and itself, whether or not
    -- its slot was given back first or its admission was seen
    redis.call('ZREM', KEYS[j], ARGV[2])
    local n = redis.call('ZCOUNT', KEYS[j], ARGV[3], '+inf') + 1
    if j == 3 then running = n end
    if n > tonumber(seen[j - 2] or '0') then
      higher[#higher + 1] = names[j - 2]
      higher[#higher + 1] = n
    end
  end
  if #higher > 0 then redis.call('HSET', b, unpack(higher)) end
end
redis.call('EXPIRE', b, BUCKET_TTL_S)
redis.call('SADD', KEYS[2], b)
return running
""".replace("BUCKET_TTL_S", str(BUCKET_TTL_S))


def prefix() -> str:
    return f"{settings.STRATUS_INSTANCE}:metrics:"


def bucket_key(minute: int, function_id, qualifier: str) -> str:
    return f"{prefix()}b:{minute}:{function_id}:{qualifier}"


def parse_bucket_key(key: str) -> tuple[int, str, str]:
    """(minute unix, function id, qualifier) of a bucket key."""
    minute, function_id, qualifier = key[len(prefix()) + 2:].split(":", 2)
    return int(minute), function_id, qualifier


def pending_key() -> str:
    return f"{prefix()}pending"


def running_keys(function_id, team_id) -> list[str]:
    """The sorted sets of running calls: the function's, its team's, the
    installation's (invocations.concurrency adds to them on admission)."""
    base = f"{prefix()}running:"
    return [f"{base}fn:{function_id}", f"{base}team:{team_id}", f"{base}all"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One recorded event: an attempt that ran (`status` in RAN) or a
    throttle (`status` "throttled"). `duration_ms` None: unknown (a lost
    worker's attempt), left out of the durations."""

    function_id: str
    function_name: str
    team_id: int
    qualifier: str
    status: str
    at: float  # unix seconds
    duration_ms: float | None = None
    billed_ms: int = 0
    memory_mb: int = 128
    cold: bool = False
    request_id: str = ""

    @property
    def minute(self) -> int:
        return int(self.at // 60) * 60

    @property
    def gb_seconds(self) -> float:
        return gb_seconds(self.billed_ms, self.memory_mb)

    def increments(self) -> dict[str, float]:
        if self.status == "throttled":
            return {"throttles": 1}
        found: dict[str, float] = {"invocations": 1}
        if self.status in ERROR_FIELDS:
            found[ERROR_FIELDS[self.status]] = 1
        if self.cold:
            found["cold_starts"] = 1
        if self.duration_ms is not None:
            # Whole numbers (HINCRBY, exact and cheaper than HINCRBYFLOAT):
            # microseconds, and MB x billed ms (metrics.buckets converts).
            found["duration_us_sum"] = round(self.duration_ms * 1000)
            # Kept as the least / greatest, not added (the script).
            found["duration_us_min"] = found["duration_us_max"] = round(self.duration_ms * 1000)
            found[f"h:{histogram.bucket_of(self.duration_ms)}"] = 1
        if self.billed_ms:
            found["billed_ms_sum"] = int(self.billed_ms)
            found["mb_ms_sum"] = int(self.billed_ms) * int(self.memory_mb)
        return found


def gb_seconds(billed_ms: int, memory_mb: int) -> float:
    """Lambda's GB-seconds: billed seconds x memory in GB (1024 MB), from
    the whole number MB x ms (one rounding, no float noise)."""
    return int(billed_ms) * int(memory_mb) / 1024 / 1000


def sample_of(inv, status: str | None = None) -> Sample | None:
    """The Sample of a finished Invocation (its function loaded), or None
    when its status counts nothing (expired, cancelled, still running)."""
    status = status or inv.status
    if status not in RAN and status != "throttled":
        return None
    fn = inv.function
    finished = inv.finished_at.timestamp() if inv.finished_at is not None else time.time()
    duration = inv.duration_ms if status in RAN else None
    if status in RAN and (inv.error or {}).get("errorType") == "Runtime.WorkerLost" and not duration:
        duration = None  # the worker died: how long it ran is unknown
    return Sample(
        function_id=str(fn.id), function_name=fn.name, team_id=fn.team_id,
        qualifier=inv.function_version or "$LATEST", status=status, at=finished,
        duration_ms=duration, billed_ms=(inv.billed_duration_ms or 0) if status in RAN else 0,
        memory_mb=inv.memory_size_mb or fn.memory_mb, cold=bool(inv.cold_start) and status in RAN,
        request_id=str(inv.request_id),
    )


def attempt_sample(inv, fields: dict) -> Sample | None:
    """The Sample of an async attempt about to be retried (its outcome
    `fields` as runner.Outcome holds them; the row itself goes back to
    queued): billed as Invocation.set_outcome bills."""
    attempt = copy.copy(inv)
    attempt.logs = ""
    attempt.set_outcome(**{k: v for k, v in fields.items() if k != "logs"})
    return sample_of(attempt)


def throttle_sample(fn, qualifier: str = "$LATEST") -> Sample:
    return Sample(
        function_id=str(fn.id), function_name=fn.name, team_id=fn.team_id, qualifier=qualifier,
        status="throttled", at=time.time(),
    )


def _call(sample: Sample) -> tuple[list[str], list]:
    keys = [bucket_key(sample.minute, sample.function_id, sample.qualifier), pending_key()]
    if sample.status in RAN and sample.request_id:
        keys += running_keys(sample.function_id, sample.team_id)
    args: list = [f"{sample.team_id}|{sample.function_name}", sample.request_id, time.time()]
    for name, value in sample.increments().items():
        args += [name, value]
    return keys, args


def add(pipe, sample: Sample | None) -> None:
    """Queue recording `sample` on a Redis pipeline (sync or asyncio):
    one EVAL, replying the function's running count. None adds nothing."""
    if sample is None:
        return
    keys, args = _call(sample)
    pipe.eval(_RECORD, len(keys), *keys, *args)


def record(sample: Sample | None) -> None:
    """Record `sample` now, one round trip; skipped quietly while Redis
    is unreachable."""
    if sample is None:
        return
    keys, args = _call(sample)
    redis_link.quietly(lambda c: c.eval(_RECORD, len(keys), *keys, *args), "metrics")
