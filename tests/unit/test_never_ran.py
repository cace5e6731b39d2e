"""Events that never ran because their version or alias no longer existed
are shown and recorded as such: no executed version, start, durations or
REPORT line on the invocation's page, one reason that names the
qualifier; a stream batch leaves a never-ran invocation row and an
OnFailure record that claims no 200 from a version that did not run; a
destination skipped for a missing alias says so on the invocation; the
dead letters show the qualifier and why."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from functions import versions
from invocations import qualified
from invocations import tasks as inv_tasks
from invocations.models import EventInvokeConfig, Invocation
from mappings import failures, sources
from mappings.models import EventSourceMapping
from tests.unit.stream_fakes import (  # noqa: F401 - own_redis, quick_backoff: autouse fixtures
    ARN, FakeFunction, MemoryStream, own_redis, quick_backoff, served_until,
)
from tests.unit.test_stream_poller_rules import _rec


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(inv_tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def fn(make_function):
    fn = make_function("target")
    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    return fn


def never_ran(fn, qualifier="gone", capture=None) -> Invocation:
    if capture is None:
        inv = qualified.submit_async(fn, qualifier, '{"n": 1}', source="schedule", trigger="schedule:x")
    else:
        with capture(execute=True):
            inv = qualified.submit_async(fn, qualifier, '{"n": 1}', source="schedule", trigger="schedule:x")
    return Invocation.objects.select_related("function").get(request_id=inv.request_id)


def outcome_facts(inv) -> dict:
    html = render_to_string("invocations/_outcome.html", {"inv": inv})
    found = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(.*?)</dd>", html))
    return {name: re.sub(r"<[^>]+>", "", value).strip() for name, value in found.items()}


# 1. The console ---------------------------------------------------------------


def test_a_call_whose_alias_was_gone_never_ran_and_its_page_says_why(client, users, fn, no_broker):
    versions.delete_alias(fn, "live")
    inv = never_ran(fn, "live")
    assert (inv.status, inv.attempts, inv.started_at) == ("failed", 0, None)
    assert not inv.ran
    assert inv.never_ran_reason == "Never ran: alias 'live' of function target does not exist"

    facts = outcome_facts(inv)
    assert facts["Executed version"] == "—"
    assert facts["Cold start"] == "did not run"
    assert facts["Duration"] == "—" and facts["Billed duration"] == "—"
    assert facts["Init duration"] == "—"  # not "— (warm)"
    assert facts["Cost"] == "not billed"

    client.force_login(users["member"])
    body = client.get(reverse("inv-detail", args=[inv.request_id])).content.decode()
    assert "Never ran: alias &#x27;live&#x27; of function target does not exist" in body
    assert "REPORT RequestId" not in body and 'class="report"' not in body
    assert "None ms" not in body and "$LATEST" not in body
    assert "as live" in body  # the qualifier it was invoked with
    assert "alias &#x27;live&#x27; of function target does not exist" in inv.logs.replace("'", "&#x27;")


def test_the_invocations_tab_row_names_no_executed_version(fn, no_broker):
    inv = never_ran(fn, "gone")
    row = render_to_string("invocations/_row.html", {"inv": inv})
    cell = re.search(r'<td class="inv-version">(.*?)</td>', row, re.S).group(1)
    assert "$LATEST" not in cell and re.sub(r"<[^>]+>", "", cell) == "— (gone)"
    assert "Never ran: alias &#x27;gone&#x27; of function target does not exist" in cell


def test_a_missing_version_is_named_as_a_version(fn, no_broker):
    inv = never_ran(fn, "7")
    assert inv.never_ran_reason == "Never ran: version 7 of function target does not exist"


def test_the_runs_page_counts_it_neither_cold_nor_warm(users, fn, no_broker):
    inv = never_ran(fn, "gone")
    member = Client()
    member.force_login(users["member"])
    for start in ("cold", "warm"):
        body = member.get(reverse("runs-list"), {"start": start}).content.decode()
        assert f'id="run-{inv.request_id}"' not in body
    body = member.get(reverse("runs-list")).content.decode()
    row = body[body.index(f'id="run-{inv.request_id}"'):]
    assert ">warm<" not in row[:row.index("</tr>")]


def test_a_call_that_ran_keeps_its_facts(fn):
    now = datetime.now(UTC)
    inv = Invocation.objects.create(function=fn, status="running", started_at=now, qualifier="live",
                                    function_version="1")
    inv.finish(status="failed", error={"errorType": "ValueError", "errorMessage": "x"}, duration_ms=3.0)
    facts = outcome_facts(inv)
    assert inv.ran and inv.never_ran_reason == ""
    assert facts["Executed version"] == "1" and facts["Billed duration"] == "3 ms"
    assert "REPORT RequestId" in render_to_string("invocations/_outcome.html", {"inv": inv})


# 2 and 3. Stream mappings -------------------------------------------------------


@pytest.fixture
def stream(monkeypatch, redis_url):
    s = MemoryStream(redis_url)
    monkeypatch.setattr(sources, "_sources", [s])
    return s


@pytest.fixture
def sent(monkeypatch):
    out = []
    monkeypatch.setattr(failures, "send", lambda mapping, body: out.append(body))
    return out


def test_a_stream_batch_for_a_deleted_alias_leaves_a_row_and_an_honest_failure_record(stream, fn, sent):
    stream.add_shard("shardId-0")
    # Fresh enough to be tried, old enough to pass MaximumRecordAgeInSeconds
    # soon: a call that cannot be made is retried until then, as Lambda's.
    stream.put("shardId-0", "r0", arrival=datetime.now(UTC) - timedelta(seconds=57))
    mapping = EventSourceMapping.objects.create(
        function=fn, qualifier="live", event_source_arn=ARN, kind="kinesis", starting_position="TRIM_HORIZON",
        batch_size=10, max_retry_attempts=0, max_record_age_s=60,
        on_failure_arn="arn:aws:sqs:us-east-1:000000000000:dlq",
    )
    versions.delete_alias(fn, "live")
    called = FakeFunction()

    served_until(called, lambda: sent, what="the OnFailure record")
    assert called.calls == []  # $LATEST never ran in its place
    body = sent[0]
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
    assert body["requestContext"]["approximateInvokeCount"] == 0
    assert body["requestContext"]["functionArn"] == f"{fn.arn}:live"
    assert "responseContext" not in body  # no statusCode 200 / executedVersion from a call that never ran
    assert body["KinesisBatchInfo"]["batchSize"] == 1

    # One never-ran row for the batch (not one per retry), with the reason.
    rows = list(Invocation.objects.select_related("function").filter(function=fn, source="kinesis"))
    assert len(rows) == 1
    row = rows[0]
    assert (row.status, row.qualifier, row.attempts, row.ran) == ("failed", "live", 0, False)
    assert row.trigger == mapping.trigger and '"Records"' in row.event
    assert row.never_ran_reason == "Never ran: alias 'live' of function target does not exist"


def test_the_failure_record_leaves_out_the_response_of_a_last_call_that_ran_no_version(fn):
    mapping = EventSourceMapping(function=fn, qualifier="live", event_source_arn=ARN, kind="kinesis")
    missing = qualified.not_found_error(fn, "live")
    body = failures.record(mapping, "shardId-0", [_rec(1)], condition="RecordAgeExceeded", invokes=2,
                           status="failed", error=missing, executed_version="")
    assert "responseContext" not in body and body["requestContext"]["approximateInvokeCount"] == 2
    ran = failures.record(mapping, "shardId-0", [_rec(1)], condition="RetryAttemptsExhausted", invokes=1,
                          status="failed", error={"errorType": "ValueError"}, executed_version="1")
    assert ran["responseContext"] == {"statusCode": 200, "executedVersion": "1", "functionError": "Unhandled"}


# 4. A destination skipped for a missing alias -----------------------------------


def test_a_skipped_destination_is_shown_on_the_invocation(
    client, users, fn, make_function, no_broker, django_capture_on_commit_callbacks
):
    sink = make_function("sink")
    versions.publish(sink)
    versions.create_alias(sink, name="blue", function_version="1")
    EventInvokeConfig.objects.create(function=fn, on_failure=f"{sink.arn}:blue")
    versions.delete_alias(sink, "blue")

    inv = never_ran(fn, "gone", capture=django_capture_on_commit_callbacks)
    assert not Invocation.objects.filter(function=sink).exists()
    inv.refresh_from_db()
    assert inv.destination_skipped == {
        "arn": f"{sink.arn}:blue", "which": "on-failure",
        "reason": "alias 'blue' of function sink does not exist",
    }
    client.force_login(users["reader"])
    body = client.get(reverse("inv-detail", args=[inv.request_id])).content.decode()
    assert "data-destination-skipped" in body
    assert "alias &#x27;blue&#x27; of function sink does not exist" in body


# 5. Dead letters ----------------------------------------------------------------


def test_the_dead_letters_show_the_qualifier_and_why_it_never_ran(
    client, users, fn, no_broker, django_capture_on_commit_callbacks
):
    versions.delete_alias(fn, "live")
    never_ran(fn, "live", capture=django_capture_on_commit_callbacks)
    client.force_login(users["reader"])
    body = client.get(reverse("dl-list")).content.decode()
    row = body[body.index('<tr id="dl-'):]
    row = row[:row.index("</tr>")]
    assert "<code>live</code>" in row
    assert "Never ran: alias &#x27;live&#x27; of function target does not exist" in row
    assert "Retries exhausted" not in row


def test_a_dead_letter_that_ran_keeps_its_condition(
    client, users, fn, no_broker, django_capture_on_commit_callbacks
):
    from invocations import hooks

    inv = Invocation.objects.create(function=fn, status="running", invocation_type="Event",
                                    started_at=datetime.now(UTC), attempts=3, request_id=uuid.uuid4())
    inv.finish(status="failed", error={"errorType": "ValueError", "errorMessage": "x"})
    with django_capture_on_commit_callbacks(execute=True):
        hooks.run_finished(inv)
    client.force_login(users["reader"])
    body = client.get(reverse("dl-list")).content.decode()
    assert "Retries exhausted" in body and "Never ran" not in body
