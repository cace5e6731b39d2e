"""Reserved concurrency is the function's, shared by $LATEST and every
published version and alias (Lambda), for async events too: the worker's
copies of a version must never keep the reservation they were first read
with. And events throttled by a reservation of 0 are queued again as soon
as it is lifted. Docker faked, a real redis-server."""

import json
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from functions import versions
from functions.models import Function
from invocations import concurrency, dispatch, pool, qualified, runner, sandbox, tasks, throttle_lift
from invocations.models import Invocation


@pytest.fixture
def real_redis(redis_url, settings):
    settings.REDIS_URL = redis_url
    concurrency.redis_link._clients.clear()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    concurrency.redis_link._clients.clear()


@pytest.fixture
def worker(monkeypatch, make_function, real_redis):
    """One worker process: its own copies of functions and versions, a
    fake environment that records each event it is sent, and the tasks
    queued (request id, countdown) instead of sent to a broker."""
    monkeypatch.setattr(runner, "_functions", {})
    monkeypatch.setattr(runner, "_versions", {})
    fn = make_function("rc")
    versions.publish(fn)
    versions.create_alias(fn, name="al", function_version="1")
    state = {"fn": fn, "ran": [], "queued": []}
    monkeypatch.setattr(pool, "lease", lambda f, running=None: pool.Lease("e1", str(f.revision), cold=False))
    monkeypatch.setattr(pool, "release", lambda held: None)
    monkeypatch.setattr(runner.live, "send", lambda groups, html: None)

    def fake_invoke(path, request, timeout, on_log, raw_event=None):
        state["ran"].append((request["functionVersion"], json.loads(raw_event)))
        return sandbox.InvokeOutcome(kind="result", payload=1)

    monkeypatch.setattr(sandbox, "invoke", fake_invoke)
    # The test's transaction never commits: run on_commit callbacks at once.
    monkeypatch.setattr("django.db.transaction.on_commit", lambda func, *a, **kw: func())
    monkeypatch.setattr(
        tasks.run, "apply_async", lambda args, **kw: state["queued"].append((args[0], kw.get("countdown")))
    )
    return state


def send(fn, qualifier, n: int) -> Invocation:
    return qualified.submit_async(fn, qualifier, json.dumps({"n": n}), source="api")


def reserve(fn, value) -> Function:
    fresh = Function.objects.get(pk=fn.pk)
    concurrency.set_reserved(fresh, value)
    return fresh


def status(inv) -> tuple[str, int]:
    inv.refresh_from_db()
    return inv.status, inv.attempts


def test_a_reservation_of_zero_throttles_events_to_versions_read_before_it(worker):
    fn = worker["fn"]
    # This process reads $LATEST, version 1 and the alias while nothing is reserved.
    for n, qualifier in enumerate((None, "1", "al")):
        assert runner.run_async(str(send(fn, qualifier, n).request_id)) == "succeeded"
    reserve(fn, 0)
    worker["ran"].clear()
    worker["queued"].clear()
    waiting = [send(fn, qualifier, 10 + n) for n, qualifier in enumerate((None, "1", "al"))]
    for inv in waiting:
        assert runner.run_async(str(inv.request_id)) == "waiting"
        assert status(inv) == ("queued", 0)
    assert worker["ran"] == []
    # A reservation of 0 never admits: no task of their own (the reconciler's, or the lift's).
    assert [c for c in worker["queued"] if c[1] is not None] == []


def test_a_version_shares_the_functions_one_reserved_slot(worker):
    fn = worker["fn"]
    # This process's copy of $LATEST is from before the reservation (a
    # reservation makes no new revision), and version 1 is cold here.
    assert runner.function_for(str(fn.id), str(fn.revision)).reserved_concurrency is None
    reserve(fn, 1)
    # A $LATEST call holds the only slot.
    assert concurrency.acquire(fn.id, "latest-call", 1, 60) == concurrency.TAKEN
    events = [send(fn, "al", n) for n in range(3)]
    worker["queued"].clear()
    for inv in events:
        assert runner.run_async(str(inv.request_id)) == "waiting"
    assert worker["ran"] == []
    assert worker["queued"] == [(str(inv.request_id), concurrency.WAIT_COUNTDOWN_S) for inv in events]
    concurrency.release(fn.id, "latest-call")
    assert runner.run_async(str(events[0].request_id)) == "succeeded"
    assert worker["ran"] == [("1", {"n": 0})]


def test_events_to_a_version_run_once_the_reservation_is_removed(worker):
    fn = worker["fn"]
    reserve(fn, 0)
    events = {qualifier: send(fn, qualifier, n) for n, qualifier in enumerate((None, "1", "al"))}
    for inv in events.values():
        # This process now holds version 1 as read under the reservation of 0.
        assert runner.run_async(str(inv.request_id)) == "waiting"
    worker["queued"].clear()
    reserve(fn, None)
    # Queued again at once, not at the reconciler's next round.
    assert sorted(worker["queued"]) == sorted((str(inv.request_id), None) for inv in events.values())
    for inv in events.values():
        assert runner.run_async(str(inv.request_id)) == "succeeded"
        assert status(inv) == ("succeeded", 1)
    ran = sorted(worker["ran"], key=lambda r: r[1]["n"])
    assert ran == [("$LATEST", {"n": 0}), ("1", {"n": 1}), ("1", {"n": 2})]


def test_raising_a_reservation_of_zero_wakes_its_events_but_not_retries_waiting_their_backoff(worker):
    fn = worker["fn"]
    reserve(fn, 0)
    waiting = send(fn, "1", 0)
    later = send(fn, None, 1)
    # A retry waiting for its backoff: queued_at ahead.
    Invocation.objects.filter(pk=later.pk).update(
        queued_at=timezone.now() + timedelta(seconds=60), attempts=1)
    worker["queued"].clear()
    fresh = reserve(fn, 0)  # the same value: nothing to wake
    assert worker["queued"] == []
    concurrency.set_reserved(fresh, 2)
    assert worker["queued"] == [(str(waiting.request_id), None)]
    worker["queued"].clear()
    concurrency.set_reserved(fresh, 1)  # a lowered reservation above 0: its events have tasks
    assert worker["queued"] == []
    assert throttle_lift.wake(fn.pk) == 1


def test_a_throttled_wait_is_recorded_against_the_function(worker, monkeypatch):
    fn = worker["fn"]
    reserve(fn, 0)
    samples = []
    monkeypatch.setattr(dispatch.recording, "record", lambda sample: samples.append(sample))
    inv = send(fn, "al", 0)
    assert runner.run_async(str(inv.request_id)) == "waiting"
    assert [(s.function_id, s.status, s.qualifier) for s in samples] == [(str(fn.id), "throttled", "1")]
