"""The one way in, against a real redis-server: async rows go to Celery on
commit; sync calls travel on the lane (no row), wait for their done
message, and are cancelled for good when no worker takes them in time.
And the lane's worker side: threads that pop and run what is pushed."""

import asyncio
import json
import threading
import time

import pytest
import redis
from asgiref.sync import async_to_sync

from invocations import concurrency, dispatch, lane, live, recorder, redis_link, runner
from invocations.done import Done, channel
from invocations.models import Invocation
from invocations.sync_request import SyncRequest
from tests.unit.conftest import REAL_BEGIN


@pytest.fixture
def real_redis(redis_url, monkeypatch, settings):
    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [redis_url], "prefix": "stratus"},
    }}
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    redis_link._clients.clear()
    dispatch._async_clients.clear()
    # The real hand-over, not conftest's fake.
    monkeypatch.setattr(dispatch.SyncCall, "begin", REAL_BEGIN)
    yield client
    redis_link._clients.clear()
    dispatch._async_clients.clear()


def run(coroutine):
    """Run on an event loop whose thread-sensitive database work comes back
    to this thread (the in-memory test database is per connection)."""

    async def wrapper():
        return await coroutine

    return async_to_sync(wrapper)()


def lane_items(client, node="any", priority="normal") -> list[tuple[SyncRequest, list[str]]]:
    return [SyncRequest.decode(raw) for raw in client.lrange(dispatch.lane_key(node, priority), 0, -1)]


def records(client) -> list[dict]:
    return [json.loads(fields[b"r"]) for _id, fields in client.xrange(recorder.stream_key())]


# Async ------------------------------------------------------------------------


def test_an_async_row_is_stored_then_queued_on_commit(
    make_function, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(dispatch, "queue",
        lambda rid, priority="normal", countdown=None: sent.append(str(rid))
    )
    fn = make_function()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inv = dispatch.submit_async(fn, '{"a": 1}', source="api", priority="high")
    assert sent == []  # not before the commit
    assert Invocation.objects.get().status == "queued"
    for callback in callbacks:
        callback()
    assert sent == [str(inv.request_id)]
    assert (inv.invocation_type, inv.priority) == ("Event", "high")


# Sync: hand-over ----------------------------------------------------------------


def test_a_sync_call_is_pushed_on_its_priority_lane_without_a_row(real_redis, make_function):
    fn = make_function()
    real_redis.zadd("stratus:group:fn-" + str(fn.id), {"someone": time.time()})

    async def begin():
        return await dispatch.SyncCall.begin(fn, '{"x": 1}', source="http", priority="high")

    call = run(begin())
    [(request, watched)] = lane_items(real_redis, priority="high")
    assert (request.request_id, request.event) == (call.request.request_id, '{"x": 1}')
    assert request.source == "http"
    assert request.revision == str(fn.revision) and request.expires_at > time.time()
    assert watched == ["fn-" + str(fn.id)]  # only the watched group
    assert lane_items(real_redis) == [] and not Invocation.objects.exists()


def test_a_sync_call_goes_to_a_node_with_a_warm_environment(real_redis, make_function, settings):
    fn = make_function()
    now = time.time()
    real_redis.zadd(f"{settings.STRATUS_INSTANCE}:nodes", {"node-a": now, "node-b": now})
    real_redis.zadd(f"{settings.STRATUS_INSTANCE}:idle:node-b:{fn.revision}", {"env": now})
    run(dispatch.SyncCall.begin(fn, "{}", source="api"))
    assert len(lane_items(real_redis, node="node-b")) == 1
    assert lane_items(real_redis) == []
    # A node that stopped beating is not chosen.
    real_redis.zadd(f"{settings.STRATUS_INSTANCE}:nodes", {"node-b": now - 300})
    run(dispatch.SyncCall.begin(fn, "{}", source="api"))
    assert len(lane_items(real_redis)) == 1


def test_the_caller_gets_the_workers_answer(real_redis, make_function):
    fn = make_function()

    async def call_and_answer():
        call = await dispatch.SyncCall.begin(fn, "{}", source="api")
        answer = Done(call.request.request_id, "succeeded", result='{"ok": 1}', logs_tail="END")
        real_redis.publish(channel(call.request.request_id), answer.encode())
        return await call.wait()

    done = run(call_and_answer())
    assert (done.status, done.result, done.logs_tail) == ("succeeded", '{"ok": 1}', "END")


def test_a_call_no_worker_takes_in_time_is_cancelled_for_good(real_redis, make_function, settings):
    settings.STRATUS_SYNC_QUEUE_WAIT = 0.3
    fn = make_function()
    done = run(dispatch.invoke_sync(fn, '{"late": true}', source="api"))
    assert done.status == "cancelled" and done.error["errorType"] == "Stratus.QueueTimeout"
    assert lane_items(real_redis) == []  # taken off the lane: no worker will run it
    [record] = records(real_redis)
    assert (record["request_id"], record["status"]) == (done.request_id, "cancelled")
    assert record["event"] == '{"late": true}'


def test_a_call_whose_worker_died_fails_as_worker_lost(real_redis, make_function, settings, monkeypatch):
    settings.STRATUS_SYNC_QUEUE_WAIT = 0.2
    monkeypatch.setattr(dispatch, "START_BOUND_S", 0.1)
    monkeypatch.setattr(dispatch, "DONE_MARGIN_S", 0.1)
    fn = make_function(timeout_s=1)

    async def popped_and_lost():
        call = await dispatch.SyncCall.begin(fn, "{}", source="api")
        real_redis.rpop(call.lane)  # a worker took it, then died
        return await call.wait()

    done = run(popped_and_lost())
    assert done.status == "failed" and done.error["errorType"] == "Runtime.WorkerLost"
    assert records(real_redis)[0]["status"] == "failed"


def test_a_throttled_call_is_refused_and_recorded(real_redis, make_function):
    fn = make_function()
    concurrency.set_reserved(fn, 1)
    concurrency.acquire(fn.id, "someone", 1, 60)
    done = run(dispatch.invoke_sync(fn, "{}", source="api"))
    assert done.status == "throttled" and done.error["errorType"] == "TooManyRequestsException"
    assert "reserved concurrency of 1" in done.error["errorMessage"]
    assert lane_items(real_redis) == []
    assert records(real_redis)[0]["status"] == "throttled"


def test_a_call_over_its_teams_limit_is_refused_at_once(real_redis, make_function, settings):
    settings.STRATUS_TEAM_CONCURRENCY = 1
    fn = make_function()
    assert isinstance(concurrency.admit(fn, "someone"), concurrency.Admission)
    done = run(dispatch.invoke_sync(fn, "{}", source="api"))
    assert done.status == "throttled" and done.error["errorType"] == "TooManyRequestsException"
    assert done.error["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert "unreserved concurrency of 1 is all in use" in done.error["errorMessage"]
    assert lane_items(real_redis) == []
    assert records(real_redis)[0]["status"] == "throttled"


def test_a_call_under_its_teams_limit_holds_a_slot_until_answered(real_redis, make_function, settings):
    settings.STRATUS_TEAM_CONCURRENCY = 2
    settings.STRATUS_SYNC_QUEUE_WAIT = 0.2
    fn = make_function()

    async def handed_over():
        call = await dispatch.SyncCall.begin(fn, "{}", source="api")
        held = concurrency.team_holders(fn.team_id)
        return held, await call.wait()

    held, done = run(handed_over())
    assert held == 1 and done.status == "cancelled"
    assert concurrency.team_holders(fn.team_id) == 0


def test_the_slot_of_a_cancelled_call_is_given_back(real_redis, make_function, settings):
    settings.STRATUS_SYNC_QUEUE_WAIT = 0.2
    fn = make_function()
    concurrency.set_reserved(fn, 1)
    assert run(dispatch.invoke_sync(fn, "{}", source="api")).status == "cancelled"
    assert concurrency.holders(fn.id) == 0


def test_a_redis_that_stays_unreachable_fails_the_call(make_function, settings, monkeypatch):
    monkeypatch.setattr(dispatch.SyncCall, "begin", REAL_BEGIN)
    monkeypatch.setattr(dispatch, "HANDOVER_RETRY_S", 0.3)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    dispatch._async_clients.clear()
    fn = make_function()
    done = run(dispatch.invoke_sync(fn, "{}", source="api"))
    assert done.status == "failed" and done.error["errorType"] == "ServiceUnavailable"
    # Redis could not take the record either: it went straight to the database.
    assert Invocation.objects.get(request_id=done.request_id).status == "failed"


# The lane: the worker's side --------------------------------------------------


def serve_until(count: int, ran: list) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=lane.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(ran) < count and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
    thread.join(timeout=lane.POP_TIMEOUT_S + 5)


def test_a_lane_thread_runs_what_is_pushed_and_survives_a_failing_run(real_redis, monkeypatch):
    ran = []

    def fake_run(raw, popped_at):
        ran.append(raw.decode())
        if raw == b"boom":
            raise RuntimeError("a bug in the runner")
        return "succeeded"

    monkeypatch.setattr(runner, "run_sync", fake_run)
    monkeypatch.setattr(lane, "close_old_connections", lambda: None)
    monkeypatch.setattr(lane, "POP_TIMEOUT_S", 1)
    for item in ("boom", "r-1", "r-2"):
        real_redis.lpush(dispatch.lane_key("any", "normal"), item)
    serve_until(3, ran)
    # First in, first out; the failing run did not stop the thread.
    assert ran == ["boom", "r-1", "r-2"]


def test_a_lane_thread_serves_high_first_and_its_node_before_any(real_redis, monkeypatch, settings):
    ran = []
    monkeypatch.setattr(runner, "run_sync", lambda raw, popped_at: ran.append(raw.decode()))
    monkeypatch.setattr(lane, "close_old_connections", lambda: None)
    monkeypatch.setattr(lane, "POP_TIMEOUT_S", 1)
    settings.STRATUS_NODE = "node-a"
    for node, priority, item in [
        ("any", "normal", "n-1"), ("any", "normal", "n-2"), ("any", "high", "h-1"),
        ("any", "low", "l-1"), ("node-a", "normal", "mine"), ("node-b", "high", "theirs"),
    ]:
        real_redis.lpush(dispatch.lane_key(node, priority), item)
    serve_until(5, ran)
    assert ran == ["h-1", "mine", "n-1", "n-2", "l-1"]
    assert real_redis.llen(dispatch.lane_key("node-b", "high")) == 1  # another node's


def test_lane_threads_start_once_per_process(monkeypatch):
    started = []
    monkeypatch.setattr(lane, "_started", {})
    monkeypatch.setattr(lane, "serve", lambda stop=None: started.append(threading.current_thread().name))
    lane.start_threads(2)
    lane.start_threads(2)
    deadline = time.monotonic() + 5
    while len(started) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert sorted(started) == ["sync-lane-0", "sync-lane-1"]


def test_live_groups_are_not_asked_while_redis_is_down(settings):
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [settings.REDIS_URL]},
    }}
    redis_link._clients.clear()
    assert live.watched(["fn-1", "inv-2"]) == []


def test_a_call_whose_worker_stopped_beating_fails_without_waiting_out_its_bounds(
    real_redis, make_function, settings, monkeypatch
):
    from invocations import nodes

    monkeypatch.setattr(dispatch, "RECHECK_S", 0.1)
    settings.STRATUS_WORKER_LOST_AFTER = 0.5
    fn = make_function(timeout_s=600)

    async def taken_then_lost():
        call = await dispatch.SyncCall.begin(fn, "{}", source="api")
        real_redis.rpop(call.lane)
        # What the worker's lease marks, then its last beat long ago.
        real_redis.set(nodes.running_key(call.request.request_id), "w-1")
        real_redis.hset(nodes.workers_key(), "w-1", time.time() - 60)
        return await call.wait()

    done = run(taken_then_lost())
    assert done.status == "failed" and done.error["errorType"] == "Runtime.WorkerLost"


def test_a_call_whose_worker_still_beats_is_waited_for(real_redis, make_function, settings, monkeypatch):
    from invocations import nodes

    monkeypatch.setattr(dispatch, "RECHECK_S", 0.1)
    settings.STRATUS_WORKER_LOST_AFTER = 5
    fn = make_function()

    async def slow_but_alive():
        call = await dispatch.SyncCall.begin(fn, "{}", source="api")
        real_redis.rpop(call.lane)
        real_redis.set(nodes.running_key(call.request.request_id), "w-2")
        real_redis.hset(nodes.workers_key(), "w-2", time.time())
        waiting = asyncio.ensure_future(call.wait())
        await asyncio.sleep(0.5)
        assert not waiting.done()
        answer = Done(call.request.request_id, "succeeded", result="1")
        real_redis.publish(channel(call.request.request_id), answer.encode())
        return await waiting

    assert run(slow_but_alive()).status == "succeeded"
