"""The sync lane: how a waiting caller's invocation reaches a worker.

A Celery task round trip (kombu's envelope, the prefork pool's pipe to a
child, the ack) costs more than everything else a warm invocation does, and
a sync caller pays for it while it waits. So sync invocations skip it: the
web process pushes the request id onto one Redis list, and every worker
process (each prefork child, or the worker itself under a thread or solo
pool) has a thread blocked in BRPOP on that list, which runs the invocation
with the same runner.run a Celery task would use.

Nothing else changes: the row is committed before the push, the worker
claims it with the same conditional UPDATE, and a push that is lost (Redis
down, a worker killed between pop and claim) leaves a queued row that the
reconciler hands to Celery. Async, retried and queued work stays on Celery,
where priorities, countdowns and acks live."""

import logging
import os
import threading
import time

import redis
from django.conf import settings
from django.db import close_old_connections

from invocations import live

log = logging.getLogger(__name__)
# BRPOP gives up after this long and is called again, so a lane thread
# notices a broken connection in a bounded time.
POP_TIMEOUT_S = 5


PRIORITIES = ("high", "normal", "low")


def key(priority: str = "normal") -> str:
    """One list per priority: BRPOP serves the first non-empty key it is
    given, so a high-priority call never waits behind normal ones."""
    return f"{settings.STRATUS_INSTANCE}:lane:{priority}"


# Pushes the request id with, one per line after it, the live groups that
# someone is watching right now: the worker then streams the running row and
# its log lines without asking Redis again, one round trip less per call.
_PUSH = r"""
local message = ARGV[1]
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then message = message .. '\n' .. ARGV[i] end
end
redis.call('LPUSH', KEYS[1], message)
"""
_push_script = None


def push(request_id, groups: list[str], priority: str = "normal") -> bool:
    """Hand a committed sync row to a worker, with which of its live
    `groups` are watched; False when Redis refused (the caller falls back
    to Celery)."""
    lane = key(priority if priority in PRIORITIES else "normal")
    global _push_script
    try:
        client = live.redis_client()
        if _push_script is None:
            _push_script = client.register_script(_PUSH)
        _push_script(
            keys=[lane, *(live.group_key(g) for g in groups)],
            args=[str(request_id), *groups], client=client,
        )
        return True
    except Exception:
        log.exception("sync lane push of %s failed; queueing it on Celery", request_id)
        return False


def serve(stop: threading.Event | None = None) -> None:
    """Run sync invocations popped from the lane until `stop` is set."""
    from invocations import runner

    stop = stop or threading.Event()
    client = None
    while not stop.is_set():
        try:
            if client is None:
                # The socket timeout must outlast the server-side BRPOP wait.
                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=POP_TIMEOUT_S + 10)
            item = client.brpop([key(p) for p in PRIORITIES], timeout=POP_TIMEOUT_S)
        except Exception:
            log.exception("sync lane lost Redis; trying again")
            client = None
            time.sleep(1)
            continue
        if item is None:
            continue
        request_id, *watched = item[1].decode().split("\n")
        # What Celery's Django fix-up does around a task: drop a database
        # connection that broke or grew too old.
        close_old_connections()
        try:
            runner.run_sync(request_id, watched)
        except Exception:
            # The row stays queued or running; the reconciler takes it from here.
            log.exception("sync invocation %s failed in the lane", request_id)


_started: dict[int, list[threading.Thread]] = {}


def start_threads(count: int = 1) -> None:
    """Start `count` lane threads in this process (once per process)."""
    pid = os.getpid()
    if pid in _started:
        return
    _started.clear()
    _started[pid] = [
        threading.Thread(target=serve, name=f"sync-lane-{i}", daemon=True) for i in range(count)
    ]
    for thread in _started[pid]:
        thread.start()
