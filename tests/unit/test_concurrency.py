"""Reserved concurrency against a real redis-server on a free port: the
counting semaphore, the sync throttle and the async wait."""

import multiprocessing
import time
import uuid

import pytest
import redis

from invocations import concurrency, dispatch, runner
from invocations.models import Invocation


@pytest.fixture
def real_redis(redis_url, settings):
    settings.REDIS_URL = redis_url
    concurrency.redis_link._clients.clear()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    concurrency.redis_link._clients.clear()


def test_it_counts_holders_up_to_the_limit(real_redis):
    fid = uuid.uuid4()
    assert [concurrency.acquire(fid, f"r{i}", 2, 60) for i in range(3)] == [1, 1, 0]
    concurrency.release(fid, "r0")
    assert concurrency.acquire(fid, "r2", 2, 60) == concurrency.TAKEN
    assert concurrency.holders(fid) == 2


def test_a_holder_taking_its_slot_again_is_not_counted_twice(real_redis):
    fid = uuid.uuid4()
    assert concurrency.acquire(fid, "r0", 1, 60) == concurrency.TAKEN
    assert concurrency.acquire(fid, "r0", 1, 60) == concurrency.ALREADY_HELD
    assert concurrency.holders(fid) == 1


def test_a_limit_of_zero_refuses_everyone(real_redis):
    assert concurrency.acquire(uuid.uuid4(), "r0", 0, 60) == concurrency.FULL


def test_an_expired_holder_frees_its_slot(real_redis):
    fid = uuid.uuid4()
    assert concurrency.acquire(fid, "dead-worker", 1, 0.05) == concurrency.TAKEN
    time.sleep(0.2)
    assert concurrency.acquire(fid, "next", 1, 60) == concurrency.TAKEN


def _grab(args) -> int:
    url, fid, request_id = args
    client = redis.Redis.from_url(url)
    concurrency.redis_client = lambda: client
    return concurrency.acquire(fid, request_id, 3, 60)


def test_the_limit_holds_across_processes(real_redis, redis_url):
    fid = str(uuid.uuid4())
    with multiprocessing.get_context("fork").Pool(8) as workers:
        results = workers.map(_grab, [(redis_url, fid, f"r{i}") for i in range(40)])
    assert results.count(concurrency.TAKEN) == 3
    assert concurrency.holders(fid) == 3


@pytest.mark.parametrize("value,expected", [("", None), (None, None), ("0", 0), (" 7 ", 7), (1000, 1000)])
def test_it_cleans_reserved_values(value, expected):
    assert concurrency.clean_reserved(value) == expected


@pytest.mark.parametrize("value,message", [
    ("-1", "must be from 0 to 1000, got -1"),
    ("1001", "must be from 0 to 1000, got 1001"),
    ("lots", "must be a whole number from 0 to 1000, got 'lots'"),
])
def test_it_explains_a_bad_reserved_value(value, message):
    with pytest.raises(concurrency.ReservedConcurrencyError) as e:
        concurrency.clean_reserved(value)
    assert message in str(e.value)


def test_a_function_without_a_limit_never_touches_redis(make_function, monkeypatch):
    monkeypatch.setattr(concurrency.redis_link, "client", lambda: pytest.fail("Redis was used"))
    fn = make_function()
    assert isinstance(concurrency.admit(fn, "r"), concurrency.Admission)
    concurrency.release_for(fn, "r")


# Async: waits without an attempt -------------------------------------------------


@pytest.fixture
def requeued(monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "queue",
        lambda rid, priority="normal", countdown=None: sent.append((str(rid), countdown))
    )
    return sent


def test_an_async_row_waits_for_a_slot_without_an_attempt(real_redis, make_function, requeued, monkeypatch):
    fn = make_function()
    concurrency.set_reserved(fn, 1)
    concurrency.acquire(fn.id, "someone-else", 1, 60)
    inv = Invocation.objects.create(function=fn, invocation_type="Event")
    monkeypatch.setattr(runner.pool, "lease", lambda f, running=None: pytest.fail("ran over the limit"))
    assert runner.run_async(str(inv.request_id)) == "waiting"
    inv.refresh_from_db()
    assert inv.status == "queued" and inv.attempts == 0
    assert requeued == [(str(inv.request_id), concurrency.WAIT_COUNTDOWN_S)]


def test_a_limit_of_zero_leaves_async_rows_to_the_reconciler(real_redis, make_function, requeued):
    fn = make_function()
    concurrency.set_reserved(fn, 0)
    inv = Invocation.objects.create(function=fn, invocation_type="Event")
    assert runner.run_async(str(inv.request_id)) == "waiting"
    assert requeued == []


def test_a_duplicate_task_does_not_give_away_the_runners_slot(real_redis, make_function):
    fn = make_function()
    concurrency.set_reserved(fn, 1)
    inv = Invocation.objects.create(function=fn, invocation_type="Event")
    held = concurrency.admit(fn, inv.request_id)
    assert held.taken
    duplicate = concurrency.admit(fn, inv.request_id)
    assert not duplicate.taken
    duplicate.abandon()
    assert concurrency.holders(fn.id) == 1
