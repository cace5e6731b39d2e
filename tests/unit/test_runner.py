"""The worker's decisions, with the Docker boundary faked."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from functions.models import Function
from invocations import pool, runner, sandbox, tasks
from invocations.models import Environment, Invocation


@pytest.fixture
def fake_env(monkeypatch, make_function):
    fn = make_function()
    env = Environment.objects.create(id="e1", function=fn, revision=fn.revision, state="busy",
                                     container_id="c1", socket_path="/nowhere")
    monkeypatch.setattr(pool, "lease", lambda f: pool.Lease(env, cold=True, init_ms=123.4))
    discarded = []
    monkeypatch.setattr(pool, "discard", lambda e: discarded.append(e.id))
    monkeypatch.setattr(pool, "docker_client", lambda: None)
    monkeypatch.setattr(runner.live, "announce_done", lambda inv, groups: list(groups))
    monkeypatch.setattr(runner.live, "send", lambda groups, html, wait=False: None)
    return fn, env, discarded


def outcome(monkeypatch, result, logs=("START", "hello")):
    def fake_invoke(path, request, timeout, on_log):
        for line in logs:
            on_log(line)
        return result

    monkeypatch.setattr(sandbox, "invoke", fake_invoke)


def queued(fn) -> Invocation:
    return Invocation.objects.create(function=fn, event='{"a": 1}', memory_size_mb=fn.memory_mb)


def test_it_records_a_success(monkeypatch, fake_env):
    fn, env, discarded = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload={"ok": 1}, max_memory_used_mb=30))
    inv = queued(fn)
    assert runner.run(str(inv.request_id)) == "succeeded"
    inv.refresh_from_db()
    assert json.loads(inv.result) == {"ok": 1}
    assert inv.cold_start and inv.init_duration_ms == 123.4
    assert inv.billed_duration_ms >= 1 and inv.max_memory_used_mb == 30
    assert "hello\n" in inv.logs and "REPORT RequestId:" in inv.logs and "Init Duration" in inv.logs
    assert Environment.objects.get(id="e1").state == "idle"
    assert discarded == []


def test_it_records_a_handler_error_and_keeps_the_environment(monkeypatch, fake_env):
    fn, env, discarded = fake_env
    error = {"errorType": "ValueError", "errorMessage": "no", "stackTrace": []}
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="error", error=error))
    inv = queued(fn)
    runner.run(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "failed" and inv.error == error
    assert discarded == []


def test_it_times_out_and_discards_the_environment(monkeypatch, fake_env):
    fn, env, discarded = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="timeout"))
    inv = queued(fn)
    runner.run(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "timed_out"
    assert "Task timed out after 3.00 seconds" in inv.error["errorMessage"]
    assert discarded == ["e1"]


@pytest.mark.parametrize("crash,status", [("out_of_memory", "out_of_memory"), ("crashed", "failed")])
def test_it_classifies_a_crash(monkeypatch, fake_env, crash, status):
    fn, env, discarded = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="crashed"))
    monkeypatch.setattr(sandbox, "classify_crash", lambda client, cid: crash)
    inv = queued(fn)
    runner.run(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == status
    assert discarded == ["e1"]


def test_it_runs_a_row_once_even_if_the_task_comes_twice(monkeypatch, fake_env):
    fn, env, _ = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload=1))
    inv = queued(fn)
    assert runner.run(str(inv.request_id)) == "succeeded"
    assert runner.run(str(inv.request_id)) == "already-claimed"
    inv.refresh_from_db()
    assert inv.attempts == 1


def test_it_caps_logs_keeping_the_tail(monkeypatch, fake_env, settings):
    settings.STRATUS_LOG_CAP = 1000
    fn, env, _ = fake_env
    lines = [f"line {i:05d}" for i in range(300)]
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload=1), logs=lines)
    inv = queued(fn)
    runner.run(str(inv.request_id))
    inv.refresh_from_db()
    assert len(inv.logs.encode()) <= 1000
    assert inv.logs.startswith("[log truncated")
    assert "REPORT RequestId" in inv.logs


def test_the_reconciler_requeues_old_queued_rows_only(monkeypatch, make_function):
    fn = make_function()
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append(args[0]))
    old = Invocation.objects.create(function=fn, queued_at=timezone.now() - timedelta(minutes=5))
    Invocation.objects.create(function=fn)  # fresh: its task is probably in the queue
    tasks.reconcile()
    assert sent == [str(old.request_id)]


def test_the_reconciler_fails_rows_abandoned_by_a_dead_worker(make_function):
    fn = make_function()
    inv = Invocation.objects.create(function=fn, status="running",
                                    started_at=timezone.now() - timedelta(hours=1))
    tasks.reconcile()
    inv.refresh_from_db()
    assert inv.status == "failed" and inv.error["errorType"] == "Runtime.WorkerLost"


def test_an_abandoned_async_event_is_dead_lettered_and_sent_on(monkeypatch, make_function):
    from invocations.models import DeadLetter, EventInvokeConfig

    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)
    fn = make_function()
    sink = make_function("sink")
    EventInvokeConfig.objects.create(function=fn, on_failure=sink.arn)
    inv = Invocation.objects.create(function=fn, status="running", invocation_type="Event",
                                    attempts=1, started_at=timezone.now() - timedelta(hours=1))
    assert tasks.fail_abandoned() == 1
    dead = DeadLetter.objects.get(invocation=inv)
    assert dead.error["errorType"] == "Runtime.WorkerLost"
    assert Invocation.objects.filter(function=sink, source="destination").count() == 1
    # Closed once: a second pass finds nothing to do.
    assert tasks.fail_abandoned() == 0
    assert DeadLetter.objects.count() == 1


def test_a_worker_runs_the_current_configuration_after_an_update(monkeypatch, fake_env):
    from functions import service
    from invocations import concurrency

    fn, env, _ = fake_env
    sent = []

    def fake_invoke(path, request, timeout, on_log):
        sent.append((request["memoryLimitInMB"], timeout))
        return sandbox.InvokeOutcome(kind="result", payload=1)

    monkeypatch.setattr(sandbox, "invoke", fake_invoke)
    runner.run(str(queued(fn).request_id))
    service.update_configuration(Function.objects.get(id=fn.id), memory_mb=512, timeout_s=9)
    runner.run(str(queued(fn).request_id))
    assert sent == [(128, 3), (512, 9)]
    # Reserved concurrency changes no revision, and is still seen at once.
    admitted = []
    monkeypatch.setattr(concurrency, "admit", lambda f, rid: admitted.append(f.reserved_concurrency))
    Function.objects.filter(id=fn.id).update(reserved_concurrency=0)
    runner.run(str(queued(fn).request_id))
    assert admitted == [0]


def test_the_sync_lane_claims_loads_and_runs_a_row_once(monkeypatch, fake_env):
    fn, env, _ = fake_env
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload={"ok": 2}))
    inv = queued(fn)
    assert runner.run_sync(str(inv.request_id), []) == "succeeded"
    inv.refresh_from_db()
    assert (inv.status, inv.attempts, json.loads(inv.result)) == ("succeeded", 1, {"ok": 2})
    assert inv.started_at is not None and inv.finished_at >= inv.started_at
    # Delivered again (the reconciler, a duplicate push): nothing runs twice.
    assert runner.run_sync(str(inv.request_id), []) == "already-claimed"
    assert runner.run(str(inv.request_id)) == "already-claimed"
    inv.refresh_from_db()
    assert inv.attempts == 1


def test_claim_for_run_returns_the_claimed_row_with_its_function(make_function):
    fn = make_function()
    inv = queued(fn)
    claimed = Invocation.claim_for_run(inv.request_id)
    assert (claimed.status, claimed.attempts, claimed.event) == ("running", 1, '{"a": 1}')
    assert claimed.function.id == fn.id and claimed.function.code.sha256 == fn.code.sha256
    assert Invocation.claim_for_run(inv.request_id) is None
