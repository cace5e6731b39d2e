"""The Usage page's numbers: requests, GB-seconds and cost per day, per
function and per team over a range of UTC days, with the free tier taken
off per team and calendar month.

Source: metrics.models.MetricMinute, summed per UTC day in the database
(one query). Requests are the buckets' `invocations` (calls that ran: a
throttled call is neither a request nor billed, metrics.billing). Money
is metrics.billing's, in Decimals; a function's cost is before the free
tier, which is the team's (as Lambda's is the account's)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncDate

from metrics.billing import Prices, decimal_of
from metrics.models import MetricMinute

# The longest range a page or export may ask for, in days.
MAX_DAYS = 366
GB_S_PLACES = Decimal("0.000000001")


@dataclass
class Usage:
    """Requests, billed ms and GB-seconds, and their cost before the free tier."""

    requests: int = 0
    billed_ms: int = 0
    gb_seconds: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)

    def add(self, other: "Usage") -> None:
        self.requests += other.requests
        self.billed_ms += other.billed_ms
        self.gb_seconds += other.gb_seconds
        self.cost += other.cost


@dataclass
class Row(Usage):
    """One function's usage on one UTC day (the CSV's rows)."""

    day: date = date.min
    team_id: int = 0
    team_name: str = ""
    function_id: str = ""
    function_name: str = ""


@dataclass
class Day(Usage):
    """Every function of the selected teams on one UTC day; `credit`: the
    free tier used that day, in money; `due` = cost - credit."""

    day: date = date.min
    credit: Decimal = Decimal(0)

    @property
    def due(self) -> Decimal:
        return self.cost - self.credit


@dataclass
class FunctionTotal(Usage):
    team_name: str = ""
    function_id: str = ""
    function_name: str = ""


@dataclass
class TeamMonth(Usage):
    """One team's usage in one calendar month of the range, with the free
    tier: `free_requests` / `free_gb_seconds` used in the range (after what
    the month used before the range began), `credit` their price."""

    team_id: int = 0
    team_name: str = ""
    month: date = date.min
    free_requests: Decimal = Decimal(0)
    free_gb_seconds: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)

    @property
    def due(self) -> Decimal:
        return self.cost - self.credit


@dataclass
class Report:
    start: date
    end: date  # inclusive
    prices: Prices
    rows: list[Row] = field(default_factory=list)
    days: list[Day] = field(default_factory=list)
    functions: list[FunctionTotal] = field(default_factory=list)
    teams: list[TeamMonth] = field(default_factory=list)
    total: Usage = field(default_factory=Usage)
    credit: Decimal = Decimal(0)

    @property
    def due(self) -> Decimal:
        return self.total.cost - self.credit

    def chart(self) -> dict:
        """The chart's series, one point per day: {"t": [unix seconds of
        each day's 00:00 UTC], "requests", "gb_seconds", "cost", "due"}
        (numbers; money as floats, for drawing only)."""
        return {
            "t": [int(datetime.combine(d.day, time(), UTC).timestamp()) for d in self.days],
            "requests": [d.requests for d in self.days],
            "gb_seconds": [float(d.gb_seconds) for d in self.days],
            "cost": [float(d.cost) for d in self.days],
            "due": [float(d.due) for d in self.days],
            "currency": self.prices.currency,
        }


def month_start(day: date) -> date:
    return day.replace(day=1)


def _day_rows(team_ids: list[int], since: date, until: date):
    """Per UTC day, team and function, [since, until] inclusive: one query."""
    return (
        MetricMinute.objects.filter(
            team_id__in=team_ids,
            minute__gte=datetime.combine(since, time(), UTC),
            minute__lt=datetime.combine(until + timedelta(days=1), time(), UTC),
        )
        .annotate(day=TruncDate("minute", tzinfo=UTC))
        .values("day", "team_id", "team__name", "function_id", "function_name")
        .annotate(requests=Sum("invocations"), billed=Sum("billed_ms_sum"), gbs=Sum("gb_seconds"))
        .order_by("day", "team__name", "function_name", "function_id")
    )


def usage_report(team_ids: list[int], start: date, end: date, prices: Prices | None = None) -> Report:
    """The report of teams `team_ids` from UTC day `start` to `end`
    (inclusive; ValueError when end < start or the range passes MAX_DAYS).

    The free tier is per team and calendar month: what a month used before
    `start` is read too (the same query begins at the month's first day),
    so a range that starts mid-month gets only the free tier left."""
    if end < start:
        raise ValueError("The range ends before it starts.")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"The range is longer than {MAX_DAYS} days.")
    prices = prices or Prices.from_settings()
    report = Report(start=start, end=end, prices=prices)
    every_day = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    by_day = {day: Day(day=day) for day in every_day}
    functions: dict[str, FunctionTotal] = {}
    # (team id, month) -> the month's usage before `start`, and in range per day.
    before: dict[tuple[int, date], Usage] = defaultdict(Usage)
    team_days: dict[tuple[int, date], dict[date, Usage]] = defaultdict(lambda: defaultdict(Usage))
    team_names: dict[int, str] = {}

    for found in _day_rows(team_ids, month_start(start), end):
        # Summed floats: nanoGB-seconds are far below any price's reach.
        gbs = decimal_of(found["gbs"]).quantize(GB_S_PLACES)
        requests = int(found["requests"] or 0)
        usage = Usage(
            requests=requests, billed_ms=int(found["billed"] or 0), gb_seconds=gbs,
            cost=prices.usage_cost(requests, gbs),
        )
        day, team_id = found["day"], found["team_id"]
        key = (team_id, month_start(day))
        team_names[team_id] = found["team__name"]
        if day < start:
            before[key].add(usage)
            continue
        report.rows.append(Row(
            **usage.__dict__, day=day, team_id=team_id, team_name=found["team__name"],
            function_id=str(found["function_id"]), function_name=found["function_name"],
        ))
        by_day[day].add(usage)
        team_days[key][day].add(usage)
        total = functions.setdefault(str(found["function_id"]), FunctionTotal(
            team_name=found["team__name"], function_id=str(found["function_id"]),
            function_name=found["function_name"],
        ))
        total.add(usage)
        report.total.add(usage)

    for (team_id, month), days in sorted(team_days.items(), key=lambda kv: (team_names[kv[0][0]], kv[0][1])):
        used = before[(team_id, month)]
        line = TeamMonth(team_id=team_id, team_name=team_names[team_id], month=month)
        for day in sorted(days):
            usage = days[day]
            free_requests = _free_part(used.requests, usage.requests, prices.free_requests)
            free_gbs = _free_part(used.gb_seconds, usage.gb_seconds, prices.free_gb_seconds)
            credit = prices.usage_cost(free_requests, free_gbs)
            by_day[day].credit += credit
            line.add(usage)
            line.free_requests += free_requests
            line.free_gb_seconds += free_gbs
            line.credit += credit
            used.add(usage)
        report.teams.append(line)
        report.credit += line.credit

    report.days = list(by_day.values())
    report.functions = sorted(functions.values(), key=lambda f: (-f.cost, f.team_name, f.function_name))
    return report


def _free_part(used_before, amount, allowance) -> Decimal:
    """How much of `amount` the free `allowance` still covers after
    `used_before` of it was used."""
    left = max(Decimal(0), Decimal(allowance) - Decimal(used_before))
    return min(Decimal(amount), left)
