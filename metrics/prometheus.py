"""GET /metrics: the recorded metrics in Prometheus's text format, made by
prometheus-client from a custom collector.

Counters are everything recorded since the installation started
(MetricTotal, plus what Redis holds that is not flushed yet), so they never
go down when old minutes are trimmed. Labels: `function` (its name),
`team` (its name), `qualifier` ("$LATEST", later versions and aliases).

| metric | type | what |
|---|---|---|
| stratus_invocations_total | counter | attempts that ran (throttles excluded) |
| stratus_errors_total{kind} | counter | kind = failed, timed_out, out_of_memory |
| stratus_throttles_total | counter | sync 429s and async waits for a slot |
| stratus_cold_starts_total | counter | calls that started an environment |
| stratus_duration_seconds | histogram | durations; `le`: bounds of metrics.histogram's buckets (exact) |
| stratus_billed_duration_seconds_total | counter | billed duration |
| stratus_gb_seconds_total | counter | billed seconds x memory GB |
| stratus_concurrent_executions | gauge | calls running now, per function (no qualifier label) |

Access: the setting STRATUS_METRICS_TOKEN; a scraper sends
`Authorization: Bearer <token>`. Without it or with another token the
answer is 401; while the setting is empty the endpoint is off and answers
404 saying how to turn it on."""

from __future__ import annotations

import hmac
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from functions.models import Team
from invocations import redis_link
from metrics import buckets, histogram, reading, recording
from metrics.models import MetricTotal

LABELS = ["function", "team", "qualifier"]
# Durations (ms) the `le` bounds are taken near: the bucket bound at or
# above each, so the cumulative counts are exact.
LE_NEAR_MS = (
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000,
)
LE_MS = sorted({histogram.upper_bound(histogram.bucket_of(ms)) for ms in LE_NEAR_MS})
_FIELDS = ("team_id", "function_id", "function_name", "qualifier", *buckets.SUM_FIELDS, "durations")


def _totals() -> dict[tuple[str, str], dict]:
    """Per (function id, qualifier): team_id, function_name, the sums and
    the durations, from MetricTotal and unflushed buckets."""
    rows, held = reading.consistent(lambda: list(MetricTotal.objects.values_list(*_FIELDS)))
    found: dict[tuple[str, str], dict] = {}
    for row in rows:
        values = dict(zip(_FIELDS, row, strict=True))
        found[(str(values["function_id"]), values["qualifier"])] = values
    for bucket in held:
        key = (bucket.function_id, bucket.qualifier)
        entry = found.setdefault(key, {
            "team_id": bucket.team_id, "function_id": bucket.function_id,
            "function_name": bucket.function_name, "qualifier": bucket.qualifier, "durations": {},
        })
        for name in buckets.SUM_FIELDS:
            entry[name] = (entry.get(name) or 0) + bucket.values.get(name, 0)
            if name not in buckets.INT_FIELDS:
                entry[name] = buckets.tidy(entry[name])
        entry["durations"] = histogram.merge(entry["durations"], bucket.durations)
    return found


def _running(functions: dict[str, int]) -> dict[str, int]:
    """Calls running now per function id ({function id: team id} given)."""
    ids = list(functions)

    def count(client):
        pipe = client.pipeline(transaction=False)
        now = time.time()
        for function_id in ids:
            pipe.zcount(recording.running_keys(function_id, functions[function_id])[0], now, "+inf")
        return pipe.execute()

    counts = redis_link.quietly(count, "metrics running counts", default=None) if ids else []
    return dict(zip(ids, counts, strict=True)) if counts is not None else {}


class StratusCollector:
    """prometheus-client's custom collector protocol: collect() yields the
    metric families, read afresh on every scrape."""

    def collect(self):
        totals = _totals()
        team_names = dict(Team.objects.filter(
            id__in={v["team_id"] for v in totals.values()}
        ).values_list("id", "name"))
        def counter(name: str, doc: str, labels=LABELS) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels)

        invocations = counter("stratus_invocations", "Invocations that ran (every attempt).")
        errors = counter("stratus_errors", "Invocations that ended in an error, by kind.", [*LABELS, "kind"])
        throttles = counter("stratus_throttles", "Calls refused or held back for concurrency.")
        cold = counter("stratus_cold_starts", "Invocations that started an environment.")
        duration = HistogramMetricFamily("stratus_duration_seconds", "How long calls ran.", labels=LABELS)
        billed = counter("stratus_billed_duration_seconds", "Billed duration.")
        gb = counter("stratus_gb_seconds", "Billed seconds times memory in GB.")
        functions: dict[str, int] = {}
        names: dict[str, tuple[str, str]] = {}
        ordered = sorted(totals.items(), key=lambda kv: (kv[1]["function_name"], kv[0]))
        for (function_id, qualifier), v in ordered:
            team = team_names.get(v["team_id"])
            if team is None:
                continue  # its team was deleted
            labels = [v["function_name"], team, qualifier]
            functions[function_id] = v["team_id"]
            names[function_id] = (v["function_name"], team)
            invocations.add_metric(labels, v.get("invocations") or 0)
            for kind in ("failed", "timed_out", "out_of_memory"):
                errors.add_metric([*labels, kind], v.get(f"errors_{kind}") or 0)
            throttles.add_metric(labels, v.get("throttles") or 0)
            cold.add_metric(labels, v.get("cold_starts") or 0)
            counts = histogram.cumulative(v["durations"], LE_MS)
            total = histogram.count(v["durations"])
            les = [(f"{ms / 1000:.9g}", c) for ms, c in zip(LE_MS, counts, strict=True)]
            seconds = buckets.tidy((v.get("duration_ms_sum") or 0) / 1000)
            duration.add_metric(labels, [*les, ("+Inf", total)], sum_value=seconds)
            billed.add_metric(labels, (v.get("billed_ms_sum") or 0) / 1000)
            gb.add_metric(labels, v.get("gb_seconds") or 0)
        running = GaugeMetricFamily(
            "stratus_concurrent_executions", "Invocations running now.", labels=["function", "team"]
        )
        for function_id, count in _running(functions).items():
            running.add_metric(list(names[function_id]), count)
        yield from (invocations, errors, throttles, cold, duration, billed, gb, running)


def exposition() -> bytes:
    """The text format of everything recorded."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StratusCollector())
    return generate_latest(registry)


def _plain(text: str, status: int, **headers) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape target (see the module docstring for access)."""
    token = settings.STRATUS_METRICS_TOKEN
    if not token:
        return _plain(
            "Prometheus metrics are off: set STRATUS_METRICS_TOKEN (or STRATUS_METRICS_TOKEN_FILE) to a "
            "secret, then scrape /metrics with the header 'Authorization: Bearer <that secret>'.", 404,
        )
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        what = "the token is wrong" if given else "no token was sent"
        return _plain(
            f"Unauthorized: {what}; send the header 'Authorization: Bearer <STRATUS_METRICS_TOKEN>'.", 401,
            WWW_Authenticate='Bearer realm="stratus metrics"',
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
