"""One Redis subscription per process (per event loop, for async callers)
for every caller waiting on a sync invocation.

It is a pattern subscription to `<instance>:done:*` (the channel the worker
publishes when a row is final) that wakes the waiter registered for that
request id. Blocking callers (sync views such as HTTP routes, the CLI) share
DoneListener, a thread that wakes them through an Event. The Invoke fast
path waits on AsyncDoneListener, a task on daphne's own event loop, so a
message wakes its waiter without a thread in between. No call opens a
connection or subscribes of its own, and an async caller holds no thread
while it waits."""

import asyncio
import json
import logging
import os
import threading
import time

import redis
import redis.asyncio
from django.conf import settings

log = logging.getLogger(__name__)


class Waiter:
    """A blocking caller waits on an Event; an async one (loop given) on a
    future of its loop, resolved by a call made on that loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop
        self.event = threading.Event() if loop is None else None
        self.future: asyncio.Future | None = None
        self.woken = False
        self.message = b""

    def wake(self, message: bytes = b"1") -> None:
        """From any thread."""
        self.message = message
        if self.loop is None:
            self.event.set()
        else:
            self.loop.call_soon_threadsafe(self._wake_in_loop)

    def wake_here(self, message: bytes) -> None:
        """From the waiter's own loop (AsyncDoneListener)."""
        self.message = message
        self._wake_in_loop()

    def _wake_in_loop(self) -> None:
        self.woken = True
        if self.future is not None and not self.future.done():
            self.future.set_result(True)

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)

    def outcome(self) -> dict | None:
        """The final row's answer when the worker sent it along
        (live.done_message), else None: read the row."""
        if not self.message.startswith(b"{"):
            return None
        try:
            return json.loads(self.message)
        except ValueError:
            return None

    async def wait_async(self, timeout: float) -> bool:
        if self.woken:
            return True
        # A bare future and a timer: cheaper than wait_for(shield(...)),
        # which costs a task per call.
        self.future = future = self.loop.create_future()
        timer = self.loop.call_later(timeout, _resolve, future, False)
        try:
            return await future
        finally:
            timer.cancel()


def _resolve(future: asyncio.Future, value: bool) -> None:
    if not future.done():
        future.set_result(value)


class _Subscription:
    """What both listeners share: the channel pattern, and the waiters by
    request id that its messages wake."""

    def __init__(self) -> None:
        self.waiters: dict[str, Waiter] = {}
        self.prefix = f"{settings.STRATUS_INSTANCE}:done:"

    def _register(self, request_id, waiter: Waiter) -> Waiter:
        self.waiters[str(request_id)] = waiter
        return waiter

    def forget(self, request_id) -> None:
        self.waiters.pop(str(request_id), None)

    def _waiter_for(self, message: dict) -> Waiter | None:
        return self.waiters.get(message["channel"].decode()[len(self.prefix):])


class DoneListener(_Subscription):
    """For blocking callers: a thread holds the subscription and wakes them
    through their Event."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None

    def expect(self, request_id) -> Waiter:
        """Register before the task is queued, so the message cannot be missed."""
        self._start()
        return self._register(request_id, Waiter())

    def _start(self) -> None:
        with self.lock:
            if self.thread is not None and self.thread.is_alive() and self.pid == os.getpid():
                return
            # Threads do not survive fork: a child starts its own.
            self.pid = os.getpid()
            self.subscribed.clear()
            self.thread = threading.Thread(target=self._listen, name="done-listener", daemon=True)
            self.thread.start()
        # Only the first caller waits for Redis to confirm the subscription;
        # if Redis is down, waiters fall back to reading their row.
        self.subscribed.wait(timeout=5)

    def _listen(self) -> None:
        while True:
            try:
                # No read timeout: the subscription is quiet until a worker
                # publishes (redis-py 8 would give up after 5 s).
                client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=None, health_check_interval=30
                )
                pubsub = client.pubsub()
                pubsub.psubscribe(self.prefix + "*")
                for message in pubsub.listen():
                    if message["type"] == "psubscribe":
                        self.subscribed.set()
                    elif message["type"] == "pmessage" and (waiter := self._waiter_for(message)):
                        waiter.wake(message["data"])
            except Exception:
                log.exception("done listener lost Redis; subscribing again")
                time.sleep(1)


class AsyncDoneListener(_Subscription):
    """The same subscription held by a task on one event loop (the Invoke
    fast path's in daphne): a message wakes its waiter right there, with no
    thread and no cross-thread hand-off in between."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.subscribed = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def expect(self, request_id) -> Waiter:
        """Register before the row is handed over, so the message cannot be missed."""
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._listen())
        if not self.subscribed.is_set():
            # Only until Redis confirms; if it is down, waiters read their row.
            try:
                await asyncio.wait_for(self.subscribed.wait(), 5)
            except TimeoutError:
                pass
        return self._register(request_id, Waiter(self.loop))

    async def _listen(self) -> None:
        while True:
            client = redis.asyncio.Redis.from_url(
                settings.REDIS_URL, socket_timeout=None, health_check_interval=30
            )
            try:
                pubsub = client.pubsub()
                await pubsub.psubscribe(self.prefix + "*")
                async for message in pubsub.listen():
                    if message["type"] == "psubscribe":
                        self.subscribed.set()
                    elif message["type"] == "pmessage" and (waiter := self._waiter_for(message)):
                        waiter.wake_here(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("async done listener lost Redis; subscribing again")
                self.subscribed.clear()
                await asyncio.sleep(1)
            finally:
                await client.aclose()


_async_listeners: dict[asyncio.AbstractEventLoop, AsyncDoneListener] = {}


def async_listener(loop: asyncio.AbstractEventLoop) -> AsyncDoneListener:
    if loop not in _async_listeners:
        _async_listeners[loop] = AsyncDoneListener(loop)
    return _async_listeners[loop]


_listener: DoneListener | None = None


def listener() -> DoneListener:
    global _listener
    if _listener is None:
        _listener = DoneListener()
    return _listener
