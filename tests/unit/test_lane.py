"""The sync lane against a real redis-server: sync invocations reach a
worker thread through one Redis list; async ones stay on Celery."""

import threading
import time

import pytest
import redis

from invocations import lane, live, runner, tasks
from invocations.lane import push as real_push
from invocations.models import Invocation


@pytest.fixture
def real_redis(redis_url, monkeypatch, settings):
    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]},
    }}
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    monkeypatch.setattr(live, "redis_client", lambda: client)
    monkeypatch.setattr(lane, "push", real_push)
    return client


@pytest.fixture
def celery_sent(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


def test_a_sync_row_is_pushed_on_the_lane_once_committed(
    real_redis, make_function, celery_sent, django_capture_on_commit_callbacks
):
    fn = make_function()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        inv = Invocation.submit(fn, "{}", invocation_type="RequestResponse", source="api")
        assert real_redis.llen(lane.key()) == 0  # not before the row is committed
    assert len(callbacks) == 1
    # Nobody watches: the message is the request id alone.
    assert real_redis.lrange(lane.key(), 0, -1) == [str(inv.request_id).encode()]
    assert celery_sent == []


def test_the_push_names_the_live_groups_someone_watches(
    real_redis, make_function, django_capture_on_commit_callbacks
):
    fn = make_function()
    # A browser on the function's page: channels_redis keeps the group's members here.
    real_redis.zadd(live.group_key(live.fn_group(fn.id)), {"specific.channel!abc": time.time()})
    with django_capture_on_commit_callbacks(execute=True):
        inv = Invocation.submit(fn, "{}", invocation_type="RequestResponse", source="api")
    assert real_redis.rpop(lane.key()).decode().split("\n") == [
        str(inv.request_id), live.fn_group(fn.id),
    ]


def test_an_async_row_goes_to_celery_not_the_lane(
    real_redis, make_function, celery_sent, django_capture_on_commit_callbacks
):
    fn = make_function()
    with django_capture_on_commit_callbacks(execute=True):
        inv = Invocation.submit(fn, "{}", invocation_type="Event", source="api")
    assert celery_sent == [str(inv.request_id)]
    assert real_redis.llen(lane.key()) == 0


def test_a_sync_row_falls_back_to_celery_when_redis_refuses_the_push(
    make_function, celery_sent, monkeypatch, django_capture_on_commit_callbacks
):
    class Down:
        def lpush(self, *args):
            raise redis.ConnectionError("refused")

    monkeypatch.setattr(lane, "push", real_push)
    monkeypatch.setattr(live, "redis_client", lambda: Down())
    fn = make_function()
    with django_capture_on_commit_callbacks(execute=True):
        inv = Invocation.submit(fn, "{}", invocation_type="RequestResponse", source="api")
    assert celery_sent == [str(inv.request_id)]
    assert Invocation.objects.get(request_id=inv.request_id).status == "queued"


def test_a_lane_thread_runs_what_is_pushed_and_survives_a_failing_run(real_redis, monkeypatch):
    ran = []

    def fake_run(request_id, watched=None):
        ran.append((request_id, watched))
        if request_id == "boom":
            raise RuntimeError("a bug in the runner")
        return "succeeded"

    monkeypatch.setattr(runner, "run_sync", fake_run)
    monkeypatch.setattr(lane, "close_old_connections", lambda: None)
    monkeypatch.setattr(lane, "POP_TIMEOUT_S", 1)
    stop = threading.Event()
    thread = threading.Thread(target=lane.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        for request_id in ("boom", "r-1", "r-2"):
            assert lane.push(request_id, ["inv-" + request_id])
        deadline = time.monotonic() + 10
        while len(ran) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
    # First in, first out; the failing run did not stop the thread.
    assert [rid for rid, _ in ran] == ["boom", "r-1", "r-2"]
    assert all(watched == [] for _, watched in ran)  # no group has members
    assert all(real_redis.llen(lane.key(p)) == 0 for p in lane.PRIORITIES)
    thread.join(timeout=lane.POP_TIMEOUT_S + 5)
    assert not thread.is_alive()


def test_a_high_priority_call_is_served_before_waiting_normal_ones(real_redis, monkeypatch):
    ran = []
    monkeypatch.setattr(runner, "run_sync", lambda request_id, watched: ran.append(request_id))
    monkeypatch.setattr(lane, "close_old_connections", lambda: None)
    monkeypatch.setattr(lane, "POP_TIMEOUT_S", 1)
    # Queued while no worker listens: two normal calls, then a high and a low one.
    for request_id, priority in [("n-1", "normal"), ("n-2", "normal"), ("h-1", "high"), ("l-1", "low")]:
        assert lane.push(request_id, [], priority)
    stop = threading.Event()
    thread = threading.Thread(target=lane.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(ran) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
    assert ran == ["h-1", "n-1", "n-2", "l-1"]
    thread.join(timeout=lane.POP_TIMEOUT_S + 5)


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


def test_a_sync_row_goes_on_the_lane_of_its_priority(
    real_redis, make_function, django_capture_on_commit_callbacks
):
    fn = make_function()
    with django_capture_on_commit_callbacks(execute=True):
        inv = Invocation.submit(fn, "{}", invocation_type="RequestResponse", source="http",
                                priority="high")
    assert real_redis.lrange(lane.key("high"), 0, -1) == [str(inv.request_id).encode()]
    assert real_redis.llen(lane.key("normal")) == 0
