"""metrics.series on known buckets (database rows and unflushed Redis
buckets), and metrics.flush: every recorded figure reaches the database
exactly once, whatever dies when."""

import time
import uuid
from datetime import UTC, datetime

import pytest
import redis

from functions.models import Team
from invocations import redis_link
from metrics import buckets, flush, histogram, recording
from metrics.models import MetricFlush, MetricMinute, MetricTotal
from metrics.series import series

# A fixed hour, 2026-01-05 10:00 UTC.
HOUR = int(datetime(2026, 1, 5, 10, tzinfo=UTC).timestamp())


@pytest.fixture
def metrics_redis(redis_url, settings, monkeypatch):
    settings.REDIS_URL = redis_url
    monkeypatch.setattr(redis_link, "_clients", {})
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return client


def row(team, function_id, minute: int, durations=(), **values):
    return MetricMinute.objects.create(
        team=team, function_id=function_id, function_name="f", minute=datetime.fromtimestamp(minute, tz=UTC),
        durations=histogram.of(durations), invocations=values.pop("invocations", len(durations)), **values,
    )


def sample(fn, status="succeeded", at=None, duration_ms=10.0, billed_ms=10, cold=False, request_id=""):
    return recording.Sample(
        function_id=str(fn.id), function_name=fn.name, team_id=fn.team_id, qualifier="$LATEST",
        status=status, at=at if at is not None else time.time(), duration_ms=duration_ms, billed_ms=billed_ms,
        memory_mb=fn.memory_mb, cold=cold, request_id=request_id,
    )


def test_every_step_is_present_with_zeros_where_nothing_ran(team):
    fn_id = uuid.uuid4()
    row(team, fn_id, HOUR + 120, durations=[5, 7], errors_failed=1, cold_starts=1, gb_seconds=0.25)
    row(team, fn_id, HOUR + 1800, durations=[100], errors_timed_out=1, throttles=2)
    got = series(teams=[team], since=HOUR, until=HOUR + 3600, step_s=60)
    assert got["t"] == list(range(HOUR, HOUR + 3600, 60))
    assert len(got["invocations"]) == 60
    assert got["invocations"][2] == 2 and got["invocations"][30] == 1
    assert got["errors"][2] == 1 and got["errors_failed"][2] == 1
    assert got["errors"][30] == 1 and got["errors_timed_out"][30] == 1 and got["throttles"][30] == 2
    assert got["cold_starts"][2] == 1 and got["gb_seconds"][2] == 0.25
    assert got["p50"][2] == pytest.approx(5, rel=histogram.ALPHA)
    assert got["p99"][2] == pytest.approx(7, rel=histogram.ALPHA)
    assert got["p50"][0] is None and got["invocations"][0] == 0 and got["errors"][0] == 0
    assert got["totals"]["invocations"] == 3 and got["totals"]["errors"] == 2
    assert got["totals"]["p99"] == pytest.approx(100, rel=histogram.ALPHA)


def test_minutes_merge_into_ten_minute_and_hour_steps(team):
    fn_id = uuid.uuid4()
    everything = []
    for m in range(20):
        durations = [m * 10 + k for k in range(1, 6)]
        everything += durations
        row(team, fn_id, HOUR + m * 60, durations=durations, concurrency_max=m % 7)
    ten = series(teams=[team], function_id=fn_id, since=HOUR, until=HOUR + 3600, step_s=600)
    assert ten["t"] == [HOUR + i * 600 for i in range(6)]
    assert ten["invocations"] == [50, 50, 0, 0, 0, 0]
    assert ten["concurrency"][:2] == [6, 6]
    first = sorted(everything[:50])
    assert ten["p50"][0] == pytest.approx(first[24], rel=histogram.ALPHA)
    assert ten["p95"][0] == pytest.approx(first[47], rel=histogram.ALPHA)
    hour = series(teams=[team], since=HOUR - 3600, until=HOUR + 3600, step_s=3600)
    assert hour["t"] == [HOUR - 3600, HOUR] and hour["invocations"] == [0, 100]
    ordered = sorted(everything)
    assert hour["p99"][1] == pytest.approx(ordered[98], rel=histogram.ALPHA)
    assert hour["totals"]["p50"] == pytest.approx(ordered[49], rel=histogram.ALPHA)


def test_an_empty_range_has_zeros_nones_and_totals(team):
    got = series(teams=[team], since=HOUR, until=HOUR + 600, step_s=60)
    assert got["invocations"] == [0] * 10 and got["p95"] == [None] * 10 and got["concurrency"] == [0] * 10
    assert got["totals"] == {
        "invocations": 0, "errors": 0, "errors_failed": 0, "errors_timed_out": 0, "errors_out_of_memory": 0,
        "throttles": 0, "cold_starts": 0, "p50": None, "p95": None, "p99": None, "concurrency": 0,
        "gb_seconds": 0.0,
    }
    assert series(teams=[team], since=HOUR, until=HOUR, step_s=60)["t"] == []


def test_a_step_that_is_not_whole_minutes_is_refused(team):
    with pytest.raises(ValueError, match="multiple of 60"):
        series(teams=[team], since=HOUR, until=HOUR + 600, step_s=90)


def test_one_query_per_call_whatever_the_number_of_steps(team, django_assert_num_queries):
    fn_id = uuid.uuid4()
    for m in range(0, 7 * 24 * 60, 97):
        row(team, fn_id, HOUR + m * 60, durations=[m % 50 + 1])
    with django_assert_num_queries(1):
        week = series(teams=[team], since=HOUR, until=HOUR + 7 * 24 * 3600, step_s=3600)
    assert len(week["t"]) == 168 and sum(week["invocations"]) == len(range(0, 7 * 24 * 60, 97))
    with django_assert_num_queries(1):
        series(teams=None, since=HOUR, until=HOUR + 3600, step_s=60)


def test_teams_functions_and_qualifiers_scope_the_series(team):
    other = Team.objects.create(name="other")
    a, b = uuid.uuid4(), uuid.uuid4()
    peaks = {"installation_concurrency_max": 5}
    row(team, a, HOUR, invocations=3, team_concurrency_max=2, concurrency_max=2, **peaks)
    row(team, b, HOUR, invocations=4, team_concurrency_max=3, concurrency_max=1, **peaks)
    row(other, uuid.uuid4(), HOUR, invocations=5, team_concurrency_max=2, installation_concurrency_max=5)
    MetricMinute.objects.create(team=team, function_id=a, function_name="f", qualifier="1", invocations=7,
                                minute=datetime.fromtimestamp(HOUR, tz=UTC))
    mine = series(teams=[team], since=HOUR, until=HOUR + 60)
    assert mine["invocations"] == [14] and mine["concurrency"] == [3]
    both = series(teams=[team.pk, other.pk], since=HOUR, until=HOUR + 60)
    assert both["invocations"] == [19] and both["concurrency"] == [5]
    assert series(teams=None, since=HOUR, until=HOUR + 60)["concurrency"] == [5]
    assert series(teams=[team], function_id=a, since=HOUR, until=HOUR + 60)["invocations"] == [10]
    only = series(teams=[team], function_id=a, qualifier="$LATEST", since=HOUR, until=HOUR + 60)
    assert only["invocations"] == [3] and only["concurrency"] == [2]
    # Another team's function is not reachable by naming it.
    assert series(teams=[other], function_id=a, since=HOUR, until=HOUR + 60)["invocations"] == [0]
    assert series(teams=[], since=HOUR, until=HOUR + 60)["invocations"] == [0]


def test_recorded_calls_are_in_the_series_before_and_after_the_flush(metrics_redis, make_function):
    fn = make_function()
    now = time.time()
    minute = int(now // 60) * 60
    recording.record(sample(fn, duration_ms=20, billed_ms=20, cold=True))
    recording.record(sample(fn, status="failed", duration_ms=40, billed_ms=40))
    recording.record(sample(fn, status="out_of_memory", duration_ms=80, billed_ms=80))
    recording.record(sample(fn, status="throttled", duration_ms=None, billed_ms=0))
    args = dict(teams=[fn.team], function_id=fn.id, since=minute, until=minute + 60)
    before = series(**args)
    assert before["invocations"] == [3] and before["throttles"] == [1] and before["cold_starts"] == [1]
    assert before["errors"] == [2] and before["errors_out_of_memory"] == [1]
    assert before["gb_seconds"] == [pytest.approx(140 / 1000 * 128 / 1024)]
    assert before["p50"] == [pytest.approx(40, rel=histogram.ALPHA)]
    assert flush.flush_once(metrics_redis) == 1
    assert series(**args) == before
    stored = MetricMinute.objects.get(function_id=fn.id)
    stored_counts = (stored.invocations, stored.errors_failed, stored.throttles, stored.billed_ms_sum)
    assert stored_counts == (3, 1, 1, 140)
    assert MetricTotal.objects.get(function_id=fn.id).invocations == 3
    # More of the same minute is added to the stored row.
    recording.record(sample(fn, duration_ms=5, billed_ms=5))
    assert series(**args)["invocations"] == [4]
    flush.flush_once(metrics_redis)
    assert MetricMinute.objects.get(function_id=fn.id).invocations == 4
    assert MetricTotal.objects.get(function_id=fn.id).invocations == 4
    assert series(**args)["invocations"] == [4]


def test_a_flusher_that_died_before_committing_loses_nothing(metrics_redis, make_function):
    fn = make_function()
    minute = int(time.time() // 60) * 60
    for _ in range(3):
        recording.record(sample(fn))
    # Taken by a flusher that then died.
    metrics_redis.eval(flush._TAKE, 3, recording.pending_key(), buckets.flushing_key(), buckets.seq_key(),
                       "dead", time.time(), 500, buckets.flushing_key())
    args = dict(teams=[fn.team], since=minute, until=minute + 60)
    assert series(**args)["invocations"] == [3]  # still counted, from Redis
    assert flush.recover(metrics_redis, stale_s=3600) == 0  # not stale yet
    assert flush.recover(metrics_redis, stale_s=0) == 1
    assert MetricMinute.objects.get().invocations == 3 and MetricFlush.objects.filter(id="dead").exists()
    assert metrics_redis.zcard(buckets.flushing_key()) == 0
    assert series(**args)["invocations"] == [3]


def test_a_flusher_that_died_after_committing_is_not_added_twice(metrics_redis, make_function):
    fn = make_function()
    minute = int(time.time() // 60) * 60
    recording.record(sample(fn))
    recording.record(sample(fn))
    flat = metrics_redis.eval(flush._TAKE, 3, recording.pending_key(), buckets.flushing_key(),
                              buckets.seq_key(), "committed", time.time(), 500, buckets.flushing_key())
    assert flush.apply("committed", flush._parse_all(flat)) is True  # then it died
    assert series(teams=[fn.team], since=minute, until=minute + 60)["invocations"] == [2]
    assert flush.recover(metrics_redis, stale_s=0) == 1
    assert MetricMinute.objects.get().invocations == 2
    assert MetricTotal.objects.get().invocations == 2
    assert flush.apply("committed", flush._parse_all(flat)) is False


def test_two_flushers_add_up(metrics_redis, make_function):
    fn = make_function()
    recording.record(sample(fn, at=HOUR + 5))
    first = metrics_redis.eval(flush._TAKE, 3, recording.pending_key(), buckets.flushing_key(),
                               buckets.seq_key(), "one", time.time(), 500, buckets.flushing_key())
    recording.record(sample(fn, at=HOUR + 10))
    recording.record(sample(fn, at=HOUR + 70))
    assert flush.flush_once(metrics_redis) == 2
    flush.apply("one", flush._parse_all(first))
    assert sorted(MetricMinute.objects.values_list("invocations", flat=True)) == [1, 2]
    assert MetricTotal.objects.get().invocations == 3


def test_concurrency_is_the_running_count_seen_at_each_finish(metrics_redis, make_function):
    fn = make_function()
    running = recording.running_keys(fn.id, fn.team_id)
    expires = time.time() + 60
    for key in running:
        metrics_redis.zadd(key, {"a": expires, "b": expires, "c": expires})
    metrics_redis.zadd(running[2], {"other-team": expires})
    recording.record(sample(fn, request_id="a"))
    recording.record(sample(fn, request_id="b"))
    minute = int(time.time() // 60) * 60
    one = series(teams=[fn.team], function_id=fn.id, since=minute, until=minute + 60)
    assert one["concurrency"] == [3]
    assert series(teams=None, since=minute, until=minute + 60)["concurrency"] == [4]
    assert metrics_redis.zcard(running[0]) == 1  # c still runs


def test_without_redis_recording_is_skipped_quietly(make_function, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(redis_link, "_clients", {})
    fn = make_function()
    recording.record(sample(fn))
    assert series(teams=[fn.team], since=HOUR, until=HOUR + 60)["invocations"] == [0]


def test_minutes_past_retention_are_trimmed_and_totals_kept(team, settings):
    from datetime import timedelta

    from django.utils import timezone

    from metrics import retention, tasks

    settings.STRATUS_METRICS_RETENTION_DAYS = 7
    fn_id = uuid.uuid4()
    now = int(time.time() // 60) * 60
    row(team, fn_id, now - 8 * 86400, invocations=5)
    row(team, fn_id, now - 6 * 86400, invocations=3)
    MetricTotal.objects.create(team=team, function_id=fn_id, function_name="f", invocations=8)
    MetricFlush.objects.create(id="old")
    MetricFlush.objects.filter(id="old").update(applied_at=timezone.now() - timedelta(days=2))
    MetricFlush.objects.create(id="new")
    assert tasks.trim() == 1
    assert list(MetricMinute.objects.values_list("invocations", flat=True)) == [3]
    assert MetricTotal.objects.get().invocations == 8
    assert list(MetricFlush.objects.values_list("id", flat=True)) == ["new"]
    assert retention.cutoff() < timezone.now() - timedelta(days=6)


def test_a_flush_that_lost_an_insert_race_tries_again_and_adds_once(
    metrics_redis, make_function, monkeypatch
):
    from django.db import IntegrityError

    fn = make_function()
    recording.record(sample(fn))
    real_add, calls = flush._add, []

    def racing(taken):
        calls.append(1)
        real_add(taken)
        if len(calls) == 1:
            raise IntegrityError("UNIQUE constraint failed: another flusher inserted the row")

    monkeypatch.setattr(flush, "_add", racing)
    assert flush.flush_once(metrics_redis) == 1
    assert len(calls) == 2
    assert MetricMinute.objects.get().invocations == 1 and MetricFlush.objects.count() == 1
    assert metrics_redis.zcard(buckets.flushing_key()) == 0


def test_a_single_call_has_exact_percentiles_before_and_after_the_flush(metrics_redis, make_function):
    fn = make_function()
    minute = int(time.time() // 60) * 60
    recording.record(sample(fn, duration_ms=2004.79, billed_ms=2005))
    args = dict(teams=[fn.team], function_id=fn.id, since=minute, until=minute + 60)
    before = series(**args)
    assert (before["p50"], before["p95"], before["p99"]) == ([2004.79], [2004.79], [2004.79])
    assert before["totals"]["p99"] == 2004.79
    flush.flush_once(metrics_redis)
    stored = MetricMinute.objects.get(function_id=fn.id)
    assert (stored.duration_ms_min, stored.duration_ms_max) == (2004.79, 2004.79)
    assert series(**args) == before
    # Two calls far apart, one flushed and one not: min and max merge
    # (least / greatest), so p99 is the larger exactly, p50 the smaller.
    recording.record(sample(fn, duration_ms=3.25, billed_ms=4))
    recording.record(sample(fn, duration_ms=9000.5, billed_ms=9001))
    got = series(**args)
    assert got["p99"] == [9000.5] and got["totals"]["p99"] == 9000.5
    assert got["p50"] == [pytest.approx(2004.79, rel=histogram.ALPHA)]
    flush.flush_once(metrics_redis)
    stored.refresh_from_db()
    assert (stored.duration_ms_min, stored.duration_ms_max) == (3.25, 9000.5)
    assert series(**args) == got


def test_percentiles_over_steps_are_clamped_to_each_steps_extremes(team):
    fn_id = uuid.uuid4()
    row(team, fn_id, HOUR, durations=[2004.79], duration_ms_min=2004.79, duration_ms_max=2004.79)
    row(team, fn_id, HOUR + 60, durations=[1.5, 700.25], duration_ms_min=1.5, duration_ms_max=700.25)
    row(team, fn_id, HOUR + 120, durations=[50])  # kept before the extremes were: not clamped
    got = series(teams=[team], since=HOUR, until=HOUR + 180, step_s=60)
    assert got["p99"][:2] == [2004.79, 700.25]
    assert got["p99"][2] == pytest.approx(50, rel=histogram.ALPHA)
    # A range holding a minute without extremes cannot be clamped (its
    # largest value is unknown): the histogram's answer.
    assert got["totals"]["p99"] == pytest.approx(2004.79, rel=histogram.ALPHA)
    assert got["totals"]["p99"] != 2004.79
    two = series(teams=[team], since=HOUR, until=HOUR + 120, step_s=60)
    assert two["totals"]["p99"] == 2004.79
    ten = series(teams=[team], since=HOUR, until=HOUR + 120, step_s=600)
    assert ten["p99"] == [2004.79] and ten["p50"] == [pytest.approx(700.25, rel=histogram.ALPHA)]
