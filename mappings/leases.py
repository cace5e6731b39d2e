"""Shard leases: which worker process reads which shard of a stream
mapping, on the shared Redis.

A lease is the key `<instance>:shard-lease:<mapping id>:<shard id>` set
(as `SET NX PX` would, in a Lua call that also lets the holder keep it) to
the holder's id (invocations.nodes.worker_id()),
renewed while held and deleted by its holder on a clean stop; a holder
that died stops renewing, the key expires after `ttl_ms`, and another
worker takes the shard. Renewal and release compare the value first (one
Lua call), so a holder never extends or drops a lease another took.

The live pollers beat into the sorted set `<instance>:stream-pollers`
(member: holder id, score: epoch seconds), so each takes only its fair
share of the shards while others are alive."""

from __future__ import annotations

import time

import redis.asyncio
from django.conf import settings

# KEYS[1]: a lease; ARGV[1]: holder, ARGV[2]: ttl ms. Taken when free, or
# kept when already the holder's (a poller that stopped its shards during a
# Redis blip takes them back at once instead of waiting out its own lease).
_TAKE = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# KEYS: leases; ARGV[1]: holder, ARGV[2]: ttl ms. Returns 1/0 per key:
# whether the holder still holds it (and now for ttl ms more).
_RENEW = """
local held = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
"""
# KEYS[1]: the lease; ARGV[1]: holder. Deletes it only if still the holder's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(mapping_id, shard_id: str) -> str:
    return f"{settings.STRATUS_INSTANCE}:shard-lease:{mapping_id}:{shard_id}"


def pollers_key() -> str:
    return f"{settings.STRATUS_INSTANCE}:stream-pollers"


class Leases:
    """One poller's leases. `client`: a redis.asyncio client of the loop
    that uses it; `holder`: this process's worker id; `ttl_ms`: how long a
    lease outlives its holder's last renewal."""

    def __init__(self, client: redis.asyncio.Redis, holder: str, ttl_ms: int) -> None:
        self.client = client
        self.holder = holder
        self.ttl_ms = ttl_ms
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    async def take(self, key: str) -> bool:
        """Whether this holder got the lease (False: another holds it)."""
        return bool(int(await self._take(keys=[key], args=[self.holder, self.ttl_ms])))

    async def renew(self, keys: list[str]) -> set[str]:
        """Extend every lease of `keys` still ours; the ones we still hold."""
        if not keys:
            return set()
        flags = await self._renew(keys=keys, args=[self.holder, self.ttl_ms])
        return {key for key, flag in zip(keys, flags, strict=True) if int(flag)}

    async def holds(self, key: str) -> bool:
        value = await self.client.get(key)
        return value is not None and value.decode() == self.holder

    async def release(self, key: str) -> None:
        await self._release(keys=[key], args=[self.holder])

    async def beat(self) -> int:
        """Say this poller is alive; the number of live pollers (itself included)."""
        now = time.time()
        horizon = now - self.ttl_ms / 1000.0
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(pollers_key(), {self.holder: now})
        pipe.zremrangebyscore(pollers_key(), "-inf", horizon)
        pipe.zcard(pollers_key())
        *_, live = await pipe.execute()
        return max(int(live), 1)

    async def leave(self) -> None:
        await self.client.zrem(pollers_key(), self.holder)
