"""Who is running: the node (one Docker engine) and each worker process's
heartbeat.

A node is named by STRATUS_NODE (default: the host name). Every process
that claims invocations (a Celery child, a lane thread's process) beats
every STRATUS_HEARTBEAT seconds: a Worker row in the database (the truth
the reconciler reads, which survives a Redis restart) and the node's score
in the Redis sorted set `<instance>:nodes` (which the web's lane push reads
to prefer a node with a warm environment). A worker whose row is older than
STRATUS_WORKER_LOST_AFTER is gone."""

import logging
import os
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from invocations import redis_link
from invocations.models import Worker

log = logging.getLogger(__name__)


def node() -> str:
    return settings.STRATUS_NODE


def nodes_key() -> str:
    return f"{settings.STRATUS_INSTANCE}:nodes"


def workers_key() -> str:
    """Hash of worker id -> last heartbeat (epoch seconds): what the web
    reads to tell that the worker running a sync call is gone."""
    return f"{settings.STRATUS_INSTANCE}:workers"


def lanes_key() -> str:
    """Sorted set of `<worker id>#<n>` -> last heartbeat (epoch seconds),
    one member per lane thread: the installation's capacity for sync calls,
    which invocations.concurrency shares out between teams."""
    return f"{settings.STRATUS_INSTANCE}:lanes"


def running_key(request_id) -> str:
    """Which worker runs a sync call (set with its lease, gone with its answer)."""
    return f"{settings.STRATUS_INSTANCE}:running:{request_id}"


_identity: dict[int, str] = {}


def worker_id() -> str:
    """`<node>:<pid>:<random>`, one per process (a new one after fork, and a
    restarted process with a reused pid is still a new worker)."""
    pid = os.getpid()
    if pid not in _identity:
        _identity.clear()
        _identity[pid] = f"{node()}:{pid}:{uuid.uuid4().hex[:8]}"
    return _identity[pid]


def beat() -> None:
    """One heartbeat of this process; errors are logged, never raised."""
    now = timezone.now()
    try:
        Worker.objects.update_or_create(
            id=worker_id(), defaults={"node": node(), "pid": os.getpid(), "heartbeat_at": now}
        )
    except Exception as e:  # noqa: BLE001 - a missed beat is retried next time
        log.warning("heartbeat not written to the database: %s", e)

    def in_redis(client):
        pipe = client.pipeline(transaction=False)
        pipe.zadd(nodes_key(), {node(): time.time()})
        pipe.hset(workers_key(), worker_id(), time.time())
        _beat_lanes(pipe)
        pipe.execute()

    redis_link.quietly(in_redis, "heartbeat")


_lanes: dict[int, int] = {}


def serve_lanes(count: int) -> None:
    """Say that this process runs `count` lane threads (counted from now)."""
    _lanes.clear()
    _lanes[os.getpid()] = count

    def in_redis(client):
        pipe = client.pipeline(transaction=False)
        _beat_lanes(pipe)
        pipe.execute()

    redis_link.quietly(in_redis, "lane heartbeat")


def _beat_lanes(pipe) -> None:
    count = _lanes.get(os.getpid(), 0)
    if count:
        now = time.time()
        pipe.zadd(lanes_key(), {f"{worker_id()}#{i}": now for i in range(count)})


def alive_since() -> datetime:
    """Workers with a heartbeat after this moment are alive."""
    return timezone.now() - timedelta(seconds=settings.STRATUS_WORKER_LOST_AFTER)


def alive_workers() -> set[str]:
    return set(Worker.objects.filter(heartbeat_at__gte=alive_since()).values_list("id", flat=True))


def forget_dead() -> int:
    """Drop the rows and Redis beats of workers silent for a day (their
    rows were recovered long ago)."""
    cutoff = timezone.now() - timedelta(days=1)

    def in_redis(client):
        beats = client.hgetall(workers_key())
        old = [w for w, at in beats.items() if float(at) < cutoff.timestamp()]
        if old:
            client.hdel(workers_key(), *old)

    redis_link.quietly(in_redis, "forgetting dead workers")
    return Worker.objects.filter(heartbeat_at__lt=cutoff).delete()[0]


_started: set[int] = set()


def start_heartbeat() -> None:
    """A daemon thread beating for this process (once per process)."""
    pid = os.getpid()
    if pid in _started:
        return
    _started.clear()
    _started.add(pid)

    def loop() -> None:
        while True:
            close_old_connections()
            beat()
            time.sleep(settings.STRATUS_HEARTBEAT)

    threading.Thread(target=loop, name="heartbeat", daemon=True).start()
