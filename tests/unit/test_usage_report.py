"""metrics.usage.report on known per-minute rows: sums per UTC day,
function and team in one query, money from metrics.billing, and the free
tier per team and calendar month (also for a range that starts mid-month
or crosses months)."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from functions.models import Team
from metrics.billing import Prices
from metrics.models import MetricMinute
from metrics.usage.report import MAX_DAYS, usage_report

PRICE_REQ = Decimal("0.20")
PRICE_GBS = Decimal("0.0000166667")
NO_FREE = Prices(per_million_requests=PRICE_REQ, per_gb_second=PRICE_GBS,
                 free_requests=Decimal(0), free_gb_seconds=Decimal(0))

HELLO, OTHER, BETA = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def at(day: str, hm: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00").replace(tzinfo=UTC)


def bucket(team, fn_id, name, minute, invocations, billed_ms, memory_mb, qualifier="$LATEST"):
    return MetricMinute.objects.create(
        team=team, function_id=fn_id, function_name=name, qualifier=qualifier, minute=minute,
        invocations=invocations, billed_ms_sum=billed_ms, gb_seconds=billed_ms / 1000 * memory_mb / 1024,
        duration_ms_sum=billed_ms * 0.9, throttles=4,
    )


@pytest.fixture
def known(team):
    beta = Team.objects.create(name="beta")
    bucket(team, HELLO, "hello", at("2026-10-31", "23:59"), 100, 10_000, 128)
    bucket(team, HELLO, "hello", at("2026-11-03", "10:00"), 3, 300, 128)
    bucket(team, HELLO, "hello", at("2026-11-03", "23:59"), 2, 2000, 128)
    # Another qualifier of the same function and day: summed into one row.
    bucket(team, HELLO, "hello", at("2026-11-03", "11:00"), 1, 100, 128, qualifier="1")
    bucket(team, HELLO, "hello", at("2026-11-04", "00:00"), 1, 1000, 1024)
    bucket(team, OTHER, "other", at("2026-11-04", "12:00"), 10, 10_000, 128)
    bucket(beta, BETA, "beta-fn", at("2026-11-04", "08:00"), 7, 700, 128)
    bucket(team, HELLO, "hello", at("2026-12-01", "00:00"), 50, 500, 128)
    return {"alpha": team, "beta": beta}


def cost(requests, gbs) -> Decimal:
    return Decimal(requests) * PRICE_REQ / Decimal(1_000_000) + Decimal(gbs) * PRICE_GBS


def test_it_sums_per_day_and_function_in_one_query(known, django_assert_num_queries):
    with django_assert_num_queries(1):
        report = usage_report([known["alpha"].id], date(2026, 11, 1), date(2026, 11, 30), NO_FREE)
    got = [(r.day.isoformat(), r.function_name, r.requests, r.billed_ms, r.gb_seconds) for r in report.rows]
    assert got == [
        ("2026-11-03", "hello", 6, 2400, Decimal("0.3")),
        ("2026-11-04", "hello", 1, 1000, Decimal("1")),
        ("2026-11-04", "other", 10, 10_000, Decimal("1.25")),
    ]
    assert report.rows[0].cost == cost(6, "0.3")
    assert {r.team_name for r in report.rows} == {"alpha"}


def test_it_has_every_day_of_the_range_with_totals(known):
    report = usage_report([known["alpha"].id], date(2026, 11, 1), date(2026, 11, 30), NO_FREE)
    assert len(report.days) == 30 and report.days[0].day == date(2026, 11, 1)
    by_day = {d.day: d for d in report.days}
    assert (by_day[date(2026, 11, 2)].requests, by_day[date(2026, 11, 2)].cost) == (0, 0)
    assert (by_day[date(2026, 11, 4)].requests, by_day[date(2026, 11, 4)].gb_seconds) == (11, Decimal("2.25"))
    assert (report.total.requests, report.total.gb_seconds) == (17, Decimal("2.55"))
    assert report.total.cost == cost(6, "0.3") + cost(1, 1) + cost(10, "1.25")
    assert report.total.cost == sum(d.cost for d in report.days)
    chart = report.chart()
    assert len(chart["t"]) == 30 and chart["t"][0] == int(at("2026-11-01", "00:00").timestamp())
    assert chart["requests"][3] == 11 and chart["currency"] == "USD"


def test_it_totals_per_function_and_team(known):
    both = [known["alpha"].id, known["beta"].id]
    report = usage_report(both, date(2026, 11, 1), date(2026, 11, 30), NO_FREE)
    functions = {f.function_name: (f.team_name, f.requests, f.gb_seconds) for f in report.functions}
    assert functions == {
        "hello": ("alpha", 7, Decimal("1.3")),
        "other": ("alpha", 10, Decimal("1.25")),
        "beta-fn": ("beta", 7, Decimal("0.0875")),
    }
    teams = [(t.team_name, t.month, t.requests, t.gb_seconds) for t in report.teams]
    assert teams == [
        ("alpha", date(2026, 11, 1), 17, Decimal("2.55")),
        ("beta", date(2026, 11, 1), 7, Decimal("0.0875")),
    ]
    assert report.credit == 0 and report.due == report.total.cost


def test_the_free_tier_is_taken_off_per_team_and_month(known):
    prices = Prices(per_million_requests=PRICE_REQ, per_gb_second=PRICE_GBS,
                    free_requests=Decimal(10), free_gb_seconds=Decimal(1))
    both = [known["alpha"].id, known["beta"].id]
    report = usage_report(both, date(2026, 11, 1), date(2026, 11, 30), prices)
    alpha, beta = report.teams
    # alpha used 17 requests and 2.55 GB-s: the first 10 and 1 are free.
    assert (alpha.free_requests, alpha.free_gb_seconds) == (10, 1)
    assert alpha.credit == cost(10, 1) and alpha.due == cost(7, "1.55")
    # beta's own free tier covers all of its 7 requests and 0.0875 GB-s.
    assert (beta.free_requests, beta.free_gb_seconds, beta.due) == (7, Decimal("0.0875"), 0)
    assert report.credit == alpha.credit + beta.credit
    by_day = {d.day: d for d in report.days}
    # On the 3rd alpha used 6 requests and 0.3 GB-s, all free; on the 4th
    # the rest of alpha's (4 requests, 0.7 GB-s) and all of beta's.
    assert by_day[date(2026, 11, 3)].credit == cost(6, "0.3") and by_day[date(2026, 11, 3)].due == 0
    assert by_day[date(2026, 11, 4)].credit == cost(4, "0.7") + cost(7, "0.0875")
    assert sum(d.due for d in report.days) == report.due


def test_a_range_from_mid_month_gets_the_free_tier_left(known, django_assert_num_queries):
    prices = Prices(per_million_requests=PRICE_REQ, per_gb_second=PRICE_GBS,
                    free_requests=Decimal(10), free_gb_seconds=Decimal(1))
    with django_assert_num_queries(1):
        report = usage_report([known["alpha"].id], date(2026, 11, 4), date(2026, 11, 4), prices)
    (alpha,) = report.teams
    # The 3rd used 6 requests and 0.3 GB-s of the month's free tier.
    assert (alpha.requests, alpha.gb_seconds) == (11, Decimal("2.25"))
    assert (alpha.free_requests, alpha.free_gb_seconds) == (4, Decimal("0.7"))
    assert [r.day for r in report.rows] == [date(2026, 11, 4)] * 2


def test_a_range_across_months_has_a_free_tier_per_month(known):
    prices = Prices(per_million_requests=PRICE_REQ, per_gb_second=PRICE_GBS,
                    free_requests=Decimal(10), free_gb_seconds=Decimal(1))
    report = usage_report([known["alpha"].id], date(2026, 10, 31), date(2026, 12, 1), prices)
    months = [(t.month, t.requests, t.free_requests, t.free_gb_seconds) for t in report.teams]
    assert months == [
        (date(2026, 10, 1), 100, 10, 1),
        (date(2026, 11, 1), 17, 10, 1),
        (date(2026, 12, 1), 50, 10, Decimal("0.0625")),
    ]


def test_it_shows_only_the_teams_asked_for(known):
    report = usage_report([known["beta"].id], date(2026, 11, 1), date(2026, 11, 30), NO_FREE)
    assert [r.function_name for r in report.rows] == ["beta-fn"]
    assert usage_report([], date(2026, 11, 1), date(2026, 11, 30), NO_FREE).rows == []


def test_it_refuses_a_backwards_or_too_long_range(db):
    with pytest.raises(ValueError, match="ends before it starts"):
        usage_report([], date(2026, 11, 2), date(2026, 11, 1), NO_FREE)
    with pytest.raises(ValueError, match=f"longer than {MAX_DAYS} days"):
        usage_report([], date(2025, 1, 1), date(2026, 11, 1), NO_FREE)
