"""The SQS poller on mappings.EventSourceMapping: FilterCriteria (a message
no filter matches is deleted without an invocation), ScalingConfig's
MaximumConcurrency, FunctionResponseTypes (batchItemFailures only read
with ReportBatchItemFailures), a missing queue, and LastProcessingResult."""

import json

import pytest

from invocations import tasks
from invocations.models import Invocation
from mappings import configure
from mappings.models import EventSourceMapping
from messaging import poller, queues
from messaging.models import QueueMessage
from tests.unit.queue_clock import at


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def queue(team):
    return queues.create_queue(team, "jobs", visibility_timeout_s=30)


@pytest.fixture
def fn(make_function):
    return make_function(timeout_s=3)


def send(queue, body, at_s=0, **kwargs):
    return queues.send(queue, body, now=at(at_s), **kwargs)


def finish(inv, status="succeeded", result=None, error=None):
    Invocation.objects.filter(pk=inv.pk).update(
        status=status, result=json.dumps(result) if result is not None else None, error=error
    )
    inv.refresh_from_db()
    poller.finish_queue_batch(inv)


def bodies(inv) -> list[str]:
    return [r["body"] for r in json.loads(inv.event)["Records"]]


def test_only_matching_messages_reach_the_function_and_the_rest_are_deleted(queue, fn):
    mapping = configure.create(fn, queue.arn, filter_criteria={"Filters": [
        {"Pattern": json.dumps({"body": {"kind": ["order"]}})},
        {"Pattern": json.dumps({"body": ["ping"]})},
    ]})
    keep = [send(queue, json.dumps({"kind": "order", "n": 1})), send(queue, "ping")]
    drop = [send(queue, json.dumps({"kind": "refund"})), send(queue, "pong"), send(queue, "{broken")]
    inv = poller.poll_mapping(mapping, at(1))
    assert bodies(inv) == [json.dumps({"kind": "order", "n": 1}), "ping"]
    left = set(QueueMessage.objects.values_list("message_id", flat=True))
    assert left == {m.message_id for m in keep}  # the dropped ones are gone at once
    assert drop
    finish(inv)
    assert not QueueMessage.objects.exists()


def test_a_batch_nothing_matches_invokes_nothing(queue, fn):
    mapping = configure.create(fn, queue.arn, filter_criteria={"Filters": [{"Pattern": '{"body": ["x"]}'}]})
    for i in range(3):
        send(queue, f"y{i}")
    assert poller.poll_mapping(mapping, at(1)) is None
    assert not Invocation.objects.exists()
    assert not QueueMessage.objects.exists()


def test_maximum_concurrency_bounds_the_mappings_invocations_in_flight(queue, fn):
    mapping = configure.create(fn, queue.arn, batch_size=1, max_concurrency=2)
    for i in range(5):
        send(queue, f"m{i}")
    assert poller.poll_all(at(1)) == 2
    assert poller.poll_all(at(2)) == 0  # two queued: at the limit
    first = Invocation.objects.filter(trigger=mapping.trigger).order_by("created_at").first()
    finish(first)
    assert poller.poll_all(at(3)) == 1
    running = Invocation.objects.filter(trigger=mapping.trigger, status="queued").first()
    Invocation.objects.filter(pk=running.pk).update(status="running")
    assert poller.poll_all(at(4)) == 0  # running counts as well as queued
    assert QueueMessage.objects.count() == 4


def test_without_report_batch_item_failures_a_success_deletes_the_whole_batch(queue, fn):
    mapping = configure.create(fn, queue.arn)
    a, b = send(queue, "a"), send(queue, "b")
    inv = poller.poll_mapping(mapping, at(1))
    finish(inv, result={"batchItemFailures": [{"itemIdentifier": str(b.message_id)}]})
    assert not QueueMessage.objects.exists()
    assert a


def test_with_report_batch_item_failures_the_reported_ones_stay(queue, fn):
    mapping = configure.create(fn, queue.arn, function_response_types=["ReportBatchItemFailures"])
    a, b = send(queue, "a"), send(queue, "b")
    inv = poller.poll_mapping(mapping, at(1))
    finish(inv, result={"batchItemFailures": [{"itemIdentifier": str(b.message_id)}]})
    assert list(QueueMessage.objects.values_list("message_id", flat=True)) == [b.message_id]
    mapping.refresh_from_db()
    assert mapping.last_processing_result == "OK"
    assert a


def test_a_failed_invocation_is_a_problem_with_its_error(queue, fn):
    mapping = configure.create(fn, queue.arn)
    send(queue, "a")
    inv = poller.poll_mapping(mapping, at(1))
    finish(inv, status="failed", error={"errorType": "ValueError", "errorMessage": "bad input"})
    mapping.refresh_from_db()
    assert mapping.last_processing_result == "PROBLEM: Function call failed"
    assert mapping.last_error == "ValueError: bad input"
    assert QueueMessage.objects.count() == 1  # back after the visibility timeout


def test_a_deleted_queue_leaves_the_mapping_with_a_problem(queue, fn):
    mapping = configure.create(fn, queue.arn)
    queue.delete()
    assert poller.poll_all(at(1)) == 0
    mapping.refresh_from_db()
    assert mapping.last_processing_result == f"PROBLEM: The SQS queue {queue.arn} does not exist."


def test_disabled_and_stream_mappings_are_not_polled(queue, fn, make_function):
    mapping = configure.create(fn, queue.arn)
    configure.set_enabled(mapping, False)
    EventSourceMapping.objects.create(
        function=make_function("other"), kind="kinesis", starting_position="LATEST",
        event_source_arn="arn:aws:kinesis:us-east-1:123456789012:stream/s",
    )
    send(queue, "a")
    assert poller.poll_all(at(1)) == 0
    assert EventSourceMapping.objects.get(pk=mapping.pk).state == "Disabled"
