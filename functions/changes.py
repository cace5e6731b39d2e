"""Telling every process that something they cache changed.

Web processes keep copies of what each request needs (functions.lookup:
functions by name; triggers.route_table: the HTTP routes; `Copies` for the
AWS door: a key's role, queues, topics and buckets by name). A save or delete
calls `announce()`, which drops this process's copies at once and
publishes on `<instance>:changed`; the web's done listener
(invocations.done) hands each message to `received()`, which drops the
other processes' copies. After a reconnect the listener calls
`received(None)`: messages may have been missed, so everything is dropped.
The copies also expire on their own, in case Redis was away."""

import logging
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

log = logging.getLogger(__name__)
_handlers: list[Callable[[str | None], None]] = []
_client: redis.Redis | None = None


def channel() -> str:
    return f"{settings.STRATUS_INSTANCE}:changed"


def on_change(handler: Callable[[str | None], None]) -> Callable[[str | None], None]:
    """Register handler(what) for every change ("function", "route"), or
    handler(None) for "anything may have changed"."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def received(what: str | None) -> None:
    for handler in _handlers:
        handler(what)


def follow(handler: Callable[[str | None], None], *, idle_s: float | None, retry_s: float, who: str) -> None:
    """Hear the announcements in a thread of one's own, for ever: handler(None)
    once subscribed and after every reconnect (messages may have been
    missed), handler(what) for each one, handler(None) after `idle_s` with
    none (None: never); without Redis, handler(None) every `retry_s`.
    `who` names the follower in the log."""
    while True:
        client = None
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(channel())
            handler(None)  # subscribed: anything announced from now on is heard
            while True:
                message = pubsub.get_message(timeout=idle_s if idle_s is not None else 3600.0)
                if message is not None:
                    data = message["data"]
                    handler(data.decode() if isinstance(data, bytes) else data)
                elif idle_s is not None:
                    handler(None)
        except redis.RedisError as e:
            log.debug("%s: announcements unheard (%s); again in %s s", who, e, retry_s)
            handler(None)
        finally:
            if client is not None:
                client.close()
        time.sleep(retry_s)


def announce(what: str) -> None:
    """Drop our copies now and tell the other processes (best effort)."""
    received(what)
    _publish(what)


def _publish(what: str) -> None:
    global _client
    try:
        if _client is None:
            _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _client.publish(channel(), what)
    except redis.RedisError as e:
        log.warning("could not announce a %s change (%s); other processes see it within seconds", what, e)


class Copies:
    """Rows kept in this process's memory by key, for the doors' hot paths:
    dropped when `what` is announced here or in another process (or
    anything may have changed), and `ttl_s` after they were read in case
    that news was lost. Values are shared between threads: never change
    one, read a fresh row to change it."""

    def __init__(self, what: str, ttl_s: float = 10.0):
        self.what, self.ttl_s = what, ttl_s
        self._items: dict = {}
        on_change(self._dropped)

    def get(self, key):
        hit = self._items.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key, value) -> None:
        self._items[key] = (time.monotonic() + self.ttl_s, value)

    def forget(self, key) -> None:
        self._items.pop(key, None)

    def _dropped(self, what: str | None) -> None:
        if what is None or what == self.what:
            self._items.clear()


def announce_saves(model, what: str) -> None:
    """Announce `what` whenever a row of `model` is saved or deleted, once
    the change is committed (announced earlier, another process could read
    the old row again and keep it). Not on queryset.update(): callers that
    change cached fields that way announce themselves."""

    def changed(sender, **kwargs) -> None:
        received(what)  # This process's copies at once (a test's transaction never commits)...
        transaction.on_commit(lambda: announce(what))  # ...and everyone's once it is committed.

    post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"changes:{what}:{model.__name__}:save")
    post_delete.connect(changed, sender=model, weak=False,
                        dispatch_uid=f"changes:{what}:{model.__name__}:delete")
