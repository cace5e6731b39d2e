"""Every event source mapping of a function in its Triggers tab (SQS,
Kinesis, DynamoDB): source, state, batch size, per-shard position, last
result and error; enable/disable and delete from the tab."""

import pytest
from django.urls import reverse

from invocations.models import Invocation
from mappings import configure, tab
from mappings.models import EventSourceMapping, ShardCheckpoint
from messaging import queues

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fn(make_function):
    return make_function("reader", timeout_s=3)


@pytest.fixture
def mappings(fn, team):
    queue = queues.create_queue(team, "jobs")
    sqs = configure.create(fn, queue.arn, batch_size=5, function_response_types=["ReportBatchItemFailures"])
    # Stream mappings as the kinesis and tables apps store them (their
    # sources are registered on their own branches).
    kinesis = EventSourceMapping.objects.create(
        function=fn, kind="kinesis", batch_size=100, starting_position="TRIM_HORIZON",
        event_source_arn=f"arn:aws:kinesis:us-east-1:{team.account_id}:stream/clicks",
        last_processing_result="PROBLEM: Function call failed", last_error="ValueError: boom",
    )
    dynamodb = EventSourceMapping.objects.create(
        function=fn, kind="dynamodb", batch_size=50, starting_position="LATEST", enabled=False,
        state="Disabled",
        event_source_arn=f"arn:aws:dynamodb:us-east-1:{team.account_id}:table/orders/stream/2026-11-30T00:00",
    )
    ShardCheckpoint.objects.create(mapping=kinesis, shard_id="shardId-000000000001", sequence_number=42)
    ShardCheckpoint.objects.create(mapping=kinesis, shard_id="shardId-000000000000", sequence_number=None)
    return sqs, kinesis, dynamodb


def test_rows_describe_every_kind(fn, mappings):
    sqs, kinesis, dynamodb = mappings
    rows = tab.rows(fn)
    assert [(r["kind"], r["target"], r["state"], r["batch_size"]) for r in rows] == [
        ("SQS queue", "jobs", "Enabled", 5),
        ("Kinesis stream", "clicks", "Enabled", 100),
        ("DynamoDB stream", "orders (stream 2026-11-30T00:00)", "Disabled", 50),
    ]
    assert rows[1]["positions"] == [("shardId-000000000000", "—"), ("shardId-000000000001", "42")]
    assert "position shardId-000000000000: —, shardId-000000000001: 42" in rows[1]["description"]
    assert "last error: ValueError: boom" in rows[1]["description"]
    assert "ReportBatchItemFailures" in rows[0]["description"]
    assert "position not started" in rows[2]["description"]


def test_the_tab_lists_them_with_errors_and_toggles_and_deletes(client, users, fn, mappings):
    sqs, kinesis, dynamodb = mappings
    Invocation.objects.create(function=fn, status="failed", trigger=kinesis.trigger)
    client.force_login(users["member"])
    body = client.get(reverse("trg-tab", args=[fn.id]), **HX).content.decode()
    shown = ("SQS queue", "Kinesis stream", "DynamoDB stream", "clicks", "PROBLEM: Function call failed")
    for words in shown:
        assert words in body
    toggle = reverse("msg-fn-mapping-toggle", args=[fn.id, kinesis.id])
    assert toggle in body
    r = client.post(toggle, **HX)
    assert r.status_code == 200 and r["HX-Trigger"] == "triggers-changed"
    kinesis.refresh_from_db()
    assert (kinesis.enabled, kinesis.state) == (False, "Disabled")
    r = client.post(reverse("msg-fn-mapping-toggle", args=[fn.id, dynamodb.id]))
    assert r.status_code == 302 and r["Location"].endswith("?tab=triggers")
    dynamodb.refresh_from_db()
    assert (dynamodb.enabled, dynamodb.state) == (True, "Enabled")
    client.post(reverse("msg-fn-mapping-delete", args=[fn.id, sqs.id]), **HX)
    assert not EventSourceMapping.objects.filter(pk=sqs.pk).exists()


def test_a_reader_or_another_functions_url_cannot_change_them(client, users, fn, mappings, make_function):
    sqs = mappings[0]
    client.force_login(users["reader"])
    assert client.post(reverse("msg-fn-mapping-delete", args=[fn.id, sqs.id])).status_code in (403, 404)
    client.force_login(users["member"])
    other = make_function("other")
    assert client.post(reverse("msg-fn-mapping-delete", args=[other.id, sqs.id])).status_code == 404
    assert EventSourceMapping.objects.filter(pk=sqs.pk).exists()


def test_the_poll_a_queue_form_offers_report_batch_item_failures_checked(client, users, fn, team):
    queue = queues.create_queue(team, "jobs")
    client.force_login(users["member"])
    body = client.get(reverse("trg-tab", args=[fn.id]), **HX).content.decode()
    (box,) = [line for line in body.splitlines() if '<input type="checkbox" name="report_failures"' in line]
    assert box.rstrip().endswith(" checked>")
    form = {"queue": queue.pk, "batch_size": "10", "batching_window_s": "0", "priority": "normal"}
    client.post(reverse("msg-fn-map-queue", args=[fn.id]), {**form, "report_failures": "on"}, **HX)
    assert EventSourceMapping.objects.get().function_response_types == ["ReportBatchItemFailures"]
