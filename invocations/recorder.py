"""The record of sync calls, written after their answer.

Lambda keeps nothing durable before it runs a synchronous call, and neither
do we: the worker answers the caller first (invocations.done), and in the
same Redis round trip adds the finished row to the stream
`<instance>:records`. Recorder threads (one in each worker's main process,
a consumer group between them) insert what the stream holds in batches,
then acknowledge and delete it. A recorder killed mid-batch leaves its
entries pending; another one claims them after CLAIM_IDLE_MS and inserts
them again, harmlessly: an insert of a request id already stored does
nothing. So every call ends up recorded, and a warm call writes nothing to
the database on its way.

Entries are JSON objects of the Invocation's fields (attribute names);
when Redis cannot take one for long, the worker stores it directly."""

import json
import logging
import uuid
from datetime import datetime
import os
import threading
import time

import redis
from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction

from functions.models import Function
from invocations import fastsql, redis_link
from invocations.models import Invocation

log = logging.getLogger(__name__)
GROUP = "recorders"
BATCH = 500
BLOCK_MS = 1000
# After a batch, wait this long before the next: under load, records then
# arrive in batches of many, and a batch costs about what one record does.
PAUSE_S = 0.25
# An entry a recorder took this long ago without acknowledging it is taken
# over by another (its recorder died).
CLAIM_IDLE_MS = 30_000
_FIELDS = [f.attname for f in Invocation._meta.concrete_fields]


def stream_key() -> str:
    return f"{settings.STRATUS_INSTANCE}:records"


def encode(inv: Invocation) -> bytes:
    """The row's fields, as the stream carries them (UUIDs and times as
    text, which the fields convert back on insert)."""
    return json.dumps({name: _plain(getattr(inv, name)) for name in _FIELDS}, separators=(",", ":")).encode()


def _plain(value):
    if isinstance(value, str | int | float | bool | dict | list) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # UUID


def add(pipe, inv: Invocation) -> None:
    """Queue the XADD of `inv`'s record on a Redis pipeline."""
    pipe.xadd(stream_key(), {"r": encode(inv)})


def store(payloads: list[bytes]) -> int:
    """Insert records (encoded rows); request ids already stored are left
    as they are. Rows of functions deleted meanwhile are dropped (their
    other invocations went with them). Returns how many were offered."""
    rows = [json.loads(p) for p in payloads]
    try:
        return _insert(rows)
    except IntegrityError:
        existing = {
            str(pk) for pk in Function.objects.filter(
                id__in={r["function_id"] for r in rows}
            ).values_list("id", flat=True)
        }
        kept = [r for r in rows if str(uuid.UUID(r["function_id"])) in existing]
        if len(kept) < len(rows):
            log.info("dropped %d records of deleted functions", len(rows) - len(kept))
        return _insert(kept) if kept else 0


def _insert(rows: list[dict]) -> int:
    with transaction.atomic():
        fastsql.insert_ignoring(Invocation, rows)
    return len(rows)


def store_now(inv: Invocation) -> None:
    """Insert one record directly (Redis could not take it)."""
    store([encode(inv)])


def _ensure_group(client: redis.Redis) -> None:
    try:
        client.xgroup_create(stream_key(), GROUP, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def drain(client: redis.Redis, consumer: str, block_ms: int = BLOCK_MS) -> int:
    """One round: take over entries another recorder left, then read new
    ones (waiting up to block_ms), store, acknowledge. Returns entries handled."""
    try:
        _next, claimed, *_ = client.xautoclaim(
            stream_key(), GROUP, consumer, CLAIM_IDLE_MS, "0-0", count=BATCH
        )
        fresh = client.xreadgroup(GROUP, consumer, {stream_key(): ">"}, count=BATCH, block=block_ms)
    except redis.ResponseError as e:
        if "NOGROUP" not in str(e):
            raise
        # A Redis that restarted empty lost the group with the stream.
        _ensure_group(client)
        return 0
    entries = [e for e in claimed if e and e[1]]
    for _stream, items in fresh or []:
        entries += items
    if not entries:
        return 0
    store([fields[b"r"] for _id, fields in entries])
    ids = [entry_id for entry_id, _ in entries]
    pipe = client.pipeline(transaction=False)
    pipe.xack(stream_key(), GROUP, *ids)
    pipe.xdel(stream_key(), *ids)
    pipe.execute()
    return len(entries)


def serve(consumer: str, stop: threading.Event) -> None:
    """Record until `stop` is set, riding out Redis and database outages."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=BLOCK_MS / 1000 + 10)
    grouped = False
    while not stop.is_set():
        try:
            if not grouped:
                _ensure_group(client)
                grouped = True
            close_old_connections()
            if drain(client, consumer):
                stop.wait(PAUSE_S)
            redis_link.outage.succeeded()
        except redis.RedisError as e:
            redis_link.outage.failed("recorder", e)
            grouped = False
            time.sleep(1)
        except Exception:  # noqa: BLE001 - the entries stay pending and are retried
            log.exception("recording a batch failed; it stays in the stream")
            time.sleep(1)


_started: set[int] = set()


def start(consumer: str) -> threading.Event:
    """A recorder thread in this process (once per process)."""
    stop = threading.Event()
    if os.getpid() not in _started:
        _started.add(os.getpid())
        threading.Thread(target=serve, args=(consumer, stop), name="recorder", daemon=True).start()
    return stop
