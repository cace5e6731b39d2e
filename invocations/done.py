"""One way out: the done message, and the one subscription per event loop
that wakes every caller waiting for one.

When an invocation reaches its final status the worker publishes a `Done`
on `<instance>:done:<request_id>`. It carries the whole answer (status,
result, error, the last 4 KB of the log), so a sync caller answers from it
without reading the database. Every waiting caller in a web process (the
Invoke API, HTTP routes, the console, the CLI) waits on the same
`Listener`: one pattern subscription held by a task on the process's event
loop, so waiting holds no thread.

The listener also carries functions.changes' channel (the cache
invalidations of functions.lookup and triggers' route table); after a
reconnect it tells functions.changes that anything may have changed, since
messages may have been missed, and `epoch` moves on so waiters know to
look for their record instead."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import redis.asyncio
from django.conf import settings

from functions import changes

log = logging.getLogger(__name__)

# Lambda returns the last 4 KB of the log with LogType=Tail; the last 4096
# characters always hold the last 4096 bytes.
LOG_TAIL_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Done:
    """The final answer of one invocation.

    status: one of invocations.models.FINISHED; result: the handler's JSON
    result as text (status succeeded); error: Lambda's {errorType,
    errorMessage, stackTrace} (other statuses); logs_tail: the log's last
    4 KB; executed_version: the version that ran ($LATEST; "" when none
    could: the version or alias asked for did not exist)."""

    request_id: str
    status: str
    result: str | None = None
    error: dict | None = None
    logs_tail: str = ""
    executed_version: str = "$LATEST"

    def encode(self) -> bytes:
        # Field by field: dataclasses.asdict deep-copies, at a cost per call.
        return json.dumps({
            "request_id": self.request_id, "status": self.status, "result": self.result,
            "error": self.error, "logs_tail": self.logs_tail, "executed_version": self.executed_version,
        }, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> Done:
        return cls(**json.loads(data))

    @classmethod
    def of(cls, inv) -> Done:
        """From an Invocation row (or anything with its fields)."""
        return cls(
            request_id=str(inv.request_id), status=inv.status, result=inv.result,
            error=inv.error, logs_tail=(inv.logs or "")[-LOG_TAIL_CHARS:],
            executed_version=inv.function_version,
        )


def channel(request_id) -> str:
    return f"{settings.STRATUS_INSTANCE}:done:{request_id}"


class Listener:
    """Waiters of one event loop, woken by one pattern subscription."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.prefix = f"{settings.STRATUS_INSTANCE}:done:"
        self.waiters: dict[str, asyncio.Future] = {}
        self.subscribed = asyncio.Event()
        self.epoch = 0
        self.task: asyncio.Task | None = None

    async def expect(self, request_id) -> asyncio.Future:
        """A future resolved with the Done of `request_id`. Register before
        the call is handed over, so its message cannot be missed."""
        self._start()
        if not self.subscribed.is_set():
            # Only until Redis confirms; if it is down, the caller's own
            # deadline and record check cover it.
            try:
                await asyncio.wait_for(self.subscribed.wait(), 5)
            except TimeoutError:
                pass
        future = self.loop.create_future()
        self.waiters[str(request_id)] = future
        return future

    def forget(self, request_id) -> None:
        self.waiters.pop(str(request_id), None)

    def start(self) -> None:
        """Subscribe now (the doors call it on their first request, so cache
        invalidations arrive before any call waits)."""
        self._start()

    def _start(self) -> None:
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            client = redis.asyncio.Redis.from_url(
                settings.REDIS_URL, socket_timeout=None, health_check_interval=30
            )
            try:
                pubsub = client.pubsub()
                await pubsub.psubscribe(self.prefix + "*")
                await pubsub.subscribe(changes.channel())
                async for message in pubsub.listen():
                    self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure: subscribe again
                if self.subscribed.is_set():
                    log.warning("done listener lost Redis (%s); subscribing again", e)
                self.subscribed.clear()
                await asyncio.sleep(0.5)
            finally:
                await client.aclose()

    def _dispatch(self, message: dict) -> None:
        kind = message["type"]
        if kind == "pmessage":
            request_id = message["channel"].decode()[len(self.prefix):]
            future = self.waiters.get(request_id)
            if future is not None and not future.done():
                try:
                    future.set_result(Done.decode(message["data"]))
                except (ValueError, TypeError):
                    log.warning("malformed done message for %s", request_id)
        elif kind == "message":
            changes.received(message["data"].decode())
        elif kind == "subscribe":
            # Both subscriptions stand: anything published from now on
            # arrives. A reconnect may have missed messages meanwhile.
            self.epoch += 1
            if self.epoch > 1:
                changes.received(None)
            self.subscribed.set()


_listeners: dict[asyncio.AbstractEventLoop, Listener] = {}


def listener(loop: asyncio.AbstractEventLoop | None = None) -> Listener:
    """The listener of `loop` (default: the running loop)."""
    loop = loop or asyncio.get_running_loop()
    found = _listeners.get(loop)
    if found is None:
        # A loop that closed (asyncio.run in a command) leaves its entry.
        for old in [lp for lp in _listeners if lp.is_closed()]:
            del _listeners[old]
        found = _listeners[loop] = Listener(loop)
    return found
