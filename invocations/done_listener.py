"""One Redis subscription per web process for every waiting sync caller.

A sync Invoke used to open its own pub/sub connection (a connect and a
SUBSCRIBE per request). Here one pattern subscription to
`<instance>:done:*` hands each message to the future of the request that
waits for it, so waiting costs neither a connection nor a thread."""

import asyncio
import logging

import redis.asyncio as aioredis
from django.conf import settings

log = logging.getLogger(__name__)


class DoneListener:
    def __init__(self) -> None:
        self.waiters: dict[str, asyncio.Future] = {}
        self.ready: asyncio.Event | None = None
        self.task: asyncio.Task | None = None
        self.prefix = f"{settings.STRATUS_INSTANCE}:done:"

    async def start(self) -> None:
        if self.task is None or self.task.done():
            self.ready = asyncio.Event()
            self.task = asyncio.create_task(self._listen())
        await self.ready.wait()

    async def _listen(self) -> None:
        while True:
            # No read timeout: the subscription is quiet until a worker
            # publishes (redis-py 8 would otherwise give up after 5 s).
            client = aioredis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=None, health_check_interval=30
            )
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.psubscribe(self.prefix + "*")
                self.ready.set()
                async for message in pubsub.listen():
                    if message["type"] != "pmessage":
                        continue
                    channel = message["channel"].decode()
                    future = self.waiters.get(channel[len(self.prefix):])
                    if future is not None and not future.done():
                        future.set_result(True)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Waiters fall back to reading the row (see wait()); keep
                # trying to subscribe again.
                log.exception("done listener lost Redis; reconnecting")
                self.ready.set()
                await asyncio.sleep(1)
            finally:
                await client.aclose()

    def expect(self, request_id: str) -> None:
        """Register before the task is queued, so the message cannot be missed."""
        self.waiters[request_id] = asyncio.get_running_loop().create_future()

    async def wait(self, request_id: str, timeout: float, is_finished) -> None:
        """Until the worker says the row is done, or `is_finished()` (an
        awaitable check of the row, run every few seconds in case a message
        was lost) says so, or the timeout passes."""
        future = self.waiters[request_id]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                try:
                    await asyncio.wait_for(asyncio.shield(future), min(5.0, remaining))
                    return
                except TimeoutError:
                    if await is_finished():
                        return
        finally:
            self.waiters.pop(request_id, None)


_listeners: dict[int, DoneListener] = {}


def listener() -> DoneListener:
    # One per event loop: daphne runs one loop per process.
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _listeners:
        _listeners[loop_id] = DoneListener()
    return _listeners[loop_id]
