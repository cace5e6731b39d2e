"""Telling every process that something they cache changed.

Web processes keep copies of what each request needs (functions.lookup:
functions by name; triggers.route_table: the HTTP routes). A save or delete
calls `announce()`, which drops this process's copies at once and
publishes on `<instance>:changed`; the web's done listener
(invocations.done) hands each message to `received()`, which drops the
other processes' copies. After a reconnect the listener calls
`received(None)`: messages may have been missed, so everything is dropped.
The copies also expire on their own, in case Redis was away."""

import logging
from collections.abc import Callable

import redis
from django.conf import settings

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
