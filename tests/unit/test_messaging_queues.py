"""Queues with the clock in the test's hands: claims, the visibility
timeout, redelivery, dead letters, batching and the batch finish hook."""

import hashlib
import json

import pytest

from invocations import tasks
from invocations.models import Invocation
from messaging import api, poller, queues
from mappings.models import EventSourceMapping
from messaging.models import QueueMessage
from messaging.validation import MessagingError
from tests.unit.queue_clock import T0, at


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


@pytest.fixture
def dlq(team):
    return queues.create_queue(team, "dead")


@pytest.fixture
def queue(team, dlq):
    return queues.create_queue(team, "jobs", visibility_timeout_s=30, max_receive_count=2,
                               dead_letter_queue=dlq)


@pytest.fixture
def fn(make_function):
    return make_function(timeout_s=3)


@pytest.fixture
def mapping(queue, fn):
    return queues.add_mapping(queue, fn, batch_size=3, report_failures=True)


def send(queue, body, at_s=0, **kwargs):
    return queues.send(queue, body, now=at(at_s), **kwargs)


def test_it_claims_visible_messages_and_hides_them(queue):
    m1, m2 = send(queue, "a"), send(queue, "b")
    batch = queues.claim(queue, 10, at(1))
    assert [m.message_id for m in batch] == [m1.message_id, m2.message_id]
    m1.refresh_from_db()
    assert m1.receive_count == 1 and m1.receipt_handle
    assert m1.visible_at == at(31) and m1.first_received_at == at(1)
    assert queues.claim(queue, 10, at(2)) == []
    assert queues.counts(queue, at(2)) == {"visible": 0, "in_flight": 2, "delayed": 0}


def test_it_never_gives_one_receive_to_two_pollers(queue):
    msg = send(queue, "a")
    stale = QueueMessage.objects.get(pk=msg.pk)
    assert len(queues.claim(queue, 1, at(1))) == 1
    # A second poller that read the row before the first claimed it.
    changed = QueueMessage.objects.filter(
        pk=stale.pk, receipt_handle=stale.receipt_handle, visible_at__lte=at(1)
    ).update(receive_count=99)
    assert changed == 0


def test_it_redelivers_after_the_visibility_timeout_with_a_new_receipt(queue):
    send(queue, "a")
    first = queues.claim(queue, 1, at(1))[0]
    again = queues.claim(queue, 1, at(31))[0]
    assert again.receive_count == 2
    assert again.receipt_handle != first.receipt_handle
    assert again.first_received_at == at(1)
    # The first receiver is too late: its receipt no longer deletes it.
    assert queues.delete_received(queue.id, {str(first.message_id): first.receipt_handle}) == 0
    assert queues.delete_received(queue.id, {str(again.message_id): again.receipt_handle}) == 1


def test_it_moves_a_message_past_max_receive_count_to_the_dlq(queue, dlq):
    msg = send(queue, "poison")
    queues.claim(queue, 1, at(1))
    queues.claim(queue, 1, at(40))
    assert queues.claim(queue, 1, at(80)) == []
    msg.refresh_from_db()
    assert msg.queue_id == dlq.id and msg.source_queue_id == queue.id
    assert msg.receive_count == 0 and msg.visible_at == at(80)
    record = queues.sqs_record(dlq, msg)
    assert record["attributes"]["DeadLetterQueueSourceArn"] == queue.arn
    assert list(queues.dead_letters_of(queue)) == [msg]


def test_it_keeps_redelivering_without_a_dlq(team):
    queue = queues.create_queue(team, "plain", visibility_timeout_s=10, max_receive_count=1)
    send(queue, "a")
    assert queues.claim(queue, 1, at(1))
    assert queues.claim(queue, 1, at(20))[0].receive_count == 2


def test_it_redrives_dead_letters_to_their_source(queue, dlq):
    msg = send(queue, "poison")
    for t in (1, 40, 80):
        queues.claim(queue, 1, at(t))
    assert queues.redrive(QueueMessage.objects.filter(queue=dlq), now=at(90)) == 1
    msg.refresh_from_db()
    assert msg.queue_id == queue.id and msg.source_queue_id is None
    assert msg.receive_count == 0 and msg.visible_at == at(90)


def test_it_delays_a_message(queue):
    send(queue, "later", delay_s=60)
    assert queues.counts(queue, at(1)) == {"visible": 0, "in_flight": 0, "delayed": 1}
    assert queues.claim(queue, 1, at(59)) == []
    assert len(queues.claim(queue, 1, at(60))) == 1


def test_it_builds_the_sqs_record_shape(queue):
    msg = send(queue, "body", attributes={"color": "red", "n": 2}, sender_id="AKIAEXAMPLE")
    claimed = queues.claim(queue, 1, at(2))[0]
    record = queues.sqs_record(queue, claimed)
    assert record["messageId"] == str(msg.message_id)
    assert record["receiptHandle"] == claimed.receipt_handle
    assert record["body"] == "body"
    assert record["md5OfBody"] == hashlib.md5(b"body").hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:{queue.team.account_id}:jobs"
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"] == {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": str(int(T0.timestamp() * 1000)),
        "SenderId": "AKIAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": str(int(at(2).timestamp() * 1000)),
    }
    assert record["messageAttributes"]["color"] == {
        "stringValue": "red", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }
    assert record["messageAttributes"]["n"]["dataType"] == "Number"


@pytest.mark.parametrize("kwargs, field", [
    ({"body": ""}, "body"),
    ({"body": "x", "delay_s": 901}, "delay_s"),
    ({"body": "x" * (256 * 1024 + 1)}, "body"),
])
def test_it_refuses_bad_sends(queue, kwargs, field):
    with pytest.raises(MessagingError) as e:
        queues.send(queue, **kwargs)
    assert e.value.field == field
    assert not QueueMessage.objects.exists()


def test_it_sends_through_the_public_api(queue):
    message_id = api.send(queue, "hello", {"k": "v"}, 5)
    msg = QueueMessage.objects.get(message_id=message_id)
    assert msg.attributes == {"k": {"Type": "String", "Value": "v"}}
    assert msg.sender_id == queue.team.account_id


# Mappings and the poller --------------------------------------------------


@pytest.mark.parametrize("kwargs, field", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 11}, "batch_size"),
    ({"batching_window_s": 301}, "batching_window_s"),
    ({"batch_size": "ten"}, "batch_size"),
])
def test_it_refuses_bad_mappings(queue, fn, kwargs, field):
    with pytest.raises(MessagingError) as e:
        queues.add_mapping(queue, fn, **kwargs)
    assert e.value.field == field
    assert not EventSourceMapping.objects.exists()


def test_it_refuses_a_mapping_without_a_function_or_slower_than_the_visibility_timeout(
    queue, make_function
):
    with pytest.raises(MessagingError):
        queues.add_mapping(queue, None)
    with pytest.raises(MessagingError) as e:
        queues.add_mapping(queue, make_function("slow", timeout_s=60))
    assert "visibility timeout" in e.value.message


def test_it_refuses_a_queue_as_its_own_dlq(queue):
    with pytest.raises(MessagingError) as e:
        queues.update_queue(queue, visibility_timeout_s=30, max_receive_count=2, dead_letter_queue=queue)
    assert e.value.field == "dead_letter_queue"
    queue.refresh_from_db()
    assert queue.dead_letter_queue.name == "dead"


def test_it_submits_one_invocation_per_batch(mapping, queue, no_broker,
                                             django_capture_on_commit_callbacks):
    for i in range(4):
        send(queue, f"m{i}")
    with django_capture_on_commit_callbacks(execute=True):
        inv = poller.poll_mapping(mapping, at(1))
    assert inv.source == "queue" and inv.invocation_type == "Event"
    assert inv.trigger == f"event-source-mapping:{mapping.id}"
    assert no_broker == [str(inv.request_id)]
    records = json.loads(inv.event)["Records"]
    assert [r["body"] for r in records] == ["m0", "m1", "m2"]
    assert inv.origin["queue_id"] == str(queue.id)
    assert [m["receipt"] for m in inv.origin["messages"]] == [r["receiptHandle"] for r in records]
    mapping.refresh_from_db()
    assert mapping.last_fired_at == at(1)


def test_it_waits_for_the_batching_window(queue, fn):
    mapping = queues.add_mapping(queue, fn, batch_size=3, batching_window_s=10)
    send(queue, "a")
    assert not poller.batch_due(mapping, at(5))
    assert poller.batch_due(mapping, at(10))
    send(queue, "b", 6)
    send(queue, "c", 6)
    assert poller.batch_due(mapping, at(6))


def test_it_polls_every_enabled_mapping(mapping, queue, fn, make_function):
    for i in range(7):
        send(queue, f"m{i}")
    off = queues.add_mapping(queue, make_function("other", timeout_s=3))
    EventSourceMapping.objects.filter(pk=off.pk).update(enabled=False)
    assert poller.poll_all(at(1)) == 3
    assert Invocation.objects.filter(trigger=mapping.trigger).count() == 3
    assert not Invocation.objects.filter(trigger=off.trigger).exists()


# The finish hook ----------------------------------------------------------


def finished(mapping, status="succeeded", result=None):
    inv = poller.poll_mapping(mapping, at(1))
    Invocation.objects.filter(pk=inv.pk).update(
        status=status, result=json.dumps(result) if result is not None else None
    )
    inv.refresh_from_db()
    poller.finish_queue_batch(inv)
    return inv


def test_it_deletes_a_succeeded_batch(mapping, queue):
    send(queue, "a")
    send(queue, "b")
    finished(mapping, result={"ok": True})
    assert not QueueMessage.objects.exists()


def test_it_keeps_the_batch_item_failures(mapping, queue):
    a, b, c = send(queue, "a"), send(queue, "b"), send(queue, "c")
    finished(mapping, result={"batchItemFailures": [{"itemIdentifier": str(b.message_id)}]})
    assert list(QueueMessage.objects.values_list("message_id", flat=True)) == [b.message_id]
    # It stays in flight, then comes back after the visibility timeout.
    assert queues.claim(queue, 10, at(2)) == []
    assert queues.claim(queue, 10, at(31))[0].message_id == b.message_id
    assert a and c


@pytest.mark.parametrize("result", [
    {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]},
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"wrong": "key"}]},
])
def test_it_fails_the_whole_batch_on_a_malformed_report(mapping, queue, result):
    send(queue, "a")
    finished(mapping, result=result)
    assert QueueMessage.objects.count() == 1


@pytest.mark.parametrize("result", [{"batchItemFailures": []}, {"batchItemFailures": None}, "done"])
def test_it_treats_an_empty_report_as_success(mapping, queue, result):
    send(queue, "a")
    finished(mapping, result=result)
    assert not QueueMessage.objects.exists()


@pytest.mark.parametrize("status", ["failed", "timed_out", "out_of_memory", "expired"])
def test_it_deletes_nothing_when_the_invocation_failed(mapping, queue, status):
    send(queue, "a")
    send(queue, "b")
    finished(mapping, status=status)
    assert QueueMessage.objects.count() == 2


def test_it_ignores_other_sources(make_function):
    inv = Invocation.objects.create(function=make_function(), status="succeeded", source="api",
                                    origin={"queue_id": "x", "messages": []})
    poller.finish_queue_batch(inv)
