"""One rule for "did this call run?" (Invocation.ran): the Invocations
tab's Cold column, the runs page's Start column and the runs page's
cold/warm filter all follow it, so they cannot disagree (issue 10: a
throttled row read "warm" on the Invocations tab and "—" on /runs/)."""

import re
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invocations.models import FINISHED, NEVER_RAN, STATUSES, Invocation
from metrics import billing
from runs import query

NOW = timezone.now()


@pytest.fixture
def fn(make_function):
    return make_function()


def cells(row_html: str) -> list[str]:
    """A row's cells as text, tags dropped."""
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row_html, re.S)]


def expected(status: str, cold: bool) -> str:
    if status in NEVER_RAN or status not in FINISHED:
        return "—"
    return "cold" if cold else "warm"


CASES = [(status, cold) for status, _ in STATUSES for cold in (False, True)]


def test_it_names_the_statuses_of_calls_that_never_ran():
    assert NEVER_RAN == {"throttled", "expired", "cancelled"}
    # Billing's copy (metrics cannot import invocations.models: a circle).
    assert billing.NOT_BILLED == NEVER_RAN
    assert query.RAN == FINISHED - NEVER_RAN


@pytest.mark.parametrize("status,cold", CASES)
def test_ran_is_true_only_for_a_finished_call_that_ran(status, cold):
    inv = Invocation(status=status, cold_start=cold, started_at=NOW)
    assert inv.ran == (status in FINISHED and status not in NEVER_RAN)
    # A call that never started never ran, whatever its status (its alias
    # was gone: invocations.qualified stores it failed, unstarted).
    assert not Invocation(status=status, cold_start=cold, started_at=None).ran


@pytest.mark.parametrize("status,cold", CASES)
def test_the_invocations_tab_and_the_runs_page_agree_on_cold_or_warm(client, users, fn, status, cold):
    # started_at is set: an async call retried and then expired did start once,
    # yet its final record never ran.
    inv = Invocation.objects.create(function=fn, status=status, cold_start=cold, started_at=NOW)
    tab_cell = cells(render_to_string("invocations/_row.html", {"inv": inv}))[3]

    client.force_login(users["member"])
    body = client.get(reverse("runs-list")).content.decode()
    row = body[body.index(f'id="run-{inv.request_id}"'):]
    runs_cell = cells(row[:row.index("</tr>")])[5]

    assert tab_cell == runs_cell == expected(status, cold)


@pytest.mark.parametrize("start,cold", [("warm", False), ("cold", True)])
def test_the_runs_filter_counts_a_never_run_call_as_neither_cold_nor_warm(users, fn, start, cold):
    # cold_start may be left over from an earlier attempt of a call retried
    # and then expired.
    Invocation.objects.bulk_create([
        Invocation(function=fn, status=status, cold_start=cold, started_at=NOW,
                   created_at=NOW - timedelta(seconds=i))
        for i, (status, _) in enumerate(STATUSES)
    ])
    member = Client()
    member.force_login(users["member"])
    body = member.get(reverse("runs-list"), {"start": start}).content.decode()
    shown = {inv.status for inv in Invocation.objects.all() if f'id="run-{inv.request_id}"' in body}
    assert shown == FINISHED - NEVER_RAN
