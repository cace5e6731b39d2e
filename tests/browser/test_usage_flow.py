"""The Usage page in Debian's Chromium.

A team's month of known per-minute rows (written into the stack's
database), reached from the top nav, shows totals that match the prices
and free tier worked out here, draws the uPlot chart, narrows to a date
range, and downloads the CSV with the same rows. The screenshot in
docs/usage.png is taken here.

Then the real path: a function made in the console and invoked with boto3
(three calls and a throttled one) shows on the page and in the CSV with
the requests, billed milliseconds, GB-seconds and cost of its stored
invocations (recorded by metrics.recording, flushed by the workers), the
throttled call not billed; its invocation pages show billed duration and
cost."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function
from tests.integration.helpers import aws_client, invoke_json, wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TEAM = "usage-team"
# Lambda's prices and free tier: the stack runs with the defaults.
PER_REQUEST = Decimal("0.20") / Decimal(1_000_000)
PER_GB_S = Decimal("0.0000166667")
FREE_REQUESTS, FREE_GB_S = Decimal(1_000_000), Decimal(400_000)
# name, requests per day (times 1, 2 or 3 by day), billed ms per call, memory MB
FUNCTIONS = [
    ("checkout", 600_000, 120, 512),
    ("thumbnails", 9_000, 850, 1024),
    ("nightly-report", 1, 45_000, 2048),
]


def known_month() -> list[dict]:
    """One bucket per function and day of this UTC month up to today, at noon."""
    today = datetime.now(UTC).date()
    rows = []
    for day in range(1, today.day + 1):
        for name, per_day, ms, memory in FUNCTIONS:
            requests = per_day * (1 + day % 3)
            rows.append({
                "name": name, "day": today.replace(day=day), "requests": requests,
                "billed": requests * ms, "gbs": Decimal(requests * ms) / 1000 * memory / 1024,
            })
    return rows


def write_rows(stack, rows) -> None:
    """The functions and their buckets, into the stack's database, for a
    team the admin is in."""
    lines = [
        "from datetime import datetime, UTC",
        "from django.contrib.auth import get_user_model",
        "from functions import code, service",
        "from functions.models import Function, Membership, Team",
        "from metrics.models import MetricMinute",
        f"team, _ = Team.objects.get_or_create(name={TEAM!r})",
        "Membership.objects.get_or_create(team=team, user=get_user_model().objects.get(username='admin'))",
        "MetricMinute.objects.filter(team=team).delete()",
        "source = code.zip_single_file('lambda_function.py', 'def lambda_handler(e, c):\\n    return e\\n')",
        "ids = {}",
    ]
    for name, _, _, memory in FUNCTIONS:
        lines.append(
            f"ids[{name!r}] = (Function.objects.filter(team=team, name={name!r}).first() or "
            f"service.create_function(team, name={name!r}, zip_bytes=source, memory_mb={memory}, "
            "handler='lambda_function.lambda_handler')).id"
        )
    for r in rows:
        lines.append(
            f"MetricMinute.objects.create(team=team, function_id=ids[{r['name']!r}], "
            f"function_name={r['name']!r}, "
            f"minute=datetime({r['day'].year}, {r['day'].month}, {r['day'].day}, 12, tzinfo=UTC), "
            f"invocations={r['requests']}, billed_ms_sum={r['billed']}, gb_seconds={float(r['gbs'])!r})"
        )
    stack.shell("\n".join(lines))


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,} USD"


def test_it_shows_totals_and_the_chart_and_downloads_the_csv(page, stack, tmp_path):
    rows = known_month()
    write_rows(stack, rows)
    requests = sum(r["requests"] for r in rows)
    gbs = sum(r["gbs"] for r in rows)
    cost = requests * PER_REQUEST + gbs * PER_GB_S
    credit = min(requests, FREE_REQUESTS) * PER_REQUEST + min(gbs, FREE_GB_S) * PER_GB_S

    login(page)
    page.click("header nav a:has-text('Usage')")
    expect(page).to_have_url(re.compile(r"/usage/$"))
    page.select_option("select[name=team]", TEAM)
    page.click("button:has-text('Show')")
    expect(page).to_have_url(re.compile(rf"team={TEAM}"))

    totals = page.locator("#usage-totals")
    expect(totals.locator("[data-total=requests]")).to_have_text(f"{requests:,}")
    expect(totals.locator("[data-total=cost]")).to_have_text(money(cost))
    expect(totals.locator("[data-total=credit]")).to_have_text("−" + money(credit))
    expect(totals.locator("[data-total=due]")).to_have_text(money(cost - credit))
    assert cost - credit > 0  # the month's usage is past the free tier
    for name, *_ in FUNCTIONS:
        expect(page.locator("#usage-functions a", has_text=name)).to_have_attribute(
            "href", re.compile(r"/functions/[0-9a-f-]{36}/")
        )
    expect(page.locator("#usage-teams")).to_contain_text(TEAM)

    # The chart: uPlot drew it, with a legend of our series.
    chart = page.locator("#usage-chart")
    expect(chart).to_have_attribute("data-ready", "true")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart.locator(".u-legend")).to_contain_text("Cost (USD)")
    expect(chart.locator(".u-legend")).to_contain_text("Requests")
    expect(chart.locator(".u-legend")).to_contain_text("GB-seconds")
    box = chart.locator("canvas").bounding_box()
    assert box["width"] > 300 and box["height"] > 200

    page.screenshot(path=str(ROOT / "docs" / "usage.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#usage-csv")
    download = download_info.value
    today = datetime.now(UTC).date()
    assert download.suggested_filename == (
        f"stratus-usage-{today.replace(day=1).isoformat()}-to-{today.isoformat()}.csv"
    )
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    table = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(table) == len(rows)
    assert {(t["date"], t["team"], t["function"]) for t in table} == {
        (r["day"].isoformat(), TEAM, r["name"]) for r in rows
    }
    assert sum(int(t["requests"]) for t in table) == requests
    assert sum(Decimal(t["gb_seconds"]) for t in table) == gbs
    assert sum(Decimal(t["cost_usd"]) for t in table) == cost

    # A narrower range: the first day only.
    first = today.replace(day=1)
    page.fill("input[name=from]", first.isoformat())
    page.fill("input[name=to]", first.isoformat())
    page.click("button:has-text('Show')")
    expect(page).to_have_url(re.compile(rf"from={first.isoformat()}&to={first.isoformat()}"))
    first_day = [r for r in rows if r["day"] == first]
    expect(page.locator("[data-total=requests]")).to_have_text(f"{sum(r['requests'] for r in first_day):,}")

    # A range that ends before it starts is refused, saying why.
    page.fill("input[name=from]", (first + timedelta(days=1)).isoformat())
    page.click("button:has-text('Show')")
    expect(page.locator("form.usage-range .error")).to_contain_text("before it starts")


REAL_SOURCE = """
import time

def lambda_handler(event, context):
    time.sleep(event["sleep_ms"] / 1000)
    return {"slept": event["sleep_ms"]}
"""


def csv_rows(page, query: str, tmp_path) -> list[dict]:
    """The CSV the page's Download link gives for `query`."""
    page.goto(f"/usage/?{query}")
    with page.expect_download() as download_info:
        page.click("#usage-csv")
    saved = tmp_path / "usage.csv"
    download_info.value.save_as(saved)
    return list(csv.DictReader(io.StringIO(saved.read_text())))


def test_real_invocations_are_on_the_usage_page_and_throttles_are_not(page, stack, tmp_path):
    name = "usage-real-fn"
    login(page)
    new_function(page, name, REAL_SOURCE, timeout_s=5)
    lam = aws_client(stack, "lambda")
    for sleep_ms in (5, 20, 120):
        resp, body = invoke_json(lam, name, {"sleep_ms": sleep_ms})
        assert resp["StatusCode"] == 200 and body == {"slept": sleep_ms}
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as refused:
        invoke_json(lam, name, {"sleep_ms": 1})
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"

    fields = (
        "'request_id', 'status', 'duration_ms', 'billed_duration_ms', 'memory_size_mb', "
        "'function__team__name'"
    )
    stored = wait_for(lambda: (
        found if len(found := stack.rows(
            f"Invocation.objects.filter(function__name={name!r}).values({fields})"
        )) == 4 else None
    ))
    ran = [r for r in stored if r["status"] == "succeeded"]
    (throttled,) = [r for r in stored if r["status"] == "throttled"]
    assert len(ran) == 3 and throttled["billed_duration_ms"] is None
    # Billed: rounded up to the millisecond (the default rounding; the
    # stored duration is itself rounded to 0.01 ms).
    for r in ran:
        assert r["duration_ms"] <= r["billed_duration_ms"] < r["duration_ms"] + 1.01
    billed = sum(r["billed_duration_ms"] for r in ran)
    gbs = Decimal(billed) / 1000 * ran[0]["memory_size_mb"] / 1024
    cost = 3 * PER_REQUEST + gbs * PER_GB_S
    team = ran[0]["function__team__name"]

    # The workers flush the per-minute buckets about every second: wait
    # for the function's row on the page.
    def shown():
        page.goto(f"/usage/?team={team}")
        row = page.locator("#usage-functions tr", has_text=name)
        return row.count() == 1 and row.locator("td").nth(2).inner_text() == "3"

    wait_for(shown, timeout=60, interval=1)
    expect(page.locator("#usage-chart")).to_have_attribute("data-ready", "true")

    (line,) = [r for r in csv_rows(page, f"team={team}", tmp_path) if r["function"] == name]
    assert (line["team"], line["requests"], int(line["billed_ms"])) == (team, "3", billed)
    assert Decimal(line["gb_seconds"]) == gbs
    assert Decimal(line["cost_usd"]) == cost

    # Each invocation's page: billed duration and cost; the throttled one: not billed.
    first = ran[0]
    page.goto(f"/invocations/{first['request_id']}/")
    billed_dd = page.locator("dl.metrics div", has_text="Billed duration").locator("dd")
    expect(billed_dd).to_have_text(f"{first['billed_duration_ms']} ms")
    expect(page.locator("dd.cost")).to_contain_text(" USD")
    shown_cost = Decimal(page.locator("dd.cost").inner_text().split()[0])
    first_gbs = Decimal(first["billed_duration_ms"]) / 1000 * first["memory_size_mb"] / 1024
    exact = PER_REQUEST + first_gbs * PER_GB_S
    assert abs(shown_cost - exact) <= exact / 1000  # 4 significant digits
    page.goto(f"/invocations/{throttled['request_id']}/")
    expect(page.locator("dd.cost")).to_have_text("not billed")



# Every label of the chart's axis fits in the room uPlot gives it (the text
# measured in the axis's own font, beside its tick and gap).
AXIS_FITS = """(idx) => {
  const u = window.usageChart, a = u.axes[idx];
  const ctx = u.ctx; ctx.save(); ctx.font = a.font[0];
  const widths = a._values.map(v => ctx.measureText(String(v)).width / uPlot.pxRatio);
  ctx.restore();
  return {values: a._values, widths: widths, size: a._size, room: a._size - a.ticks.size - a.gap};
}"""


@pytest.fixture
def tokyo_page(browser, stack):
    context = browser.new_context(base_url=stack.url, timezone_id="Asia/Tokyo")
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        context.close()


def test_tiny_costs_are_labelled_whole_and_days_are_utc_days(tokyo_page, stack):
    page = tokyo_page
    today = datetime.now(UTC).date()
    name, _, ms, memory = FUNCTIONS[0]
    # 175 requests: a cost axis up to ~0.00004 USD ("0.00003 USD" labels).
    write_rows(stack, [{
        "name": name, "day": today, "requests": 175, "billed": 175,
        "gbs": Decimal(175) / 1000 * memory / 1024,
    }])
    login(page)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Tokyo"
    page.goto(f"/usage/?team={TEAM}")
    chart = page.locator("#usage-chart")
    expect(chart).to_have_attribute("data-ready", "true")
    got = page.evaluate(AXIS_FITS, 1)
    assert any(len(v) >= 11 for v in got["values"]), got  # e.g. "0.00003 USD"
    assert all(w <= got["room"] for w in got["widths"]), got
    # Days are UTC days and the chart says so.
    expect(chart.locator(".u-legend")).to_contain_text("Day (UTC)")
    day = page.evaluate(
        "(() => { const u = window.usageChart; const t = u.data[0][u.data[0].length - 1];"
        " return [t, u.series[0].value(u, t, 0, u.data[0].length - 1)]; })()"
    )
    assert day[1] == datetime.fromtimestamp(day[0], UTC).strftime("%Y-%m-%d UTC") == f"{today} UTC"
