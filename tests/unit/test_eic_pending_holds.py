"""A function that is not Active (Pending while its dependencies are
installed, Failed when that failed) runs no code from any way in: the one
rule invocations.dispatch.not_ready, and what each kind of caller does."""

import asyncio

import pytest

from functions import qualifiers, versions
from functions.models import Function
from invocations import dispatch, runner, sandbox, tasks
from invocations.models import Invocation
from mappings import configure
from mappings import stream_poller
from messaging import poller, queues
from messaging.models import QueueMessage
from tests.unit.conftest import REAL_BEGIN
from tests.unit.queue_clock import at
from tests.unit.test_delivery import queued_tasks, worker  # noqa: F401 - fixtures


def set_state(fn: Function, state: str) -> None:
    Function.objects.filter(pk=fn.pk).update(state=state)
    fn.state = state


@pytest.mark.parametrize("state,ready", [("Pending", False), ("Failed", False), ("Active", True)])
def test_the_rule(make_function, state, ready):
    fn = make_function()
    set_state(fn, state)
    error = dispatch.not_ready(fn)
    assert (error is None) == ready
    if not ready:
        assert error["errorType"] == "ResourceConflictException"
        assert f"in the following state: {state}" in error["errorMessage"]


def test_a_held_event_is_looked_at_less_often_as_it_ages():
    assert dispatch.hold_s(0) == dispatch.HOLD_S
    assert dispatch.hold_s(300) == 30
    assert dispatch.hold_s(6 * 3600) == dispatch.HOLD_MAX_S


def test_an_active_published_version_is_ready_whatever_latest_is(make_function):
    fn = make_function()
    versions.publish(fn)
    set_state(fn, "Failed")
    assert dispatch.not_ready(qualifiers.resolve(fn, "1")) is None


def test_a_sync_call_is_refused_at_once_and_recorded_nowhere(make_function, monkeypatch):
    # The real hand-over: it refuses before it needs Redis.
    monkeypatch.setattr(dispatch.SyncCall, "begin", REAL_BEGIN)
    fn = make_function()
    set_state(fn, "Pending")
    done = asyncio.run(dispatch.invoke_sync(fn, "{}", source="http"))
    assert dispatch.is_not_ready(done) and done.status == "cancelled"
    assert "Pending" in done.error["errorMessage"]
    assert not Invocation.objects.exists()


def test_an_async_event_is_held_queued_then_runs_once_active(worker, queued_tasks):  # noqa: F811
    fn = worker["fn"]
    set_state(fn, "Pending")
    inv = dispatch.submit_async(fn, '{"n": 1}', source="schedule")
    queued_tasks.clear()
    assert runner.run_async(str(inv.request_id)) == "held"
    inv.refresh_from_db()
    assert (inv.status, inv.attempts) == ("queued", 0)
    assert queued_tasks == [(str(inv.request_id), dispatch.HOLD_S)]
    assert worker["events"] == []  # no code ran
    set_state(fn, "Active")
    worker["outcome"] = sandbox.InvokeOutcome(kind="result", payload=1)
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "succeeded" and worker["events"] == [{"n": 1}]


def test_an_sqs_mapping_waits_and_leaves_the_messages(monkeypatch, team, make_function):
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)
    fn = make_function(timeout_s=3)
    queue = queues.create_queue(team, "jobs", visibility_timeout_s=30)
    mapping = configure.create(fn, queue.arn)
    queues.send(queue, "hello", now=at(0))
    set_state(mapping.function, "Pending")
    assert poller.poll_mapping(mapping, at(1)) is None
    message = QueueMessage.objects.get()
    assert message.receive_count == 0  # never received: nothing to lose
    assert not Invocation.objects.exists()
    set_state(mapping.function, "Active")
    inv = poller.poll_mapping(mapping, at(2))
    assert inv is not None and "hello" in inv.event


def test_a_stream_mapping_is_not_read_while_pending(make_function, monkeypatch):
    fn = make_function()
    mapping = configure_stream(fn, monkeypatch)
    assert stream_poller.survey()  # its shard is read when Active
    set_state(fn, "Pending")
    assert stream_poller.survey() == {}
    assert mapping.pk


def configure_stream(fn, monkeypatch):
    """A Kinesis mapping on a stream of one shard (the source faked: the
    survey only lists shards)."""
    from mappings.models import EventSourceMapping
    from mappings.sources import Shard

    class OneShard:
        def shards(self, arn):
            return [Shard(shard_id="shardId-000000000000")]

    monkeypatch.setattr(stream_poller.sources, "of_kind", lambda kind: OneShard())
    return EventSourceMapping.objects.create(
        function=fn, kind="kinesis", event_source_arn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
        enabled=True, state="Enabled",
    )


def test_held_events_are_queued_as_soon_as_the_function_is_active(make_function, queued_tasks):  # noqa: F811
    from functions import dependencies
    from invocations import held_events

    fn = make_function()
    set_state(fn, "Failed")
    held = dispatch.submit_async(fn, "{}", source="topic")
    retrying = dispatch.submit_async(fn, "{}", source="topic")
    Invocation.objects.filter(pk=retrying.pk).update(attempts=1)  # keeps its backoff
    queued_tasks.clear()
    # What a code update that needs no build does to a Failed function.
    fn.save(update_fields=dependencies.code_switched(fn))
    assert queued_tasks == [(str(held.request_id), None)]
    queued_tasks.clear()
    fn.save(update_fields=dependencies.code_switched(fn))  # Active already: nothing to release
    assert queued_tasks == []
    assert held_events.release(fn.pk) == 1


def test_the_build_panel_counts_the_held_events(make_function, queued_tasks):  # noqa: F811
    from functions import build_live
    from functions.models import DependencyBuild

    fn = make_function()
    build = DependencyBuild.objects.create(source=fn.code, runtime=fn.runtime, status="InProgress")
    Function.objects.filter(pk=fn.pk).update(
        state="Pending", last_update_status="InProgress", last_build=build)
    fn.refresh_from_db()
    dispatch.submit_async(fn, "{}", source="schedule")
    html = build_live.render(fn)
    assert 'class="held-count">1<' in html and "HTTP routes answer 503" in html
    Function.objects.filter(pk=fn.pk).update(state="Active")
    fn.refresh_from_db()
    assert "held-count" not in build_live.render(fn)


def pending_version(fn):
    """Version 1 of `fn`, published with Publish=True while the dependency
    build of its code runs (functions.dependencies.pending_version)."""
    from functions.models import DependencyBuild, FunctionVersion

    build = DependencyBuild.objects.create(source=fn.code, runtime=fn.runtime, status="InProgress")
    versions.publish(fn)
    FunctionVersion.objects.filter(function=fn, version=1).update(state="Pending")
    return build


def test_a_versions_held_events_are_queued_as_soon_as_its_build_succeeds(worker, queued_tasks):  # noqa: F811
    from functions import dependencies

    fn = worker["fn"]
    build = pending_version(fn)
    on_latest = dispatch.submit_async(fn, '{"n": 0}', source="schedule")
    inv = dispatch.submit_async(qualifiers.resolve(fn, "1"), '{"n": 1}', source="schedule")
    queued_tasks.clear()
    assert runner.run_async(str(inv.request_id)) == "held"  # this process now read version 1 Pending
    assert queued_tasks == [(str(inv.request_id), dispatch.HOLD_S)]
    queued_tasks.clear()
    dependencies.finish(build, result=fn.code)
    # At once, not when the hold comes round; $LATEST's events were never held.
    assert queued_tasks == [(str(inv.request_id), None)]
    worker["outcome"] = sandbox.InvokeOutcome(kind="result", payload=1)
    assert runner.run_async(str(inv.request_id)) == "succeeded"
    assert worker["events"] == [{"n": 1}]
    assert Invocation.objects.get(pk=on_latest.pk).status == "queued"


def test_a_versions_held_events_fail_at_once_when_its_build_fails(worker, queued_tasks):  # noqa: F811
    from functions import dependencies
    from invocations.models import DeadLetter

    fn = worker["fn"]
    build = pending_version(fn)
    inv = dispatch.submit_async(qualifiers.resolve(fn, "1"), '{"n": 1}', source="topic")
    assert runner.run_async(str(inv.request_id)) == "held"
    queued_tasks.clear()
    dependencies.finish(build, reason="No matching distribution found for nope-xyz")
    assert queued_tasks == [(str(inv.request_id), None)]
    queued_tasks.clear()
    # A Failed version never runs again: no retry, the failure delivered now.
    assert runner.run_async(str(inv.request_id)) == "failed"
    inv.refresh_from_db()
    assert (inv.status, inv.attempts, queued_tasks, worker["events"]) == ("failed", 1, [], [])
    assert inv.error["errorType"] == "ResourceConflictException"
    assert "Failed" in inv.error["errorMessage"] and "nope-xyz" in inv.error["errorMessage"]
    assert DeadLetter.objects.filter(invocation=inv).exists()
    # $LATEST still holds its events: new code can make it Active.
    set_state(fn, "Failed")
    latest = dispatch.submit_async(fn, "{}", source="topic")
    assert runner.run_async(str(latest.request_id)) == "held"
