"""The invocation page and the live fragments the worker sends."""

import uuid

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from invocations.models import Invocation


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def finished(fn):
    inv = Invocation.objects.create(
        function=fn, status="running", event='{"a": 1}', source="console", started_at=timezone.now()
    )
    inv.finish(
        status="succeeded", result='{"echo": {"a": 1}}', logs="hello from hello\n",
        duration_ms=12.3, init_duration_ms=80.0, max_memory_used_mb=40, cold_start=True,
    )
    return inv


def test_it_shows_a_finished_invocation(client, users, finished):
    client.force_login(users["reader"])
    r = client.get(reverse("inv-detail", args=[finished.request_id]))
    assert r.status_code == 200
    body = r.content.decode()
    rid = finished.request_id
    assert 'data-status="succeeded"' in body
    assert f'id="result-{rid}"' in body
    assert f'<pre id="logs-{rid}"' in body
    assert "hello from hello" in body
    assert f"REPORT RequestId: {rid}" in body
    assert "Init Duration: 80.00 ms" in body
    assert "&quot;echo&quot;" in body
    assert "13 ms" in body  # billed duration
    # Nothing more will happen: no websocket.
    assert "ws-connect" not in body


def test_it_connects_a_running_invocation_to_its_websocket(client, users, fn):
    inv = Invocation.objects.create(function=fn, status="running")
    client.force_login(users["member"])
    body = client.get(reverse("inv-detail", args=[inv.request_id])).content.decode()
    assert f'ws-connect="/ws/invocations/{inv.request_id}/"' in body
    assert 'data-status="running"' in body
    assert f'<pre id="logs-{inv.request_id}"' in body


def test_it_shows_an_error(client, users, fn):
    inv = Invocation.objects.create(function=fn, status="running")
    inv.finish(status="failed", error={"errorType": "ValueError", "errorMessage": "boom"})
    client.force_login(users["member"])
    body = client.get(reverse("inv-detail", args=[inv.request_id])).content.decode()
    assert "ValueError" in body
    assert "boom" in body


def test_it_answers_404_to_strangers(client, users, finished):
    client.force_login(users["outsider"])
    assert client.get(reverse("inv-detail", args=[finished.request_id])).status_code == 404


def test_it_answers_404_to_an_unknown_invocation(client, users):
    client.force_login(users["member"])
    assert client.get(reverse("inv-detail", args=[uuid.uuid4()])).status_code == 404


def test_it_answers_405_to_post(client, users, finished):
    client.force_login(users["member"])
    assert client.post(reverse("inv-detail", args=[finished.request_id])).status_code == 405


def test_it_requires_login(client, finished):
    r = client.get(reverse("inv-detail", args=[finished.request_id]))
    assert r.status_code == 302


# Live fragments ------------------------------------------------------------------


def test_it_renders_the_live_row_for_upserting(fn):
    inv = Invocation.objects.create(function=fn, status="running")
    html = render_to_string("invocations/live_row.html", {"inv": inv})
    rid = inv.request_id
    # The row rides in a template (it parses wherever the sender merged it);
    # live-rows.js upserts it. Status and outcome swap out-of-band.
    assert html.lstrip().startswith(
        f'<template class="live-row"><tr id="inv-row-{rid}" data-status="running" data-final="0"'
    )
    row_end = html.index("</tr>\n</template>")
    assert row_end < html.index(f'id="status-{rid}"') < html.index(f'id="result-{rid}"')
    assert html.count('hx-swap-oob="true"') == 2
    assert "Running…" in html and "Queued" not in html


def test_it_renders_the_live_finished_replacements(finished):
    html = render_to_string("invocations/live_finished.html", {"inv": finished})
    rid = finished.request_id
    assert html.lstrip().startswith(
        f'<template class="live-row"><tr id="inv-row-{rid}" data-status="succeeded" data-final="1"'
    )
    for element_id in [f"status-{rid}", f"result-{rid}", f"logs-{rid}"]:
        assert f'id="{element_id}"' in html
    assert html.count('hx-swap-oob="true"') == 3
    assert html.count('data-final="1"') == 4
    assert f"REPORT RequestId: {rid}" in html
    assert "hello from hello" in html  # the full stored logs


def test_it_renders_the_result_panel_for_a_queued_invocation(fn):
    inv = Invocation.objects.create(function=fn)
    html = render_to_string("invocations/_result_panel.html", {"inv": inv})
    rid = inv.request_id
    assert f'id="status-{rid}"' in html
    assert 'data-status="queued"' in html
    assert f'<pre id="logs-{rid}" class="logs" data-final="0"></pre>' in html
    assert f'id="result-{rid}"' in html
    assert "hx-swap-oob" not in html
