"""Async delivery: retries, maximum event age, destinations, dead letters
and redrive, through the runner with the Docker boundary faked."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from invocations import delivery, destinations, pool, runner, sandbox, tasks
from invocations.models import Attempt, DeadLetter, EventInvokeConfig, Invocation

ERROR = {"errorType": "ValueError", "errorMessage": "bad input", "stackTrace": []}


@pytest.fixture
def queued_tasks(monkeypatch):
    """Tasks queued by the code under test: (request id, countdown)."""
    sent = []
    # The test's transaction never commits: run on_commit callbacks at once.
    monkeypatch.setattr("django.db.transaction.on_commit", lambda func, *a, **kw: func())
    monkeypatch.setattr(
        tasks.run, "apply_async", lambda args, **kw: sent.append((args[0], kw.get("countdown")))
    )
    return sent


@pytest.fixture
def worker(monkeypatch, make_function, queued_tasks):
    """runner.run with a fake environment whose outcome the test sets."""
    fn = make_function("flaky")
    monkeypatch.setattr(pool, "lease", lambda f, running=None: pool.Lease("e1", str(f.revision), cold=False))
    monkeypatch.setattr(pool, "release", lambda held: None)
    monkeypatch.setattr(runner.live, "send", lambda groups, html: None)
    state = {"outcome": sandbox.InvokeOutcome(kind="error", error=ERROR), "events": []}

    def fake_invoke(path, request, timeout, on_log, raw_event=None):
        state["events"].append(json.loads(raw_event))
        on_log(f"try {len(state['events'])}")
        return state["outcome"]

    monkeypatch.setattr(sandbox, "invoke", fake_invoke)
    state["fn"] = fn
    return state


def async_row(fn, **fields) -> Invocation:
    fields.setdefault("event", '{"order": 7}')
    return Invocation.objects.create(
        function=fn, invocation_type="Event", source="api", memory_size_mb=fn.memory_mb, **fields
    )


def run_until_final(inv: Invocation, queued_tasks, limit: int = 5) -> Invocation:
    """Run the row, then every retry task it queues, like the worker would."""
    runner.run_async(str(inv.request_id))
    for _ in range(limit):
        inv.refresh_from_db()
        if inv.is_finished:
            return inv
        request_id, _ = queued_tasks.pop(0)
        runner.run_async(request_id)
    inv.refresh_from_db()
    return inv


# Retries ------------------------------------------------------------------------


def test_it_puts_a_failed_async_attempt_back_with_backoff(worker, queued_tasks, settings):
    settings.STRATUS_RETRY_BACKOFF_SCALE = 0.5
    inv = async_row(worker["fn"])
    assert runner.run_async(str(inv.request_id)) == "retrying"
    inv.refresh_from_db()
    assert inv.status == "queued" and inv.attempts == 1
    assert inv.queued_at > timezone.now() + timedelta(seconds=20)
    assert queued_tasks == [(str(inv.request_id), 30.0)]
    attempt = Attempt.objects.get(invocation=inv)
    assert (attempt.number, attempt.status, attempt.error) == (1, "failed", ERROR)
    assert "try 1" in inv.logs and "retrying in 30.00 s" in inv.logs


def test_it_backs_off_one_then_two_minutes():
    assert [delivery.backoff_s(1), delivery.backoff_s(2)] == [60.0, 120.0]


def test_it_retries_twice_then_dead_letters_and_delivers_on_failure(
    worker, queued_tasks, make_function
):
    sink = make_function("sink")
    EventInvokeConfig.objects.create(function=worker["fn"], on_failure=sink.arn)
    inv = run_until_final(async_row(worker["fn"]), queued_tasks)
    assert inv.status == "failed" and inv.attempts == 3
    assert [a.number for a in inv.attempt_set.all()] == [1, 2, 3]
    assert worker["events"] == [{"order": 7}] * 3
    assert inv.logs.count("REPORT RequestId") == 1 and "try 1" in inv.logs and "try 3" in inv.logs
    dead = DeadLetter.objects.get(invocation=inv)
    assert dead.condition == "RetriesExhausted" and dead.error == ERROR
    delivered = Invocation.objects.get(function=sink)
    assert (delivered.source, delivered.invocation_type) == ("destination", "Event")
    assert delivered.trigger == f"destination:{inv.request_id}"
    record = json.loads(delivered.event)
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": str(inv.request_id),
        "functionArn": f"{worker['fn'].arn}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {
        "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled",
    }
    assert record["responsePayload"] == ERROR
    assert record["timestamp"].endswith("Z")


def test_it_honours_fewer_retries(worker, queued_tasks):
    EventInvokeConfig.objects.create(function=worker["fn"], maximum_retry_attempts=0)
    inv = async_row(worker["fn"])
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "failed" and queued_tasks == []
    assert DeadLetter.objects.filter(invocation=inv).exists()


@pytest.mark.parametrize("kind,source", [("RequestResponse", "api"), ("Event", "queue")])
def test_it_never_retries_sync_or_queue_batches(worker, queued_tasks, kind, source):
    inv = Invocation.objects.create(function=worker["fn"], invocation_type=kind, source=source)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "failed" and queued_tasks == []
    # An async row lists its one attempt; a sync row is its own record.
    assert inv.attempt_set.count() == (1 if kind == "Event" else 0)
    assert not DeadLetter.objects.exists()


def test_it_does_not_retry_an_event_past_its_age(worker, queued_tasks, monkeypatch):
    inv = async_row(worker["fn"])
    # Young when claimed, too old once the attempt ends (a long run, or a
    # long wait for a concurrency slot).
    monkeypatch.setattr(delivery, "_too_old", lambda row, config: row.status == "running")
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "failed" and queued_tasks == []
    assert DeadLetter.objects.get(invocation=inv).condition == "RetriesExhausted"


# Expiry -------------------------------------------------------------------------


def test_it_expires_an_old_event_without_running_it(worker, queued_tasks, make_function):
    sink = make_function("sink")
    EventInvokeConfig.objects.create(function=worker["fn"], maximum_event_age_s=60, on_failure=sink.arn)
    inv = async_row(worker["fn"], created_at=timezone.now() - timedelta(seconds=61))
    assert runner.run_async(str(inv.request_id)) == "expired"
    inv.refresh_from_db()
    assert inv.status == "expired" and inv.attempts == 0 and worker["events"] == []
    assert inv.error["errorType"] == "EventAgeExceeded"
    assert DeadLetter.objects.get(invocation=inv).condition == "EventAgeExceeded"
    record = json.loads(Invocation.objects.get(function=sink).event)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responsePayload" not in record


def test_a_sync_row_never_expires(worker):
    inv = Invocation.objects.create(function=worker["fn"], created_at=timezone.now() - timedelta(days=1))
    assert delivery.expiry_error(inv) is None


# Success and destinations ---------------------------------------------------------


def test_it_sends_the_result_to_the_on_success_destination(worker, make_function):
    worker["outcome"] = sandbox.InvokeOutcome(kind="result", payload={"total": 42})
    sink = make_function("next")
    EventInvokeConfig.objects.create(function=worker["fn"], on_success=sink.arn, on_failure="")
    inv = async_row(worker["fn"], priority="high")
    runner.run_async(str(inv.request_id))
    delivered = Invocation.objects.get(function=sink)
    record = json.loads(delivered.event)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"total": 42}
    assert delivered.priority == "high"
    assert delivered.origin == {"destination_of": str(inv.request_id)}
    assert not DeadLetter.objects.exists()


def test_a_success_without_destination_sends_nothing(worker):
    worker["outcome"] = sandbox.InvokeOutcome(kind="result", payload=1)
    inv = async_row(worker["fn"])
    runner.run_async(str(inv.request_id))
    assert Invocation.objects.count() == 1
    assert inv.attempt_set.get().status == "succeeded"


def test_a_deleted_destination_is_skipped_and_the_event_kept(worker, make_function):
    sink = make_function("gone")
    EventInvokeConfig.objects.create(function=worker["fn"], maximum_retry_attempts=0, on_failure=sink.arn)
    sink.delete()
    inv = async_row(worker["fn"])
    runner.run_async(str(inv.request_id))
    assert DeadLetter.objects.filter(invocation=inv).exists()


def test_it_publishes_to_a_topic_and_sends_to_a_queue(worker, team, monkeypatch):
    api = pytest.importorskip("messaging.api")
    from messaging.models import Queue, Topic

    topic = Topic.objects.create(team=team, name="done")
    queue = Queue.objects.create(team=team, name="failures")
    published, sent = [], []
    monkeypatch.setattr(api, "publish", lambda t, message, **kw: published.append((t.pk, message)))
    monkeypatch.setattr(api, "send", lambda q, body, **kw: sent.append((q.pk, body)))
    EventInvokeConfig.objects.create(
        function=worker["fn"], maximum_retry_attempts=0, on_success=topic.arn, on_failure=queue.arn
    )
    runner.run_async(str(async_row(worker["fn"]).request_id))
    worker["outcome"] = sandbox.InvokeOutcome(kind="result", payload="ok")
    runner.run_async(str(async_row(worker["fn"]).request_id))
    assert [pk for pk, _ in sent] == [queue.pk]
    assert json.loads(sent[0][1])["requestContext"]["condition"] == "RetriesExhausted"
    assert [pk for pk, _ in published] == [topic.pk]
    assert json.loads(published[0][1])["responsePayload"] == "ok"


# Configuration --------------------------------------------------------------------


def test_it_has_lambdas_defaults(make_function):
    config = delivery.config_for(make_function())
    assert (config.maximum_retry_attempts, config.maximum_event_age_s) == (2, 21600)
    assert (config.on_success, config.on_failure) == ("", "")


def test_it_names_every_bad_setting_at_once(make_function, team):
    fn = make_function()
    with pytest.raises(delivery.ConfigError) as e:
        other_account = "arn:aws:lambda:us-east-1:000000000000:function:x"
        delivery.clean(fn, delivery.Settings(3, 59, other_account, "nope"))
    errors = e.value.errors
    assert errors["maximum_retry_attempts"] == "Retry attempts must be from 0 to 2, got 3."
    assert errors["maximum_event_age_s"] == "Maximum event age (seconds) must be from 60 to 21600, got 59."
    assert "belongs to another account" in errors["on_success"]
    assert "'nope' is not a destination ARN" in errors["on_failure"]
    assert not EventInvokeConfig.objects.exists()


@pytest.mark.parametrize("arn,message", [
    ("arn:aws:lambda:eu-west-1:{account}:function:hello", "is in region eu-west-1"),
    ("arn:aws:lambda:us-east-1:{account}:function:missing", "does not exist in team alpha"),
    ("arn:aws:lambda:us-east-1:{account}:function:self", "cannot be its own destination"),
    ("arn:aws:lambda:us-east-1:{account}:layer:x", "is not a function ARN"),
    ("arn:aws:sns:us-east-1:{account}:nosuchtopic", "does not exist in team alpha"),
])
def test_it_explains_a_bad_destination(make_function, team, arn, message):
    fn = make_function("self")
    make_function("hello")
    with pytest.raises(destinations.DestinationError) as e:
        destinations.validate(fn, arn.format(account=team.account_id))
    assert message in str(e.value)


def test_it_accepts_a_function_of_the_team(make_function):
    fn = make_function("a")
    b = make_function("b")
    cleaned = delivery.clean(fn, delivery.Settings("1", "120", b.arn, ""))
    config = delivery.save_config(fn, cleaned)
    assert (config.maximum_retry_attempts, config.maximum_event_age_s, config.on_success) == (1, 120, b.arn)


# Redrive ----------------------------------------------------------------------------


def test_it_redrives_a_dead_letter_once(worker, queued_tasks):
    EventInvokeConfig.objects.create(function=worker["fn"], maximum_retry_attempts=0)
    inv = async_row(worker["fn"])
    runner.run_async(str(inv.request_id))
    dead = DeadLetter.objects.get(invocation=inv)
    again = delivery.redrive(dead)
    assert (again.source, again.invocation_type, again.event) == ("redrive", "Event", inv.event)
    assert dead.redriven_at is not None and dead.redrive_invocation_id == again.request_id
    assert (str(again.request_id), None) in queued_tasks
    assert delivery.redrive(dead) is None
