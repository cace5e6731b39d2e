"""The engine's Redis connection, per process, and how it rides out an
outage.

Redis is transport, not truth: while it is down, a call that only feeds
the live console is skipped (`quietly`), and one that must happen (the done
message, a record) is retried until it goes through (`until_done`). Either
way the outage is logged once when it starts and once when it ends, never
a traceback a second."""

import logging
import os
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings

log = logging.getLogger(__name__)
_clients: dict[int, redis.Redis] = {}
_lock = threading.Lock()


def client() -> redis.Redis:
    """This process's client (a pool of connections shared by its threads)."""
    pid = os.getpid()
    found = _clients.get(pid)
    if found is None:
        with _lock:
            if pid not in _clients:
                _clients.clear()
                _clients[pid] = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=2,
                    health_check_interval=30,
                )
            found = _clients[pid]
    return found


class _Outage:
    """Logs the start and the end of an outage once each."""

    def __init__(self) -> None:
        self.since: float | None = None

    def failed(self, what: str, error: Exception) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning("Redis unreachable (%s: %s); carrying on without it", what, error)

    def succeeded(self) -> None:
        if self.since is not None:
            log.warning("Redis reachable again after %.1f s", time.monotonic() - self.since)
            self.since = None


outage = _Outage()


def quietly(call: Callable[[redis.Redis], object], what: str, default=None):
    """call(client), or `default` when Redis is unreachable."""
    try:
        result = call(client())
    except redis.RedisError as e:
        outage.failed(what, e)
        return default
    outage.succeeded()
    return result


def until_done(call: Callable[[redis.Redis], object], what: str, give_up_s: float = 300.0):
    """call(client), retried with backoff while Redis is unreachable, for at
    most `give_up_s`; then the last RedisError is raised."""
    deadline = time.monotonic() + give_up_s
    wait = 0.05
    while True:
        try:
            result = call(client())
        except redis.RedisError as e:
            outage.failed(what, e)
            if time.monotonic() + wait > deadline:
                raise
            time.sleep(wait)
            wait = min(wait * 2, 2.0)
            continue
        outage.succeeded()
        return result
