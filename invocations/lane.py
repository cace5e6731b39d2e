"""The sync lane, the worker's side: threads that pop sync calls and run them.

Every process that runs invocations (each prefork child, the solo pool, or
one thread per pool thread of a thread pool) has a thread blocked in BRPOP
on the lanes this node serves (invocations.dispatch pushes them): its own
node's list before `any`, and high before normal before low, so a
high-priority call never waits behind others and a call sent to this node
for its warm environment is taken here first. A Celery task round trip
(kombu's envelope, the prefork pool's pipe, the ack) would cost more than
everything else a warm call does, and a sync caller waits through it."""

import logging
import os
import threading
import time

import redis
from django.conf import settings
from django.db import close_old_connections

from invocations import nodes, redis_link, runner
from invocations.dispatch import PRIORITIES, lane_key

log = logging.getLogger(__name__)
# BRPOP gives up after this long and is called again, so a lane thread
# notices a broken connection in a bounded time.
POP_TIMEOUT_S = 5


def keys() -> list[str]:
    """The lists this node's workers pop, in the order BRPOP serves them."""
    return [lane_key(node, p) for p in PRIORITIES for node in (nodes.node(), "any")]


def serve(stop: threading.Event | None = None) -> None:
    """Run sync calls popped from the lane until `stop` is set."""
    stop = stop or threading.Event()
    client = None
    lanes = keys()
    while not stop.is_set():
        try:
            if client is None:
                # The socket timeout must outlast the server-side BRPOP wait.
                client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=POP_TIMEOUT_S + 10, socket_connect_timeout=2
                )
            item = client.brpop(lanes, timeout=POP_TIMEOUT_S)
        except redis.RedisError as e:
            redis_link.outage.failed("sync lane", e)
            client = None
            time.sleep(1)
            continue
        redis_link.outage.succeeded()
        if item is None:
            continue
        popped_at = time.monotonic()
        # What Celery's Django fix-up does around a task: drop a database
        # connection that broke or grew too old.
        close_old_connections()
        try:
            runner.run_sync(item[1], popped_at)
        except Exception:
            log.exception("sync call failed in the lane")


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
    nodes.serve_lanes(count)
