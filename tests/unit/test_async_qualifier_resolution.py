"""A queued async event resolves its qualifier at each attempt, as Lambda's
async queue resolves the qualified ARN each time it invokes the function:
an alias moved while the event waited (throttled) or between its retries
sends it to the alias's new version; an alias or version deleted meanwhile
fails it without running (ResourceNotFoundException, never $LATEST nor the
version the alias once named). Docker faked, a real redis-server (the
worker fixture of test_version_concurrency)."""

import json

import pytest

from functions import versions
from functions.models import Function
from invocations import runner, sandbox
from invocations.models import Invocation
from tests.unit import test_version_concurrency as shared
from tests.unit.test_version_concurrency import reserve, send

# The fixtures of test_version_concurrency: one worker process, a real redis.
real_redis, worker = shared.real_redis, shared.worker


@pytest.fixture
def two_versions(worker):
    """The worker's function with versions 1 and 2 (2 with more memory)."""
    fn = worker["fn"]
    Function.objects.filter(pk=fn.pk).update(memory_mb=fn.memory_mb + 128)
    fresh = Function.objects.get(pk=fn.pk)
    version, new = versions.publish(fresh)
    assert (version.version, new) == (2, True)
    return fresh


@pytest.fixture
def finished_hooks(monkeypatch):
    seen = []
    monkeypatch.setattr(runner.hooks, "run_finished", lambda inv: seen.append(str(inv.request_id)))
    return seen


def held_back(fn, qualifier):
    """An event queued while the reservation is 0: it waits, queued."""
    reserve(fn, 0)
    inv = send(fn, qualifier, 1)
    assert runner.run_async(str(inv.request_id)) == "waiting"
    return inv


def row(inv) -> Invocation:
    return Invocation.objects.select_related("function").get(pk=inv.pk)


def assert_never_ran(found: Invocation, why: str):
    assert (found.status, found.attempts, found.started_at) == ("failed", 0, None)
    assert found.error["errorType"] == "ResourceNotFoundException"
    assert not found.ran
    assert found.never_ran_reason == f"Never ran: {why}"


def test_an_event_waiting_across_an_alias_move_runs_the_new_version(worker, two_versions):
    fn = two_versions
    versions.create_alias(fn, name="mv", function_version="1")
    inv = held_back(fn, "mv")
    versions.update_alias(fn, "mv", function_version="2")
    reserve(fn, None)
    assert runner.run_async(str(inv.request_id)) == "succeeded"
    assert worker["ran"] == [("2", {"n": 1})]
    found = row(inv)
    # The row shows the version that ran; the qualifier stays the caller's.
    assert (found.function_version, found.qualifier) == ("2", "mv")


def test_an_event_whose_alias_was_deleted_never_runs(worker, finished_hooks):
    fn = worker["fn"]
    versions.create_alias(fn, name="del", function_version="1")
    inv = held_back(fn, "del")
    versions.delete_alias(fn, "del")
    reserve(fn, None)
    assert runner.run_async(str(inv.request_id)) == "failed"
    assert worker["ran"] == []
    assert_never_ran(row(inv), "alias 'del' of function rc does not exist")
    # Dead letter / on-failure destination: the finish hooks ran once.
    assert finished_hooks == [str(inv.request_id)]


def test_an_event_whose_version_was_deleted_never_runs(worker, finished_hooks):
    fn = worker["fn"]
    # This process has version 1 cached (it ran an event to it before).
    assert runner.run_async(str(send(fn, "1", 0).request_id)) == "succeeded"
    worker["ran"].clear()
    finished_hooks.clear()
    inv = held_back(fn, "1")
    versions.delete_alias(fn, "al")  # an alias naming it would keep it
    versions.delete_version(Function.objects.get(pk=fn.pk), "1")
    reserve(fn, None)
    assert runner.run_async(str(inv.request_id)) == "failed"
    assert worker["ran"] == []
    assert_never_ran(row(inv), "version 1 of function rc does not exist")
    assert finished_hooks == [str(inv.request_id)]


def test_a_retry_after_the_alias_moved_runs_the_new_version(worker, two_versions, monkeypatch):
    fn = two_versions
    versions.create_alias(fn, name="a", function_version="1")
    ran = []

    def v1_raises(path, request, timeout, on_log, raw_event=None):
        ran.append(request["functionVersion"])
        if request["functionVersion"] == "1":
            return sandbox.InvokeOutcome(kind="error", error={
                "errorType": "ValueError", "errorMessage": "v1", "stackTrace": []})
        return sandbox.InvokeOutcome(kind="result", payload=json.loads(raw_event))

    monkeypatch.setattr(sandbox, "invoke", v1_raises)
    inv = send(fn, "a", 1)
    assert runner.run_async(str(inv.request_id)) == "retrying"
    assert row(inv).function_version == "1"
    versions.update_alias(fn, "a", function_version="2")
    assert runner.run_async(str(inv.request_id)) == "succeeded"
    assert ran == ["1", "2"]
    found = row(inv)
    assert (found.status, found.attempts) == ("succeeded", 2)
    assert (found.function_version, found.qualifier) == ("2", "a")
