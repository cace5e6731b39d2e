"""Where calls reach their final status, the metrics are recorded (into a
real Redis, nothing into the database on the way) and the charts' groups
get a tick: the sync answer, async finishes and retries, throttles (sync
429s and async waits), lost workers; the running sets count concurrency."""

import json
import time

import pytest

from invocations import concurrency, dispatch, pool, recovery, runner, sandbox
from invocations.models import Invocation
from metrics import histogram, recording
from metrics.models import MetricMinute
from metrics.series import series
from tests.unit.test_dispatch import real_redis as dispatch_redis  # noqa: F401 - a fixture
from tests.unit.test_dispatch import run
from tests.unit.test_runner import fake_env, lane_message, outcome, queued  # noqa: F401 - fixtures
from tests.unit.test_runner import real_redis  # noqa: F401 - a fixture


def now_minute() -> int:
    return int(time.time() // 60) * 60


def this_minute(fn, **kwargs):
    minute = now_minute()
    return series(teams=[fn.team], function_id=fn.id, since=minute - 60, until=minute + 60, **kwargs)


@pytest.fixture
def ticks(monkeypatch):
    sent = []
    monkeypatch.setattr(runner.live, "send", lambda groups, html: sent.append((list(groups), html)))
    return sent


def tick_data(html: str) -> dict:
    import html as htmllib
    import re

    return json.loads(htmllib.unescape(re.search(r'data-tick="([^"]*)"', html).group(1)))


def test_a_sync_call_is_recorded_with_its_answer_and_ticks_the_charts(
    monkeypatch, fake_env, real_redis, ticks  # noqa: F811
):
    fn, released, _ = fake_env
    monkeypatch.setattr(pool, "release_to", lambda pipe, held: released.append(held.env_id))
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="result", payload={"ok": 1}, duration_ms=42.0))
    assert runner.run_sync(lane_message(fn), time.monotonic()) == "succeeded"
    # Nothing in the database: the figures are in Redis, and in the series.
    assert MetricMinute.objects.count() == 0 and Invocation.objects.count() == 0
    got = this_minute(fn)
    assert sum(got["invocations"]) == 1 and sum(got["cold_starts"]) == 1 and sum(got["errors"]) == 0
    assert got["totals"]["p50"] == pytest.approx(42.0, rel=histogram.ALPHA)
    assert got["totals"]["gb_seconds"] == pytest.approx(42 / 1000 * fn.memory_mb / 1024)
    assert got["totals"]["concurrency"] == 1
    tick_groups = [g for groups, _ in ticks for g in groups if g.startswith("metrics-")]
    assert set(tick_groups) == {f"metrics-fn-{fn.id}", f"metrics-team-{fn.team_id}", "metrics-all"}
    html = next(h for groups, h in ticks if groups[0].startswith("metrics-"))
    assert 'id="metrics-tick"' in html and 'hx-swap-oob="true"' in html
    data = tick_data(html)
    assert (data["function_id"], data["status"], data["cold"]) == (str(fn.id), "succeeded", True)
    assert data["duration_ms"] == 42.0 and data["t"] == now_minute()


def test_async_attempts_count_each_and_errors_by_kind(
    monkeypatch, fake_env, real_redis, ticks, settings, django_capture_on_commit_callbacks  # noqa: F811
):
    fn, _, _ = fake_env
    monkeypatch.setattr(dispatch, "queue", lambda *a, **k: None)
    error = {"errorType": "ValueError", "errorMessage": "no", "stackTrace": []}
    outcome(
        monkeypatch, sandbox.InvokeOutcome(kind="error", error=error, duration_ms=5.0),
        sandbox.InvokeOutcome(kind="timeout", duration_ms=3000.0),
    )
    inv = queued(fn)
    with django_capture_on_commit_callbacks(execute=True):
        assert runner.run_async(str(inv.request_id)) == "retrying"
    Invocation.objects.filter(pk=inv.pk).update(queued_at=inv.queued_at)
    inv.refresh_from_db()
    assert runner.run_async(str(inv.request_id)) in ("timed_out", "retrying")
    got = this_minute(fn)["totals"]
    assert got["invocations"] == 2 and got["errors_failed"] == 1 and got["errors_timed_out"] == 1
    assert got["errors"] == 2 and got["p99"] == pytest.approx(3000.0, rel=histogram.ALPHA)


def test_an_out_of_memory_run_is_its_own_kind_of_error(monkeypatch, fake_env, real_redis, ticks):  # noqa: F811
    fn, _, _ = fake_env
    EventConfig = __import__("invocations.models", fromlist=["EventInvokeConfig"]).EventInvokeConfig
    EventConfig.objects.create(function=fn, maximum_retry_attempts=0)
    monkeypatch.setattr(sandbox, "classify_crash", lambda client, container: "out_of_memory")
    outcome(monkeypatch, sandbox.InvokeOutcome(kind="crashed", duration_ms=80.0))
    assert runner.run_async(str(queued(fn).request_id)) == "out_of_memory"
    got = this_minute(fn)["totals"]
    assert (got["invocations"], got["errors_out_of_memory"], got["errors"]) == (1, 1, 1)
    assert any(tick_data(h)["status"] == "out_of_memory" for g, h in ticks if g[0].startswith("metrics-"))


def test_a_sync_429_is_a_throttle_not_an_invocation(dispatch_redis, make_function):  # noqa: F811
    fn = make_function()
    concurrency.set_reserved(fn, 0)
    done = run(dispatch.invoke_sync(fn, "{}", source="api"))
    assert done.status == "throttled"
    got = this_minute(fn)["totals"]
    assert (got["throttles"], got["invocations"]) == (1, 0)


def test_an_async_wait_for_a_slot_is_a_throttle(monkeypatch, fake_env, real_redis):  # noqa: F811
    fn, _, _ = fake_env
    monkeypatch.setattr(dispatch, "queue", lambda *a, **k: None)
    monkeypatch.setattr(concurrency, "admit", lambda f, rid: 1.0)
    assert runner.run_async(str(queued(fn).request_id)) == "waiting"
    got = this_minute(fn)["totals"]
    assert (got["throttles"], got["invocations"]) == (1, 0)


def test_a_lost_workers_attempt_is_a_failed_invocation_without_a_duration(
    monkeypatch, make_function, real_redis  # noqa: F811
):
    from datetime import timedelta

    from django.utils import timezone

    fn = make_function()
    monkeypatch.setattr(recovery.nodes, "alive_workers", lambda: set())
    EventConfig = __import__("invocations.models", fromlist=["EventInvokeConfig"]).EventInvokeConfig
    EventConfig.objects.create(function=fn, maximum_retry_attempts=0)
    Invocation.objects.create(
        function=fn, status="running", attempts=1, claimed_by="gone", invocation_type="Event",
        started_at=timezone.now() - timedelta(hours=1),
    )
    assert recovery.recover_abandoned() == 1
    got = this_minute(fn)["totals"]
    assert (got["invocations"], got["errors_failed"], got["p50"]) == (1, 1, None)


def test_admission_counts_a_call_running_until_its_slot_is_given_back(real_redis, make_function):  # noqa: F811
    fn = make_function()
    first, second = concurrency.admit(fn, "r1"), concurrency.admit(fn, "r2")
    assert first.taken and second.taken
    keys = recording.running_keys(fn.id, fn.team_id)
    assert [real_redis.zcard(k) for k in keys] == [2, 2, 2]
    concurrency.release_for(fn, "r1")
    assert [real_redis.zcard(k) for k in keys] == [1, 1, 1]


def test_a_refused_call_records_nothing_into_the_running_sets(dispatch_redis, make_function):  # noqa: F811
    fn = make_function()
    concurrency.set_reserved(fn, 0)
    run(dispatch.invoke_sync(fn, "{}", source="api"))
    assert dispatch_redis.zcard(recording.running_keys(fn.id, fn.team_id)[0]) == 0
