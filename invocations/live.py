"""Carrying rendered fragments (invocations.fragments) to Channels groups.

Workers send from a thread of their own with one long-lived event loop, so
a send costs the invocation nothing and fragments arrive in the order they
were sent (one queue, drained by one coroutine). Live views are best
effort: while Redis is down nothing is sent, and nothing fails."""

import asyncio
import logging
import os
import threading

from channels.layers import get_channel_layer
from django.conf import settings

from invocations import redis_link

log = logging.getLogger(__name__)


def fn_group(function_id) -> str:
    return f"fn-{function_id}"


def inv_group(request_id) -> str:
    return f"inv-{request_id}"


def team_group(team_id) -> str:
    return f"team-{team_id}"


def invocation_groups(request_id, function_id) -> list[str]:
    """Where an invocation's running row and log lines go: its own page and
    its function's pages."""
    return [inv_group(request_id), fn_group(function_id)]


class _Sender:
    def __init__(self):
        self.pid = None
        self.loop = None
        self.queue = None
        self.lock = threading.Lock()

    def _start(self):
        # Started lazily in each process: a Celery prefork child must not
        # inherit its parent's loop thread (threads do not survive fork).
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.queue = asyncio.Queue()
            ready.set()
            self.loop.run_until_complete(self._drain())

        threading.Thread(target=run, name="live-sender", daemon=True).start()
        ready.wait()
        self.pid = os.getpid()

    async def _drain(self):
        while True:
            batch = [await self.queue.get()]
            # The layer as configured now, not when the sender started:
            # channels makes a new one when CHANNEL_LAYERS changes (tests
            # do), and a sender keeping the first would send to nobody.
            layer = get_channel_layer()
            # Whatever queued up while the last send was out goes as one
            # message per group: a chatty function costs one send, not
            # one per line (htmx swaps every oob element in a message).
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            merged: dict[tuple, list[str]] = {}
            for groups, html in batch:
                merged.setdefault(tuple(groups), []).append(html)
            for groups, parts in merged.items():
                message = {"type": "html.fragment", "html": "".join(parts)}
                for group in groups:
                    try:
                        await layer.group_send(group, message)
                    except Exception as e:  # noqa: BLE001 - live views are best effort
                        redis_link.outage.failed(f"live update to {group}", e)

    def send(self, groups: list[str], html: str) -> None:
        with self.lock:
            if self.pid != os.getpid():
                self._start()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (groups, html))


_sender = _Sender()


def send(groups: list[str], html: str) -> None:
    if groups:
        _sender.send(groups, html)


def group_key(group: str) -> str:
    # channels_redis keeps a group's members in this sorted set; Redis
    # deletes the key when the last member leaves.
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    return f"{config.get('prefix', 'asgi')}:group:{group}"


def on_redis() -> bool:
    return settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


def watched(groups: list[str]) -> list[str]:
    """The groups someone is connected to (none while Redis is down).
    Rendering and sending fragments costs a worker more than the invocation
    itself, so nobody watching means nothing is rendered."""
    if not on_redis():
        return list(groups)

    def ask(client) -> list[str]:
        pipe = client.pipeline(transaction=False)
        for group in groups:
            pipe.exists(group_key(group))
        return [g for g, there in zip(groups, pipe.execute(), strict=True) if there]

    return redis_link.quietly(ask, "live groups", default=[])
