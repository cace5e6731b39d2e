"""The console's async settings form, dead letters page, redrive button and
the attempts on the invocation page."""

import pytest
from django.urls import reverse
from django.utils import timezone

from functions.models import Function
from invocations import tasks
from invocations.models import Attempt, DeadLetter, EventInvokeConfig, Invocation
from tests.unit.conftest import REAL_BEGIN

HX = {"HTTP_HX_REQUEST": "true"}
ERROR = {"errorType": "ValueError", "errorMessage": "bad input", "stackTrace": []}


@pytest.fixture
def fn(make_function):
    return make_function("hello")


@pytest.fixture
def no_broker(monkeypatch):
    sent = []
    monkeypatch.setattr("django.db.transaction.on_commit", lambda func, *a, **kw: func())
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


@pytest.fixture
def dead(fn):
    inv = Invocation.objects.create(
        function=fn, invocation_type="Event", status="failed", event='{"n": 1}', error=ERROR,
        attempts=3, finished_at=timezone.now(),
    )
    return DeadLetter.objects.create(
        invocation=inv, function=fn, event=inv.event, error=ERROR, condition="RetriesExhausted"
    )


def async_url(fn):
    return reverse("fn-async-config", args=[fn.id])


def form_data(**overrides):
    data = {"maximum_retry_attempts": "1", "maximum_event_age_s": "300", "on_success": "",
            "on_failure": "", "reserved_concurrency": ""}
    data.update(overrides)
    return data


# The configuration tab ---------------------------------------------------------------


def test_it_shows_the_async_section_with_defaults(client, users, fn, make_function):
    make_function("sink")
    client.force_login(users["reader"])
    body = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=configuration").content.decode()
    assert "Asynchronous invocation" in body and "Reserved concurrency" in body
    assert 'name="maximum_retry_attempts" value="2"' in body
    assert 'name="maximum_event_age_s" value="21600"' in body
    assert "Function sink" in body and "Function hello" not in body
    # A read-only member sees the settings but no save button.
    assert "Save asynchronous settings" not in body


def test_it_saves_async_settings_and_reserved_concurrency(client, users, fn, make_function):
    sink = make_function("sink")
    client.force_login(users["member"])
    r = client.post(async_url(fn), form_data(on_failure=sink.arn, reserved_concurrency="4"))
    assert r.status_code == 302
    config = EventInvokeConfig.objects.get(function=fn)
    assert (config.maximum_retry_attempts, config.maximum_event_age_s) == (1, 300)
    assert config.on_failure == sink.arn and config.on_success == ""
    assert Function.objects.get(pk=fn.pk).reserved_concurrency == 4


def test_it_answers_htmx_with_the_tab(client, users, fn):
    client.force_login(users["member"])
    r = client.post(async_url(fn), form_data(), **HX)
    assert r.status_code == 200
    assert "Saved the asynchronous invocation settings." in r.content.decode()


def test_it_shows_errors_beside_fields_and_saves_nothing(client, users, fn, team):
    client.force_login(users["member"])
    missing = f"arn:aws:lambda:us-east-1:{team.account_id}:function:nope"
    r = client.post(async_url(fn), form_data(
        maximum_retry_attempts="5", maximum_event_age_s="10", on_success=missing,
        reserved_concurrency="-2",
    ))
    assert r.status_code == 200
    body = r.content.decode()
    assert "Retry attempts must be from 0 to 2, got 5." in body
    assert "Maximum event age (seconds) must be from 60 to 21600, got 10." in body
    assert "does not exist in team alpha" in body
    assert "Reserved concurrency must be from 0 to 1000, got -2." in body
    # The unknown value stays selected so the person sees what they sent.
    assert f'<option value="{missing}" selected>' in body
    assert not EventInvokeConfig.objects.exists()
    assert Function.objects.get(pk=fn.pk).reserved_concurrency is None


def test_a_bad_reserved_value_alone_also_saves_nothing(client, users, fn):
    client.force_login(users["member"])
    client.post(async_url(fn), form_data(reserved_concurrency="many"))
    assert not EventInvokeConfig.objects.exists()


@pytest.mark.parametrize("user,method,status", [
    ("outsider", "post", 404), ("reader", "post", 403), ("member", "get", 405),
])
def test_the_async_form_refuses(client, users, fn, user, method, status):
    client.force_login(users[user])
    r = getattr(client, method)(async_url(fn), form_data())
    assert r.status_code == status
    assert not EventInvokeConfig.objects.exists()


# The Test tab when the function is full -----------------------------------------------


def test_the_test_tab_explains_a_throttle(client, users, fn, monkeypatch, no_broker):
    from invocations import concurrency, dispatch

    async def full(self, client, ttl_s, team_terms):
        return concurrency.throttle_error(self.fn)

    monkeypatch.setattr(dispatch.SyncCall, "begin", REAL_BEGIN)
    monkeypatch.setattr(dispatch.SyncCall, "_push", full)
    monkeypatch.setattr(dispatch.SyncCall, "_refuse", fake_refuse)
    Function.objects.filter(pk=fn.pk).update(reserved_concurrency=1)
    client.force_login(users["member"])
    r = client.post(reverse("fn-invoke", args=[fn.id]), {"event": "{}"}, **HX)
    assert r.status_code == 200
    assert "Rate Exceeded: hello already runs its reserved concurrency of 1" in r.content.decode()
    assert no_broker == []
    r = client.post(reverse("fn-invoke", args=[fn.id]), {"event": "{}"})
    assert r.status_code == 429
    assert "reserved concurrency of 1" in r.content.decode()


async def fake_refuse(self, status, error, retryable=False):
    from invocations.done import Done

    return Done(self.request.request_id, status, error=error)


# Dead letters -------------------------------------------------------------------------


def test_it_lists_the_teams_dead_letters(client, users, dead):
    client.force_login(users["reader"])
    r = client.get(reverse("dl-list"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "hello" in body and "Retries exhausted" in body and "bad input" in body
    assert reverse("inv-detail", args=[dead.invocation_id]) in body
    assert reverse("dl-redrive", args=[dead.id]) in body
    assert f'href="{reverse("dl-list")}"' in body  # the header link


def test_a_stranger_sees_no_dead_letters(client, users, dead):
    client.force_login(users["outsider"])
    body = client.get(reverse("dl-list")).content.decode()
    assert "bad input" not in body and "No dead letters" in body


def test_the_list_answers_htmx_with_its_rows(client, users, dead):
    client.force_login(users["member"])
    body = client.get(reverse("dl-list"), **HX).content.decode()
    assert "<table" in body and "<header" not in body


def test_it_needs_a_login(client, dead):
    assert client.get(reverse("dl-list")).status_code == 302


def test_it_redrives_a_dead_letter(client, users, dead, no_broker):
    client.force_login(users["member"])
    r = client.post(reverse("dl-redrive", args=[dead.id]))
    assert r.status_code == 302 and r["Location"] == reverse("dl-list")
    dead.refresh_from_db()
    again = dead.redrive_invocation
    assert dead.redriven_at and again.source == "redrive" and again.event == '{"n": 1}'
    assert no_broker == [str(again.request_id)]
    body = client.get(reverse("dl-list")).content.decode()
    assert "Redrove the event to hello" in body and "Redriven" in body


def test_a_second_redrive_does_nothing(client, users, dead, no_broker):
    client.force_login(users["member"])
    client.post(reverse("dl-redrive", args=[dead.id]))
    client.post(reverse("dl-redrive", args=[dead.id]))
    assert len(no_broker) == 1


@pytest.mark.parametrize("user,method,status", [
    ("outsider", "post", 404), ("reader", "post", 403), ("member", "get", 405),
])
def test_redrive_refuses(client, users, dead, no_broker, user, method, status):
    client.force_login(users[user])
    r = getattr(client, method)(reverse("dl-redrive", args=[dead.id]))
    assert r.status_code == status
    assert no_broker == []


# Attempts on the invocation page -----------------------------------------------------


def test_the_invocation_page_lists_its_attempts(client, users, dead):
    inv = dead.invocation
    for number in (1, 2, 3):
        Attempt.objects.create(invocation=inv, number=number, status="failed", error=ERROR, duration_ms=12.5)
    client.force_login(users["reader"])
    body = client.get(reverse("inv-detail", args=[inv.request_id])).content.decode()
    assert "<h3>Attempts</h3>" in body
    assert body.count("12.50 ms") == 3
    assert "dead letters" in body
