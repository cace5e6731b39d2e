"""The worker's decisions, with the Docker boundary faked: the async path
(a stored row), the sync path (a lane message, with a real Redis), and the
reconciler's recovery of rows whose worker died."""

import json
import re
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from functions.models import Function
from invocations import dispatch, nodes, pool, recorder, recovery, runner, sandbox, tasks
from invocations.done import Done, channel
from invocations.models import Attempt, DeadLetter, EventInvokeConfig, Invocation, Worker
from invocations.sync_request import SyncRequest


@pytest.fixture
def fake_env(monkeypatch, make_function):
    fn = make_function()
    released, discarded = [], []
    monkeypatch.setattr(
        pool, "lease", lambda f, running=None: pool.Lease("e1", str(f.revision), cold=True, init_ms=123.4)
    )
    monkeypatch.setattr(pool, "start", lambda f: pool.Lease("e2", str(f.revision), cold=True, init_ms=99.0))
    monkeypatch.setattr(pool, "release", lambda held: released.append(held.env_id))
    monkeypatch.setattr(pool, "discard", lambda env_id, why="", kind="removed": discarded.append(env_id))
    monkeypatch.setattr(pool, "docker_client", lambda: None)
    monkeypatch.setattr(runner.live, "send", lambda groups, html: None)
    return fn, released, discarded


def outcome(monkeypatch, *results, logs=("START", "hello")):
    """sandbox.invoke answers `results` in turn, printing `logs` each time."""
    answers = list(results)

    def fake_invoke(path, request, timeout, on_log, raw_event=None):
        for line in logs:
            on_log(line)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    monkeypatch.setattr(sandbox, "invoke", fake_invoke)


def queued(fn, **kwargs) -> Invocation:
    kwargs.setdefault("invocation_type", "Event")
    return Invocation.objects.create(function=fn, event='{"a": 1}', memory_size_mb=fn.memory_mb, **kwargs)


def test_it_records_a_success(monkeypatch, fake_env):
    fn, released, discarded = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload={"ok": 1}, max_memory_used_mb=30))
    inv = queued(fn)
    assert runner.run_async(str(inv.request_id)) == "succeeded"
    inv.refresh_from_db()
    assert json.loads(inv.result) == {"ok": 1}
    assert inv.cold_start and inv.init_duration_ms == 123.4
    assert inv.billed_duration_ms >= 1 and inv.max_memory_used_mb == 30
    assert "hello\n" in inv.logs and "REPORT RequestId:" in inv.logs and "Init Duration" in inv.logs
    assert inv.node == nodes.node() and inv.claimed_by == nodes.worker_id()
    assert released == ["e1"] and discarded == []


def test_a_custom_runtimes_response_is_recorded_as_it_was_posted(monkeypatch, fake_env):
    fn, released, _ = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload_text='plain text, {"not": json'))
    inv = queued(fn)
    assert runner.run_async(str(inv.request_id)) == "succeeded"
    inv.refresh_from_db()
    assert inv.result == 'plain text, {"not": json'
    assert released == ["e1"]


def test_it_records_a_handler_error_and_keeps_the_environment(monkeypatch, fake_env):
    fn, released, discarded = fake_env
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)
    error = {"errorType": "ValueError", "errorMessage": "no", "stackTrace": []}
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="error", error=error))
    inv = queued(fn)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "failed" and inv.error == error
    assert released == ["e1"] and discarded == []


def test_it_times_out_and_discards_the_environment(monkeypatch, fake_env):
    fn, released, discarded = fake_env
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="timeout"))
    peaks = []

    def peak(client, container):
        peaks.append((container, list(discarded)))
        return 42

    monkeypatch.setattr(sandbox, "peak_memory_mb", peak)
    inv = queued(fn)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "timed_out"
    assert "Task timed out after 3.00 seconds" in inv.error["errorMessage"]
    assert discarded == ["e1"] and released == []
    # The peak is read from the environment before it is removed.
    assert peaks == [(pool.container_name("e1"), [])]
    assert inv.max_memory_used_mb == 42 and inv.cold_start
    assert "Max Memory Used: 42 MB" in inv.logs
    # Lambda's timeout line: milliseconds, never microseconds.
    line = next(x for x in inv.logs.splitlines() if "Task timed out" in x)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(rf"{stamp} {inv.request_id} Task timed out after 3\.00 seconds", line)


def test_a_timed_out_run_whose_peak_is_unknown_records_none(monkeypatch, fake_env):
    fn, _, _ = fake_env
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="timeout"))
    monkeypatch.setattr(sandbox, "peak_memory_mb", lambda client, container: None)
    inv = queued(fn)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "timed_out" and inv.max_memory_used_mb is None


def test_a_failed_start_is_a_cold_start(monkeypatch, fake_env):
    fn, _, _ = fake_env
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)

    def no_environment(f, running=None):
        raise RuntimeError("no image")

    monkeypatch.setattr(pool, "lease", no_environment)
    inv = queued(fn)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "failed" and inv.error["errorType"] == "Runtime.EnvironmentStartError"
    assert inv.cold_start is True


@pytest.mark.parametrize("crash,status", [("out_of_memory", "out_of_memory"), ("crashed", "failed")])
def test_it_classifies_a_crash(monkeypatch, fake_env, crash, status):
    fn, released, discarded = fake_env
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="crashed"))
    monkeypatch.setattr(sandbox, "classify_crash", lambda client, container: crash)
    inv = queued(fn)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == status
    assert discarded == ["e1"]


def test_a_dead_pooled_environment_is_discarded_and_the_call_started_cold(monkeypatch, fake_env):
    fn, released, discarded = fake_env
    monkeypatch.setattr(
        pool, "lease", lambda f, running=None: pool.Lease("warm", str(f.revision), cold=False)
    )
    outcome(
        monkeypatch,
        sandbox.InvokeOutcome(kind="unreachable", error={"errorType": "x", "errorMessage": "gone"}),
        sandbox.InvokeOutcome(kind="result", payload=7),
    )
    inv = queued(fn)
    assert runner.run_async(str(inv.request_id)) == "succeeded"
    inv.refresh_from_db()
    assert inv.cold_start and inv.init_duration_ms == 99.0 and inv.result == "7"
    assert discarded == ["warm"] and released == ["e2"]


def test_it_runs_a_row_once_even_if_the_task_comes_twice(monkeypatch, fake_env):
    fn, _, _ = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload=1))
    inv = queued(fn)
    assert runner.run_async(str(inv.request_id)) == "succeeded"
    assert runner.run_async(str(inv.request_id)) == "already-claimed"
    inv.refresh_from_db()
    assert inv.attempts == 1


def test_it_caps_logs_keeping_the_tail(monkeypatch, fake_env, settings):
    settings.STRATUS_LOG_CAP = 1000
    fn, _, _ = fake_env
    lines = [f"line {i:05d}" for i in range(300)]
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload=1), logs=lines)
    inv = queued(fn)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert len(inv.logs.encode()) <= 1000
    assert inv.logs.startswith("[log truncated")
    assert "REPORT RequestId" in inv.logs


def test_a_failed_async_attempt_goes_back_with_backoff(
    monkeypatch, fake_env, settings, django_capture_on_commit_callbacks
):
    settings.STRATUS_RETRY_BACKOFF_SCALE = 1.0
    fn, _, _ = fake_env
    queue = []
    monkeypatch.setattr(dispatch, "queue",
        lambda rid, priority="normal", countdown=None: queue.append(countdown)
    )
    error = {"errorType": "ValueError", "errorMessage": "no", "stackTrace": []}
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="error", error=error))
    inv = queued(fn)
    with django_capture_on_commit_callbacks(execute=True):
        assert runner.run_async(str(inv.request_id)) == "retrying"
    inv.refresh_from_db()
    assert (inv.status, inv.attempts, inv.claimed_by) == ("queued", 1, "")
    assert queue == [60.0]
    assert Attempt.objects.get(invocation=inv, number=1).error == error


def test_a_worker_runs_the_current_configuration_after_an_update(monkeypatch, fake_env):
    from functions import service
    from invocations import concurrency

    fn, _, _ = fake_env
    sent = []

    def fake_invoke(path, request, timeout, on_log, raw_event=None):
        sent.append((request["memoryLimitInMB"], timeout))
        return sandbox.InvokeOutcome(kind="result", payload=1)

    monkeypatch.setattr(sandbox, "invoke", fake_invoke)
    runner.run_async(str(queued(fn).request_id))
    service.update_configuration(Function.objects.get(id=fn.id), memory_mb=512, timeout_s=9)
    runner.run_async(str(queued(fn).request_id))
    assert sent == [(128, 3), (512, 9)]
    # Reserved concurrency changes no revision, and is still seen at once.
    admitted = []
    monkeypatch.setattr(concurrency, "admit", lambda f, rid: admitted.append(f.reserved_concurrency) or 1.0)
    monkeypatch.setattr(dispatch, "queue", lambda *a, **k: None)
    Function.objects.filter(id=fn.id).update(reserved_concurrency=0)
    assert runner.run_async(str(queued(fn).request_id)) == "waiting"
    assert admitted == [0]


# The sync lane: a message, a real Redis ---------------------------------------


@pytest.fixture
def real_redis(settings, redis_url):
    settings.REDIS_URL = redis_url
    from invocations import redis_link

    redis_link._clients.clear()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    redis_link._clients.clear()


def lane_message(fn, **fields) -> bytes:
    now = time.time()
    fields.setdefault("expires_at", now + 30)
    request = SyncRequest(
        request_id=str(uuid.uuid4()), function_id=str(fn.id), revision=str(fn.revision),
        event='{"q": 1}', source="api", created_at=now, **fields,
    )
    return request.encode().encode()


def test_a_sync_call_answers_then_is_recorded(monkeypatch, fake_env, real_redis):
    fn, released, _ = fake_env
    monkeypatch.setattr(pool, "release_to", lambda pipe, held: released.append(held.env_id))
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload={"ok": 2}))
    raw = lane_message(fn)
    request_id = json.loads(raw)["request_id"]
    pubsub = real_redis.pubsub()
    pubsub.subscribe(channel(request_id))
    pubsub.get_message(timeout=1)
    assert Invocation.objects.count() == 0
    assert runner.run_sync(raw, time.monotonic()) == "succeeded"
    message = pubsub.get_message(timeout=2)
    done = Done.decode(message["data"])
    assert (done.status, json.loads(done.result)) == ("succeeded", {"ok": 2})
    assert "REPORT RequestId" in done.logs_tail and released == ["e1"]
    # Nothing was written on the way; the record arrives through the stream.
    assert Invocation.objects.count() == 0
    recorder._ensure_group(real_redis)
    assert recorder.drain(real_redis, "test", block_ms=10) == 1
    inv = Invocation.objects.get(request_id=request_id)
    assert (inv.status, inv.source, inv.attempts) == ("succeeded", "api", 1)
    assert inv.invocation_type == "RequestResponse"
    assert inv.started_at <= inv.finished_at and inv.node == nodes.node()
    # Recording the same entry twice (a recorder died before its ack) is harmless.
    recorder.store([recorder.encode(inv)])
    assert Invocation.objects.count() == 1


def test_a_sync_call_popped_after_its_caller_gave_up_never_runs(monkeypatch, fake_env, real_redis):
    fn, _, _ = fake_env
    ran = []
    monkeypatch.setattr(sandbox, "invoke", lambda *a, **k: ran.append(1))
    raw = lane_message(fn, expires_at=time.time() - 1)
    assert runner.run_sync(raw, time.monotonic()) == "cancelled"
    assert ran == []
    recorder._ensure_group(real_redis)
    recorder.drain(real_redis, "test", block_ms=10)
    assert Invocation.objects.get().status == "cancelled"


def test_a_sync_call_of_a_deleted_function_answers_not_found(fake_env, real_redis):
    fn, _, _ = fake_env
    raw = lane_message(fn)
    Function.objects.filter(id=fn.id).delete()
    runner._functions.clear()
    assert runner.run_sync(raw, time.monotonic()) == "missing"


# Recovery ---------------------------------------------------------------------


def test_the_reconciler_requeues_old_queued_rows_only(monkeypatch, make_function):
    fn = make_function()
    sent = []
    monkeypatch.setattr(dispatch, "queue",
        lambda rid, priority="normal", countdown=None: sent.append(str(rid))
    )
    old = Invocation.objects.create(function=fn, queued_at=timezone.now() - timedelta(minutes=5))
    Invocation.objects.create(function=fn)  # fresh: its task is probably in the queue
    tasks.reconcile()
    assert sent == [str(old.request_id)]


def running(fn, worker: str, **kwargs) -> Invocation:
    return Invocation.objects.create(
        function=fn, status="running", invocation_type="Event", attempts=kwargs.pop("attempts", 1),
        claimed_by=worker, started_at=timezone.now() - timedelta(seconds=60), **kwargs,
    )


def test_a_row_of_a_lost_worker_is_a_failed_attempt_and_is_retried(
    monkeypatch, make_function, django_capture_on_commit_callbacks
):
    fn = make_function()
    sent = []
    monkeypatch.setattr(dispatch, "queue",
        lambda rid, priority="normal", countdown=None: sent.append(countdown)
    )
    Worker.objects.create(id="gone", node="n", pid=1, heartbeat_at=timezone.now() - timedelta(minutes=5))
    Worker.objects.create(id="alive", node="n", pid=2)
    lost = running(fn, "gone")
    busy = running(fn, "alive")
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.recover_abandoned() == 1
    lost.refresh_from_db()
    assert (lost.status, lost.claimed_by) == ("queued", "")
    attempt = Attempt.objects.get(invocation=lost)
    assert (attempt.number, attempt.status, attempt.error["errorType"]) == (1, "failed", "Runtime.WorkerLost")
    assert len(sent) == 1 and sent[0] > 0
    busy.refresh_from_db()
    assert busy.status == "running"
    # Safe to run twice.
    assert recovery.recover_abandoned() == 0


def test_a_lost_row_without_retries_left_is_dead_lettered_and_sent_on(monkeypatch, make_function):
    monkeypatch.setattr(dispatch, "queue", lambda *a, **k: None)
    fn = make_function()
    sink = make_function("sink")
    EventInvokeConfig.objects.create(function=fn, on_failure=sink.arn)
    inv = running(fn, "nobody", attempts=3)
    assert recovery.recover_abandoned() == 1
    inv.refresh_from_db()
    assert inv.status == "failed" and inv.error["errorType"] == "Runtime.WorkerLost"
    dead = DeadLetter.objects.get(invocation=inv)
    assert dead.error["errorType"] == "Runtime.WorkerLost"
    assert Invocation.objects.filter(function=sink, source="destination").count() == 1
    assert recovery.recover_abandoned() == 0
    assert DeadLetter.objects.count() == 1


def test_a_finish_after_recovery_changes_nothing(monkeypatch, fake_env):
    """A worker thought lost finishes late: the row is another attempt's now."""
    fn, _, _ = fake_env
    monkeypatch.setattr(dispatch, "queue", lambda *a, **k: None)
    inv = running(fn, "slow")
    recovery.recover_abandoned()
    assert inv.finish(status="succeeded", result="1") is False
    assert Invocation.objects.get(pk=inv.pk).status == "queued"


@pytest.mark.parametrize("code,words", [
    (2, "exit status 2"), (139, "signal: segmentation fault"), (None, None),
])
def test_a_runtime_that_exits_mid_call_says_its_exit_status(monkeypatch, fake_env, code, words):
    # Node's process.exit(2) ends the container: Lambda's Runtime.ExitError
    # names the status; a runtime still running (None) keeps the generic words.
    fn, released, discarded = fake_env
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="crashed", error=sandbox._crash("closed")))
    monkeypatch.setattr(sandbox, "classify_crash", lambda client, container: "crashed")

    class Api:
        def inspect_container(self, container_id):
            if code is None:
                return {"State": {"Status": "running", "ExitCode": 0}}
            return {"State": {"Status": "exited", "ExitCode": code}}

    monkeypatch.setattr(pool, "docker_client", lambda: type("Client", (), {"api": Api()})())
    inv = queued(fn)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "failed" and inv.error["errorType"] == "Runtime.ExitError"
    if words is None:
        assert inv.error["errorMessage"] == "closed"
    else:
        expected = f"RequestId: {inv.request_id} Error: Runtime exited with error: {words}"
        assert inv.error["errorMessage"] == expected
