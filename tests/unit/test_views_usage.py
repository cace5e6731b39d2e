"""The Usage page and its CSV: what each user may see (their teams; staff
every team), the range and team selection and its errors, the CSV's rows
and headers, and the 302/405 answers."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from functions.models import Membership, Team
from metrics.models import MetricMinute


def bucket(team, name, minute, invocations, billed_ms, memory_mb=128, fn_id=None):
    return MetricMinute.objects.create(
        team=team, function_id=fn_id or uuid.uuid5(uuid.NAMESPACE_DNS, name), function_name=name,
        minute=minute, invocations=invocations, billed_ms_sum=billed_ms,
        gb_seconds=billed_ms / 1000 * memory_mb / 1024,
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def rows(team, make_function, settings):
    settings.STRATUS_PRICE_PER_MILLION_REQUESTS = Decimal("0.20")
    settings.STRATUS_PRICE_PER_GB_SECOND = Decimal("0.0000166667")
    settings.STRATUS_FREE_TIER_REQUESTS = Decimal(1_000_000)
    settings.STRATUS_FREE_TIER_GB_SECONDS = Decimal(400_000)
    beta = Team.objects.create(name="beta")
    live = make_function("hello")
    bucket(team, "hello", at("2025-11-03T10:00"), 3, 3000, 1024, fn_id=live.id)
    bucket(team, "hello", at("2025-11-04T09:30"), 2, 500, 1024, fn_id=live.id)
    bucket(team, "gone-fn", at("2025-11-04T23:59"), 4, 400)
    bucket(beta, "beta-secret", at("2025-11-04T12:00"), 9, 900)
    return {"alpha": team, "beta": beta, "hello": live}


RANGE = {"from": "2025-11-01", "to": "2025-11-30"}


def test_it_shows_the_teams_usage_per_function_and_day(client, users, rows):
    client.force_login(users["reader"])
    r = client.get(reverse("usage"), RANGE)
    assert r.status_code == 200
    body = r.content.decode()
    assert 'data-total="requests">9<' in body
    # 3 s + 0.5 s at 1 GB, 0.4 s at 128 MB
    assert 'data-total="gb_seconds">3.550<' in body
    report = r.context["report"]
    assert report.total.requests == 9 and report.total.gb_seconds == Decimal("3.55")
    expected = Decimal(9) * Decimal("0.2") / 1_000_000 + Decimal("3.55") * Decimal("0.0000166667")
    assert report.total.cost == expected
    # All of it within the free tier.
    assert report.due == 0 and 'data-total="due"><strong>0.00 USD<' in body
    assert f'href="{reverse("fn-detail", args=[rows["hello"].id])}">hello</a>' in body
    assert "gone-fn <span class=\"muted\">(deleted)</span>" in body
    assert "beta-secret" not in body
    assert 'id="usage-data"' in body and "vendor/uplot-1.6.32.iife.min.js" in body and "js/usage.js" in body
    assert f'href="{reverse("usage-csv")}?from=2025-11-01&amp;to=2025-11-30"' in body


def test_it_defaults_to_this_month(client, users, rows):
    MetricMinute.objects.create(
        team=rows["alpha"], function_id=rows["hello"].id, function_name="hello",
        minute=timezone.now().replace(second=0, microsecond=0), invocations=5, billed_ms_sum=5,
        gb_seconds=0.000625,
    )
    client.force_login(users["member"])
    r = client.get(reverse("usage"))
    report = r.context["report"]
    today = timezone.now().date()
    assert (report.start, report.end) == (today.replace(day=1), today)
    assert report.total.requests == 5
    assert f'value="{today.replace(day=1).isoformat()}"' in r.content.decode()


def test_staff_see_every_team(client, users, rows, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="pw-ops", is_staff=True)
    client.force_login(staff)
    report = client.get(reverse("usage"), RANGE).context["report"]
    assert {t.team_name for t in report.teams} == {"alpha", "beta"}
    assert report.total.requests == 18
    report = client.get(reverse("usage"), {**RANGE, "team": "beta"}).context["report"]
    assert [f.function_name for f in report.functions] == ["beta-secret"]


def test_a_user_of_two_teams_may_pick_one(client, users, rows):
    Membership.objects.create(team=rows["beta"], user=users["member"], role="readonly")
    client.force_login(users["member"])
    assert client.get(reverse("usage"), RANGE).context["report"].total.requests == 18
    report = client.get(reverse("usage"), {**RANGE, "team": "alpha"}).context["report"]
    assert report.total.requests == 9


def test_an_outsider_sees_no_usage_and_cannot_ask_for_a_team(client, users, rows):
    client.force_login(users["outsider"])
    r = client.get(reverse("usage"), RANGE)
    assert r.status_code == 200
    assert r.context["report"].rows == [] and "Nothing ran in this range." in r.content.decode()
    r = client.get(reverse("usage"), {**RANGE, "team": "alpha"})
    assert r.status_code == 400
    assert "You are in no team of that name." in r.content.decode()
    r = client.get(reverse("usage-csv"), {**RANGE, "team": "beta"})
    assert r.status_code == 400 and b"You are in no team of that name." in r.content


@pytest.mark.parametrize(("query", "message"), [
    ({"from": "2025-11-31"}, "Enter the first day as YYYY-MM-DD."),
    ({"to": "yesterday"}, "Enter the last day as YYYY-MM-DD."),
    ({"from": "2025-11-05", "to": "2025-11-04"},
     "The range ends (2025-11-04) before it starts (2025-11-05)."),
    ({"from": "2024-01-01", "to": "2025-11-04"}, "Choose a range of at most 366 days."),
])
def test_it_says_what_is_wrong_with_a_range(client, users, rows, query, message):
    client.force_login(users["member"])
    r = client.get(reverse("usage"), query)
    assert r.status_code == 400
    assert message in r.content.decode()
    assert "report" not in r.context
    r = client.get(reverse("usage-csv"), query)
    assert r.status_code == 400 and r.content.decode() == message + "\n"


def test_the_csv_has_the_pages_rows(client, users, rows):
    client.force_login(users["owner"])
    r = client.get(reverse("usage-csv"), RANGE)
    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"] == 'attachment; filename="stratus-usage-2025-11-01-to-2025-11-30.csv"'
    table = list(csv.reader(io.StringIO(r.content.decode())))
    assert table[0] == [
        "date", "team", "function", "function_id", "requests", "billed_ms", "gb_seconds", "cost_usd",
    ]
    hello = str(rows["hello"].id)
    gone = str(uuid.uuid5(uuid.NAMESPACE_DNS, "gone-fn"))
    assert [line[:7] for line in table[1:]] == [
        ["2025-11-03", "alpha", "hello", hello, "3", "3000", "3"],
        ["2025-11-04", "alpha", "gone-fn", gone, "4", "400", "0.05"],
        ["2025-11-04", "alpha", "hello", hello, "2", "500", "0.5"],
    ]
    # 3 requests and 3 GB-s: 0.0000006 + 0.0000500001
    assert Decimal(table[1][7]) == Decimal("0.0000506001")
    page = client.get(reverse("usage"), RANGE).context["report"]
    assert sum(Decimal(line[7]) for line in table[1:]) == page.total.cost


def test_it_redirects_anonymous_users_to_log_in(client, rows):
    for name in ("usage", "usage-csv"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_it_answers_405_to_post(client, users, rows):
    client.force_login(users["member"])
    assert client.post(reverse("usage")).status_code == 405
    assert client.post(reverse("usage-csv")).status_code == 405


def test_the_nav_links_to_the_usage_page(client, users, rows):
    client.force_login(users["member"])
    body = client.get(reverse("dl-list")).content.decode()
    assert f'<a href="{reverse("usage")}">Usage</a>' in body


def test_it_says_when_the_range_reaches_past_the_metrics_retention(client, users, rows, settings):
    settings.STRATUS_METRICS_RETENTION_DAYS = 30
    client.force_login(users["member"])
    r = client.get(reverse("usage"), RANGE)  # November 2025: long trimmed
    kept = (timezone.now() - timedelta(days=30)).date()
    assert r.context["kept_since"] in (kept, kept + timedelta(days=1))
    assert "Per-minute metrics are kept for 30 days" in r.content.decode()
    settings.STRATUS_METRICS_RETENTION_DAYS = 3650
    r = client.get(reverse("usage"), RANGE)
    assert r.context["kept_since"] is None
    assert 'id="usage-retention"' not in r.content.decode()
