"""Waking the stream pollers when a stream is written: the writer calls
`notify(arn)` once the write committed; pollers subscribed to the stream's
channel read at once instead of at their next look (pollers also look on
their own every second, so a lost wake only delays)."""

from django.conf import settings
from django.db import transaction

from invocations import redis_link


def channel(arn: str) -> str:
    return f"{settings.STRATUS_INSTANCE}:stream-wake:{arn}"


def notify(arn: str) -> None:
    """Publish a wake for `arn` after the current transaction commits (at
    once outside one). Never raises: a Redis outage only delays pollers."""
    name = channel(arn)
    transaction.on_commit(lambda: redis_link.quietly(lambda r: r.publish(name, b""), "stream wake"))
