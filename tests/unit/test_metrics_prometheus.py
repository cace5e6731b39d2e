"""GET /metrics: Prometheus's text format (parsed back with
prometheus-client's own parser), guarded by STRATUS_METRICS_TOKEN."""

import time
import uuid

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from awsapi import door
from invocations import redis_link
from metrics import flush, histogram, prometheus, recording
from metrics.models import MetricTotal

TOKEN = "s3cret-token"


@pytest.fixture
def metrics_redis(redis_url, settings, monkeypatch):
    settings.REDIS_URL = redis_url
    monkeypatch.setattr(redis_link, "_clients", {})
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return client


@pytest.fixture
def token(settings):
    settings.STRATUS_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token=TOKEN):
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(answer.content.decode())}


def value(family, **labels):
    found = [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (family.name, labels, family.samples)
    return found[0]


def sample(fn, status="succeeded", duration_ms=10.0, cold=False, request_id=""):
    return recording.Sample(
        function_id=str(fn.id), function_name=fn.name, team_id=fn.team_id, qualifier="$LATEST", status=status,
        at=time.time(), duration_ms=duration_ms if status != "throttled" else None,
        billed_ms=int(duration_ms) if status != "throttled" else 0, memory_mb=fn.memory_mb, cold=cold,
        request_id=request_id,
    )


def test_it_is_off_with_a_clear_answer_while_no_token_is_set(client, settings):
    settings.STRATUS_METRICS_TOKEN = ""
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert answer.status_code == 404 and b"set STRATUS_METRICS_TOKEN" in answer.content


def test_it_refuses_a_missing_or_wrong_token(client, token):
    missing = client.get("/metrics")
    assert missing.status_code == 401 and b"no token was sent" in missing.content
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and b"the token is wrong" in wrong.content
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401  # not "Bearer ..."


def test_it_answers_only_get(client, token):
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_the_aws_front_door_leaves_metrics_to_django():
    headers = [(b"authorization", b"Bearer x"), (b"user-agent", b"Prometheus/2.53.0")]
    scope = {"type": "http", "path": "/metrics", "headers": headers, "query_string": b""}
    assert not door.matches(scope)
    assert "/metrics".startswith(door.DJANGO_PREFIXES)


def test_counts_errors_durations_and_gb_seconds_flushed_and_not(client, token, metrics_redis, make_function):
    fn = make_function("api")
    other = make_function("worker")
    for ms in (3, 30, 300):
        recording.record(sample(fn, duration_ms=ms, cold=ms == 3))
    recording.record(sample(fn, status="failed", duration_ms=1500))
    recording.record(sample(fn, status="timed_out", duration_ms=3000))
    flush.flush_once(metrics_redis)
    # After the flush: more, still in Redis only.
    recording.record(sample(fn, status="out_of_memory", duration_ms=50))
    recording.record(sample(fn, status="throttled"))
    recording.record(sample(other, duration_ms=7))
    families = scrape(client)
    labels = {"function": "api", "team": fn.team.name, "qualifier": "$LATEST"}
    assert value(families["stratus_invocations"], **labels) == 6
    assert families["stratus_invocations"].type == "counter"
    assert value(families["stratus_errors"], kind="failed", **labels) == 1
    assert value(families["stratus_errors"], kind="timed_out", **labels) == 1
    assert value(families["stratus_errors"], kind="out_of_memory", **labels) == 1
    assert value(families["stratus_throttles"], **labels) == 1
    assert value(families["stratus_cold_starts"], **labels) == 1
    billed = 3 + 30 + 300 + 1500 + 3000 + 50
    assert value(families["stratus_billed_duration_seconds"], **labels) == pytest.approx(billed / 1000)
    assert value(families["stratus_gb_seconds"], **labels) == pytest.approx(billed / 1000 * 128 / 1024)
    assert value(families["stratus_invocations"], function="worker") == 1
    hist = families["stratus_duration_seconds"]
    assert hist.type == "histogram"
    buckets = {
        float(s.labels["le"]): s.value for s in hist.samples
        if s.name == "stratus_duration_seconds_bucket" and s.labels["function"] == "api"
    }
    # Cumulative and exact at each bound.
    assert buckets[float("inf")] == 6
    assert list(buckets.values()) == sorted(buckets.values())
    for le, count in buckets.items():
        assert count == sum(1 for ms in (3, 30, 300, 1500, 3000, 50) if ms / 1000 <= le), le
    api = [s for s in hist.samples if s.labels["function"] == "api"]
    count = [s.value for s in api if s.name == "stratus_duration_seconds_count"]
    total = [s.value for s in api if s.name == "stratus_duration_seconds_sum"]
    assert count == [6] and total == [pytest.approx(billed / 1000)]
    running = families["stratus_concurrent_executions"]
    assert running.type == "gauge" and value(running, function="api") == 0


def test_the_gauge_counts_calls_running_now(client, token, metrics_redis, make_function):
    fn = make_function()
    MetricTotal.objects.create(team=fn.team, function_id=fn.id, function_name=fn.name, invocations=4,
                               durations=histogram.of([1, 2, 3, 4]))
    expires = time.time() + 60
    metrics_redis.zadd(recording.running_keys(fn.id, fn.team_id)[0], {"a": expires, "b": expires, "old": 1})
    families = scrape(client)
    assert value(families["stratus_concurrent_executions"], function=fn.name) == 2
    assert value(families["stratus_invocations"], function=fn.name) == 4


def test_without_redis_the_database_totals_are_served(client, token, make_function, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(redis_link, "_clients", {})
    fn = make_function()
    MetricTotal.objects.create(team=fn.team, function_id=uuid.UUID(str(fn.id)), function_name=fn.name,
                               invocations=9, errors_failed=2)
    families = scrape(client)
    assert value(families["stratus_invocations"], function=fn.name) == 9
    assert value(families["stratus_errors"], function=fn.name, kind="failed") == 2


def test_the_exposition_parses_with_nothing_recorded(db):
    names = {f.name for f in text_string_to_metric_families(prometheus.exposition().decode())}
    assert {"stratus_invocations", "stratus_duration_seconds", "stratus_concurrent_executions"} <= names


def test_sums_carry_no_float_noise_flushed_and_not(client, token, metrics_redis, make_function):
    # 1 ms and 8 ms at 128 MB: 0.000125 + 0.001 GB-s, which floats add up
    # to 0.0011250000000000001; the bill is 0.001125 exactly.
    fn = make_function("noisy")
    recording.record(sample(fn, duration_ms=1))
    flush.flush_once(metrics_redis)
    recording.record(sample(fn, duration_ms=8))
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    gb = [line for line in answer.splitlines() if line.startswith("stratus_gb_seconds_total{")]
    assert gb and gb[0].endswith(" 0.001125"), gb
    flush.flush_once(metrics_redis)
    assert MetricTotal.objects.get(function_id=fn.id).gb_seconds == 0.001125
    # Three more flushes of odd amounts: stored sums stay clean too.
    for ms in (3, 7, 11):
        recording.record(sample(fn, duration_ms=ms + 0.1))
        flush.flush_once(metrics_redis)
    total = MetricTotal.objects.get(function_id=fn.id)
    assert total.gb_seconds == float(f"{(1 + 8 + 3 + 7 + 11) * 128 / 1024 / 1000:.12g}")
    assert repr(total.duration_ms_sum) == "30.3"
    families = scrape(client)
    assert value(families["stratus_gb_seconds"], function="noisy") == 0.00375
    duration_sum = [s for s in families["stratus_duration_seconds"].samples if s.name.endswith("_sum")]
    assert [s.value for s in duration_sum] == [0.0303]
