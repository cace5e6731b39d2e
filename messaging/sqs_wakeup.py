"""Waking ReceiveMessage's long polls when a message arrives.

A waiting receive holds no thread: it waits on the event loop for a wake
from a send in this process (`notify`, called from a door thread) or for
its next look at the database (messages sent by another process, or whose
delay ended), whichever comes first."""

from __future__ import annotations

import asyncio
import threading

_waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
_lock = threading.Lock()


async def wait(queue_id, timeout: float) -> None:
    """Return after `timeout` seconds, or sooner when `notify(queue_id)` is called."""
    entry = (asyncio.get_running_loop(), asyncio.Event())
    key = str(queue_id)
    with _lock:
        _waiters.setdefault(key, set()).add(entry)
    try:
        await asyncio.wait_for(entry[1].wait(), max(timeout, 0))
    except TimeoutError:
        pass
    finally:
        with _lock:
            waiting = _waiters.get(key)
            if waiting is not None:
                waiting.discard(entry)
                if not waiting:
                    del _waiters[key]


def notify(queue_id) -> None:
    """Wake this process's receives waiting on the queue (from any thread)."""
    with _lock:
        waiting = list(_waiters.get(str(queue_id), ()))
    for loop, event in waiting:
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:
            pass  # That loop has closed; its waiter is gone with it.
