"""Sync calls' records: written after the answer, from a Redis stream, in
batches, exactly once however often an entry is handled."""

import time
import uuid

import pytest
import redis

from functions.models import Function
from invocations import dispatch, recorder
from invocations.models import Invocation
from invocations.sync_request import SyncRequest


@pytest.fixture
def stream(redis_url, settings):
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    recorder._ensure_group(client)
    return client


def record(fn, status="succeeded") -> bytes:
    now = time.time()
    request = SyncRequest(
        request_id=str(uuid.uuid4()), function_id=str(fn.id), revision=str(fn.revision),
        event='{"k": "v"}', source="http", trigger="route:x", created_at=now, expires_at=now + 30,
    )
    inv = dispatch.record_of(fn, request)
    inv.function = fn
    inv.set_outcome(status=status, result='{"ok": true}', logs="hi\n", duration_ms=1.5)
    return recorder.encode(inv)


def test_a_record_is_stored_with_every_field(make_function):
    fn = make_function()
    payload = record(fn)
    assert recorder.store([payload]) == 1
    inv = Invocation.objects.get()
    assert (inv.status, inv.source, inv.trigger, inv.event) == ("succeeded", "http", "route:x", '{"k": "v"}')
    assert inv.billed_duration_ms == 2 and "REPORT RequestId" in inv.logs
    assert inv.created_at <= inv.finished_at


def test_storing_a_record_twice_keeps_one_row(make_function):
    fn = make_function()
    payload = record(fn)
    recorder.store([payload])
    recorder.store([payload, record(fn)])
    assert Invocation.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_records_of_a_deleted_function_are_dropped_not_the_batch(make_function):
    """SQLite checks foreign keys at commit: this test commits."""
    kept, gone = make_function("kept"), make_function("gone")
    payloads = [record(kept), record(gone), record(kept)]
    Function.objects.filter(pk=gone.pk).delete()
    recorder.store(payloads)
    assert sorted(Invocation.objects.values_list("function__name", flat=True)) == ["kept", "kept"]


def test_a_recorder_takes_over_what_a_dead_one_left(stream, make_function, monkeypatch):
    fn = make_function()
    stream.xadd(recorder.stream_key(), {"r": record(fn)})
    # A recorder read it, then died before storing it.
    stream.xreadgroup(recorder.GROUP, "dead", {recorder.stream_key(): ">"}, count=10)
    assert recorder.drain(stream, "alive", block_ms=10) == 0
    monkeypatch.setattr(recorder, "CLAIM_IDLE_MS", 0)
    assert recorder.drain(stream, "alive", block_ms=10) == 1
    assert Invocation.objects.count() == 1
    assert stream.xlen(recorder.stream_key()) == 0


def test_a_redis_that_lost_the_group_gets_it_back(stream, make_function):
    stream.flushdb()
    assert recorder.drain(stream, "me", block_ms=10) == 0
    stream.xadd(recorder.stream_key(), {"r": record(make_function())})
    assert recorder.drain(stream, "me", block_ms=10) == 1
