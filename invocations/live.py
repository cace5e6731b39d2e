"""Live updates: rendered HTML fragments sent to Channels groups, and the
pub/sub message that wakes a caller waiting for a sync result.

Workers send from a thread of their own with one long-lived event loop, so a
send costs the task nothing and fragments arrive in the order they were sent
(one queue, drained by one coroutine)."""

import asyncio
import json
import logging
import os
import threading

import redis
from channels.layers import get_channel_layer
from django.conf import settings

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


def done_channel(request_id) -> str:
    return f"{settings.STRATUS_INSTANCE}:done:{request_id}"


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
        layer = get_channel_layer()
        while True:
            batch = [await self.queue.get()]
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
                    except Exception:
                        log.exception("live update to %s failed", group)

    def send(self, groups: list[str], html: str) -> None:
        with self.lock:
            if self.pid != os.getpid():
                self._start()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (groups, html))


_sender = _Sender()


def send(groups: list[str], html: str) -> None:
    _sender.send(groups, html)


_redis = {}


def redis_client() -> redis.Redis:
    pid = os.getpid()
    if pid not in _redis:
        _redis.clear()
        _redis[pid] = redis.Redis.from_url(settings.REDIS_URL)
    return _redis[pid]


def group_key(group: str) -> str:
    # channels_redis keeps a group's members in this sorted set; Redis
    # deletes the key when the last member leaves.
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG'].get('prefix', 'asgi')}:group:{group}"


def watched(groups: list[str]) -> list[str]:
    """The groups someone is connected to. Rendering and sending fragments
    costs a worker more than the invocation itself, so nobody watching
    means nothing is rendered."""
    return _watched(redis_client().pipeline(transaction=False), groups)


def _watched(pipe, groups: list[str]) -> list[str]:
    """Run `pipe` with an EXISTS for each group appended; the groups present."""
    on_redis = settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    if on_redis:
        for group in groups:
            pipe.exists(group_key(group))
    replies = pipe.execute()
    if not on_redis:
        return list(groups)
    present = replies[len(replies) - len(groups):]
    return [g for g, there in zip(groups, present, strict=True) if there]


# A sync caller's answer rides on the done message when it is this small or
# smaller, so the web process need not read the row back; Invoke's LogType
# Tail wants the last 4 KB of the log, and the last 4096 characters always
# hold the last 4096 bytes.
DONE_INLINE_MAX = 256 * 1024
DONE_LOG_TAIL_CHARS = 4096


def done_message(inv) -> bytes:
    if not inv.is_finished or len(inv.result or "") > DONE_INLINE_MAX:
        return b"1"
    return json.dumps({
        "status": inv.status,
        "result": inv.result,
        "error": inv.error,
        "logs_tail": (inv.logs or "")[-DONE_LOG_TAIL_CHARS:],
    }).encode()


def announce_done(inv, groups: list[str]) -> list[str]:
    """Wake the sync caller, and ask in the same round trip which of
    `groups` someone is watching (the final row is shown to those)."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.publish(done_channel(inv.request_id), done_message(inv))
    return _watched(pipe, groups)
