"""Stored targets that name a version or alias (invocations.qualified):
schedules, webhooks, destinations and SNS subscriptions resolve it when
they fire; a missing one fails that event (ResourceNotFoundException, the
finish hooks: a dead letter, the on-failure destination), never $LATEST."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from functions import versions
from invocations import destinations, qualified
from invocations import tasks as inv_tasks
from invocations.models import DeadLetter, EventInvokeConfig, Invocation
from messaging import topics
from triggers.models import Schedule, Webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_broker(monkeypatch):
    sent = []
    monkeypatch.setattr(inv_tasks.run, "apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


@pytest.fixture
def fn(make_function):
    fn = make_function("target")
    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    return fn


def test_it_submits_the_resolved_version(fn, no_broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        inv = qualified.submit_async(fn, "live", "{}", source="schedule")
    row = Invocation.objects.get(request_id=inv.request_id)
    assert row.status == "queued" and no_broker == [str(inv.request_id)]
    assert row.function_version == "1"  # the alias's version, recorded for the runner


def test_a_missing_alias_fails_the_event_and_runs_the_finish_hooks(
    fn, make_function, no_broker, django_capture_on_commit_callbacks
):
    sink = make_function("sink")
    EventInvokeConfig.objects.create(function=fn, on_failure=sink.arn)
    with django_capture_on_commit_callbacks(execute=True):
        inv = qualified.submit_async(fn, "gone", '{"n": 1}', source="webhook", trigger="webhook:x")
    row = Invocation.objects.get(request_id=inv.request_id)
    assert (row.status, row.attempts, row.error["errorType"]) == ("failed", 0, "ResourceNotFoundException")
    assert row.error["errorMessage"] == f"Function not found: {fn.arn}:gone"
    assert DeadLetter.objects.filter(invocation=row).exists()
    # The on-failure destination got Lambda's record of the event.
    (sent,) = Invocation.objects.filter(function=sink)
    record = json.loads(sent.event)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert "responseContext" not in record  # it never ran
    assert record["requestPayload"] == {"n": 1}


def test_a_schedule_fires_its_alias_and_a_missing_one_fails(
    fn, no_broker, django_capture_on_commit_callbacks
):
    now = timezone.now()
    schedule = Schedule.objects.create(function=fn, expression="rate(1 minute)", qualifier="live",
                                       next_fire_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        first = schedule.fire(now, now)
    assert first.status == "queued"
    versions.delete_alias(fn, "live")
    schedule.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        second = schedule.fire(schedule.next_fire_at, schedule.next_fire_at)
    assert second.status == "failed" and second.error["errorType"] == "ResourceNotFoundException"


def test_a_webhook_on_a_deleted_alias_is_accepted_and_its_event_fails(fn, no_broker):
    hook = Webhook.objects.create(function=fn, qualifier="live")
    versions.delete_alias(fn, "live")
    resp = Client().post(f"/hooks/{hook.token}/", data="{}", content_type="application/json")
    assert resp.status_code == 202
    row = Invocation.objects.get(request_id=resp.json()["requestId"])
    assert row.status == "failed" and row.error["errorMessage"].endswith(":function:target:live")


def test_a_destination_may_name_an_alias_that_exists(fn, make_function):
    source = make_function("source")
    assert destinations.validate(source, f"{fn.arn}:live") == f"{fn.arn}:live"
    assert destinations.validate(source, f"{fn.arn}:1") == f"{fn.arn}:1"
    with pytest.raises(destinations.DestinationError, match="does not exist"):
        destinations.validate(source, f"{fn.arn}:nope")
    target = destinations.resolve(source.team, destinations.parse(source.team, f"{fn.arn}:live"))
    assert (target.pk, target.executed_version, target.qualifier) == (fn.pk, "1", "live")


def test_a_topic_subscription_keeps_its_qualifier_and_arn(fn, team):
    topic = topics.create_topic(team, "news")
    sub = topics.subscribe(topic, fn, qualifier="live")
    assert sub.endpoint == f"{fn.arn}:live" and sub.endpoint_name == "target:live"


def test_a_route_on_a_missing_alias_answers_502_and_one_on_a_version_hands_that_version_over(
    fn, handed_over
):
    from tests.unit.asgi_client import call
    from triggers.models import HttpRoute

    HttpRoute.objects.create(function=fn, method="GET", path="/one", qualifier="1")
    call("GET", "/http/one")
    (request,) = handed_over.calls
    assert request.revision == str(fn.versions.get(version=1).revision)
    handed_over.calls.clear()
    HttpRoute.objects.create(function=fn, method="GET", path="/gone", qualifier="nope")
    resp = call("GET", "/http/gone")
    assert resp.status_code == 502
    assert resp.json() == {"message": f"Function not found: {fn.arn}:nope"}
    assert not handed_over.calls


def test_an_alias_of_latest_resolves_a_copy_not_the_shared_function(fn):
    versions.create_alias(fn, name="edge", function_version="$LATEST")
    target = qualified.resolve(fn, "edge")
    assert (target.executed_version, target.qualifier) == ("$LATEST", "edge")
    assert target is not fn and getattr(fn, "qualifier", None) != "edge"


def test_the_triggers_tab_says_what_each_trigger_runs_and_when_it_is_gone(fn):
    from triggers.providers import own_triggers

    Webhook.objects.create(function=fn, qualifier="live")
    Webhook.objects.create(function=fn)
    Webhook.objects.create(function=fn, qualifier="old")
    texts = [row.description for row in own_triggers(fn)]
    assert texts[0].endswith("runs target:live")
    assert texts[1].endswith("runs unqualified ($LATEST)")
    assert texts[2].endswith("runs target:old (no such version or alias: its calls fail)")
