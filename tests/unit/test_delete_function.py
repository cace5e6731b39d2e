"""Deleting a function accounts for its pending async events: they are
cancelled, sent to the on-failure destination, and counted, instead of
vanishing with the function's rows."""

import json

import pytest

from functions import service
from functions.models import Function
from invocations import delivery
from invocations.models import EventInvokeConfig, Invocation


@pytest.fixture
def queued_tasks(monkeypatch):
    """Celery tasks recorded (by request id) instead of sent to a broker."""
    sent = []
    monkeypatch.setattr(
        "invocations.dispatch.queue", lambda request_id, *a, **kw: sent.append(str(request_id))
    )
    return sent


@pytest.fixture
def fns(make_function):
    fn, sink = make_function("doomed"), make_function("sink")
    EventInvokeConfig.objects.create(function=fn, on_failure=sink.arn)
    return fn, sink


def row(fn, **fields) -> Invocation:
    fields.setdefault("invocation_type", "Event")
    fields.setdefault("source", "api")
    return Invocation.objects.create(function=fn, event=json.dumps({"n": fields.pop("n", 0)}), **fields)


def test_it_cancels_pending_events_and_sends_them_to_the_on_failure_destination(
    fns, queued_tasks, django_capture_on_commit_callbacks
):
    fn, sink = fns
    fresh = row(fn, n=1, status="queued")
    retrying = row(fn, n=2, status="queued", attempts=1, error={"errorType": "ValueError"})
    sync = row(fn, n=3, status="queued", invocation_type="RequestResponse")
    batch = row(fn, n=4, status="queued", source="queue")
    row(fn, n=5, status="succeeded")

    with django_capture_on_commit_callbacks(execute=True):
        deleted = service.delete_function(fn)

    assert (deleted.cancelled, deleted.delivered) == (4, 2)
    assert deleted.summary() == (
        "Deleted doomed. 4 pending async events were cancelled without running; "
        f"2 sent to the on-failure destination {sink.arn}."
    )
    assert not Function.objects.filter(pk=fn.pk).exists()
    records = {}
    for inv in Invocation.objects.filter(function=sink):
        assert (inv.source, inv.invocation_type, inv.status) == ("destination", "Event", "queued")
        record = json.loads(inv.event)
        records[record["requestPayload"]["n"]] = (inv, record)
    assert set(records) == {1, 2}  # not the sync call, not the queue batch
    inv, record = records[1]
    assert record["requestContext"]["condition"] == "FunctionDeleted"
    assert record["requestContext"]["requestId"] == str(fresh.request_id)
    assert record["requestContext"]["functionArn"] == f"{fn.arn}:$LATEST"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["responsePayload"]["errorType"] == service.DELETED_ERROR_TYPE
    assert "was deleted before this event ran" in record["responsePayload"]["errorMessage"]
    assert inv.origin == {"destination_of": str(fresh.request_id)}
    assert records[2][1]["requestContext"]["approximateInvokeCount"] == 1
    assert records[2][1]["requestContext"]["requestId"] == str(retrying.request_id)
    assert sorted(queued_tasks) == sorted(str(i.request_id) for i, _ in records.values())
    assert sync.pk and batch.pk


def test_running_rows_are_left_to_their_worker(fns, queued_tasks):
    fn, sink = fns
    row(fn, status="running", attempts=1)
    deleted = service.delete_function(fn)
    assert (deleted.cancelled, deleted.delivered) == (0, 0)
    assert deleted.summary() == "Deleted doomed."
    assert not Invocation.objects.filter(function=sink).exists()


def test_without_a_destination_the_count_says_so(make_function, queued_tasks):
    fn = make_function("lonely")
    row(fn, status="queued")
    deleted = service.delete_function(fn)
    assert deleted.summary() == (
        "Deleted lonely. 1 pending async event was cancelled without running "
        "(no on-failure destination was configured)."
    )


def test_a_destination_deleted_since_is_named(fns, queued_tasks):
    fn, sink = fns
    row(fn, status="queued")
    sink.delete()
    deleted = service.delete_function(fn)
    assert (deleted.cancelled, deleted.delivered) == (1, 0)
    assert "the on-failure destination" in deleted.summary() and "no longer exists" in deleted.summary()


def test_a_failure_midway_deletes_nothing(fns, queued_tasks, monkeypatch):
    fn, sink = fns
    pending = row(fn, status="queued")

    def broken(*args, **kwargs):
        raise RuntimeError("destination down")

    monkeypatch.setattr("invocations.destinations.send", broken)
    with pytest.raises(RuntimeError):
        service.delete_function(fn)
    assert Function.objects.filter(pk=fn.pk).exists()
    pending.refresh_from_db()
    assert pending.status == "queued" and pending.claimed_by == ""


def test_the_record_builder_is_the_engines(fns, queued_tasks, monkeypatch):
    fn, _ = fns
    row(fn, status="queued")
    built = []
    original = delivery.destination_record
    monkeypatch.setattr(delivery, "destination_record", lambda inv: built.append(inv.status) or original(inv))
    service.delete_function(fn)
    assert built == ["cancelled"]


# The API and the console ---------------------------------------------------------------


def test_delete_function_through_the_api_delivers_pending_events(users, team, fns, queued_tasks):
    from functions.models import ApiKey
    from tests.unit.aws_clients import boto_lambda

    fn, sink = fns
    row(fn, status="queued")
    key, secret = ApiKey.issue(users["member"], team)
    lam = boto_lambda(key.access_key_id, secret)
    assert lam.delete_function(FunctionName="doomed")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert Invocation.objects.filter(function=sink, source="destination").count() == 1


def test_the_console_says_what_became_of_pending_events(client, users, fns, queued_tasks):
    from django.urls import reverse

    fn, sink = fns
    row(fn, status="queued")
    client.force_login(users["member"])
    page = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=configuration").content.decode()
    assert "Its 1 pending async event will be cancelled without running" in page
    r = client.post(reverse("fn-delete", args=[fn.id]), follow=True)
    assert (
        "Deleted doomed. 1 pending async event was cancelled without running; sent to the "
        f"on-failure destination {sink.arn}."
    ) in r.content.decode()
