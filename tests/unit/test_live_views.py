"""The live console's catch-up views, the Test tab's invoke token, the
header after a configuration save, and the running row announced once."""

import re
import uuid

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from invocations import fragments, live, nodes, recorder, redis_link, runner
from invocations.models import Invocation

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def real_redis(redis_url, settings):
    settings.REDIS_URL = redis_url
    redis_link._clients.clear()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    redis_link._clients.clear()


def _unrecorded(client, fn, **fields) -> Invocation:
    """A sync call answered but not yet recorded: its entry in the stream."""
    now = timezone.now()
    inv = Invocation(function=fn, created_at=now, queued_at=now, finished_at=now, **fields)
    client.xadd(recorder.stream_key(), {"r": recorder.encode(inv)})
    return inv


def _state_url(fn, request_id) -> str:
    return reverse("fn-inv-state", args=[fn.id, request_id])


# Test tab: one run per click ----------------------------------------------------


def test_it_runs_a_token_once(client, users, fn, real_redis, handed_over):
    client.force_login(users["member"])
    data = {"event": "{}", "invoke_token": "a" * 32}
    first = client.post(reverse("fn-invoke", args=[fn.id]), data, **HX)
    again = client.post(reverse("fn-invoke", args=[fn.id]), data, **HX)
    assert first.status_code == 200 and again.status_code == 204
    assert len(handed_over.calls) == 1
    # The panel hands the form a fresh token for the next deliberate click.
    fresh = re.search(r'name="invoke_token" value="([0-9a-f]{32})" id="invoke-token" hx-swap-oob="true"',
                      first.content.decode())
    assert fresh and fresh.group(1) != "a" * 32
    client.post(reverse("fn-invoke", args=[fn.id]), {"event": "{}", "invoke_token": fresh.group(1)}, **HX)
    assert len(handed_over.calls) == 2


def test_the_test_tab_carries_a_token_and_the_keyboard_trigger(client, users, fn):
    client.force_login(users["member"])
    body = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=test").content.decode()
    assert re.search(r'name="invoke_token" value="[0-9a-f]{32}"', body)
    assert "keydown[(ctrlKey||metaKey)&amp;&amp;key==&#x27;Enter&#x27;] from:#id_event" in body or \
        "keydown[(ctrlKey||metaKey)&&key=='Enter'] from:#id_event" in body
    assert 'hx-disabled-elt="this"' in body and 'hx-sync="this:drop"' in body


# The Test panel's catch-up --------------------------------------------------------------


def test_the_state_of_a_recorded_invocation_is_its_row(client, users, fn, real_redis):
    inv = Invocation.objects.create(function=fn, status="succeeded", logs="line one\n", duration_ms=2.0)
    client.force_login(users["reader"])
    body = client.get(_state_url(fn, inv.request_id)).content.decode()
    rid = inv.request_id
    for element_id in [f"status-{rid}", f"result-{rid}", f"logs-{rid}"]:
        assert f'id="{element_id}"' in body
    assert body.count('hx-swap-oob="true"') == 3
    assert 'data-status="succeeded" data-final="1"' in body and "line one" in body


def test_the_state_of_an_unrecorded_call_comes_from_the_stream(client, users, fn, real_redis):
    inv = _unrecorded(real_redis, fn, status="failed", logs="boom\n", error={"errorMessage": "x"})
    client.force_login(users["member"])
    body = client.get(_state_url(fn, inv.request_id)).content.decode()
    assert 'data-status="failed" data-final="1"' in body and "boom" in body


def test_a_held_call_is_running_and_an_unknown_one_queued(client, users, fn, real_redis):
    client.force_login(users["member"])
    held, unknown = uuid.uuid4(), uuid.uuid4()
    real_redis.set(nodes.running_key(held), "w-1")
    body = client.get(_state_url(fn, held)).content.decode()
    assert 'data-status="running" data-final="0"' in body and "Running…" in body
    assert f'id="logs-{held}"' not in body  # the lines stream; nothing to replace them yet
    body = client.get(_state_url(fn, unknown)).content.decode()
    assert 'data-status="queued" data-final="0"' in body


def test_the_state_of_another_functions_invocation_is_not_found(client, users, fn, make_function, real_redis):
    other = make_function(name="other")
    inv = Invocation.objects.create(function=other, status="succeeded")
    client.force_login(users["member"])
    assert client.get(_state_url(fn, inv.request_id)).status_code == 404
    client.force_login(users["outsider"])
    assert client.get(_state_url(other, inv.request_id)).status_code == 404


# The Invocations tab's catch-up -------------------------------------------------------------


def test_the_rows_catch_up_with_recorded_and_unrecorded_calls(client, users, fn, real_redis):
    ok = Invocation.objects.create(function=fn, status="succeeded")
    bad = Invocation.objects.create(function=fn, status="failed")
    waiting_ok = _unrecorded(real_redis, fn, status="succeeded")
    waiting_bad = _unrecorded(real_redis, fn, status="failed")
    client.force_login(users["member"])
    url = reverse("fn-live-rows", args=[fn.id])

    body = client.get(url).content.decode()
    for inv in (ok, bad, waiting_ok, waiting_bad):
        assert f'<template class="live-row"><tr id="inv-row-{inv.request_id}"' in body

    body = client.get(url + "?status=failed").content.decode()
    assert f"inv-row-{bad.request_id}" in body and f"inv-row-{waiting_bad.request_id}" in body
    assert f"inv-row-{ok.request_id}" not in body and f"inv-row-{waiting_ok.request_id}" not in body


def test_a_later_page_catches_up_from_the_database_only(client, users, fn, real_redis):
    Invocation.objects.bulk_create(Invocation(function=fn, status="succeeded") for _ in range(55))
    waiting = _unrecorded(real_redis, fn, status="succeeded")
    client.force_login(users["member"])
    body = client.get(reverse("fn-live-rows", args=[fn.id]) + "?page=2").content.decode()
    assert body.count('class="live-row"') == 5
    assert str(waiting.request_id) not in body


def test_the_list_keeps_filter_and_page_in_the_url(client, users, fn):
    Invocation.objects.bulk_create(Invocation(function=fn, status="failed") for _ in range(55))
    client.force_login(users["member"])
    r = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=invocations&status=failed&page=2",
                   HTTP_HX_TARGET="inv-table", **HX)
    assert r["HX-Push-Url"] == reverse("fn-detail", args=[fn.id]) + "?tab=invocations&status=failed&page=2"
    body = r.content.decode()
    # The second page updates its rows in place but takes no new ones.
    assert 'data-live-status="failed" data-live-new="0"' in body
    assert "status=failed&amp;page=2" in body  # the catch-up asks for the same list


def test_the_empty_state_is_there_to_hide(client, users, fn):
    client.force_login(users["member"])
    body = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=invocations").content.decode()
    assert '<p class="empty" data-live-empty>No invocations yet.</p>' in body
    Invocation.objects.create(function=fn, status="succeeded")
    body = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=invocations").content.decode()
    assert '<p class="empty" data-live-empty hidden>' in body


# The header after a configuration save ------------------------------------------------------


def test_saving_the_configuration_swaps_the_header(client, users, fn):
    client.force_login(users["member"])
    r = client.post(reverse("fn-config", args=[fn.id]), {
        "handler": fn.handler, "memory_mb": "256", "timeout_s": "10", "description": "", "environment": "",
    }, **HX)
    body = r.content.decode()
    assert "Saved the configuration." in body
    head = body[body.index('<div class="page-head" id="fn-head" hx-swap-oob="true">'):]
    assert "256 MB · 10 s" in head[:head.index("</div>")]


def test_a_rejected_configuration_leaves_the_header(client, users, fn):
    client.force_login(users["member"])
    r = client.post(reverse("fn-config", args=[fn.id]), {
        "handler": fn.handler, "memory_mb": "lots", "timeout_s": "10", "description": "", "environment": "",
    }, **HX)
    assert 'id="fn-head"' not in r.content.decode()


# The running row, announced once -------------------------------------------------------------


def test_the_running_row_goes_out_once_with_the_first_line_seen(fn, monkeypatch):
    sent = []
    monkeypatch.setattr(live, "send", lambda groups, html: sent.append((tuple(groups), html)))
    monkeypatch.setattr(live, "watched", lambda groups: list(groups))
    inv = Invocation(function=fn, status="running")
    logs = runner.LogStream(inv, [])  # nobody watched when it started
    logs.announce()
    assert sent == []
    logs.groups = [live.fn_group(fn.id)]  # a page opened mid-run
    logs("first line")
    logs("second line")
    started = [html for _, html in sent if 'class="live-row"' in html]
    assert started == [fragments.started(inv)]
    assert sum("line\n</div>" in html for _, html in sent) == 2


def test_a_refused_call_shows_its_final_row(fn, monkeypatch):
    import asyncio

    from invocations import dispatch

    sent = []
    monkeypatch.setattr(live, "send", lambda groups, html: sent.append((list(groups), html)))
    monkeypatch.setattr(live, "on_redis", lambda: False)
    inv = Invocation(function=fn, status="throttled", created_at=timezone.now())
    asyncio.run(dispatch._show_refused(inv))
    [(groups, html)] = sent
    assert groups == live.invocation_groups(inv.request_id, fn.id)
    row = f'<template class="live-row"><tr id="inv-row-{inv.request_id}" data-status="throttled"'
    assert row + ' data-final="1"' in html
