"""Watching a function's health in Debian's Chromium: the Monitor tab and
the dashboard draw the metrics with uPlot, and an invocation made
elsewhere (boto3) moves the charts without a reload, over the metrics
websockets. Takes docs/monitor.png and docs/dashboard.png."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"

SOURCE = '''import time

def lambda_handler(event, context):
    print("working on", event.get("n"))
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"n": event.get("n")}
'''

# The chart's own data (uPlot's), not the page's text: what is drawn.
CHART_SUM = """(name) => {
  const c = window.stratusCharts && window.stratusCharts.instances[0];
  if (!c || !c.plots[name]) return -1;
  return c.plots[name].data[1].reduce((a, v) => a + (v || 0), 0);
}"""


def _chart_sum(page, name: str) -> float:
    return page.evaluate(CHART_SUM, name)


def _wait_for_sum(page, name: str, at_least: float) -> None:
    page.wait_for_function(f"({CHART_SUM})({json.dumps(name)}) >= {at_least}", timeout=30_000)


def _invoke(client, name: str, **event) -> dict:
    answer = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert answer["StatusCode"] == 200
    return answer


def test_it_moves_the_charts_when_a_function_runs(page, stack):
    login(page)
    url = new_function(page, "monitor-fn", SOURCE, timeout_s=10)
    client = stack.lambda_client()
    page.goto(url)
    # The tab comes in through htmx, as a person clicks it.
    page.click("nav.tabs a:has-text('Monitor')")
    expect(page).to_have_url(f"{url}?tab=monitor")
    expect(page.locator("[data-chart=invocations] .uplot")).to_be_visible()
    expect(page.locator("[data-live-state]")).to_have_text("live")
    assert _chart_sum(page, "invocations") == 0
    # Gone if the page reloads: every update below must come without one.
    page.evaluate("window.notReloaded = true")
    expect(page.locator("[data-total=invocations]")).to_have_text("0")

    _invoke(client, "monitor-fn", n=1)
    _wait_for_sum(page, "invocations", 1)
    expect(page.locator("[data-total=invocations]")).to_have_text("1")
    # The first call of a function is a cold start.
    _wait_for_sum(page, "cold_starts", 1)

    answer = _invoke(client, "monitor-fn", n=2, fail=True)
    assert answer["FunctionError"] == "Unhandled"
    _wait_for_sum(page, "invocations", 2)
    _wait_for_sum(page, "errors", 1)
    expect(page.locator("[data-total=errors_failed]")).to_have_text("1")
    for n in range(3, 7):
        _invoke(client, "monitor-fn", n=n, sleep=0.05 * n)
    _wait_for_sum(page, "invocations", 6)
    # Durations came with the calls (the re-read series has percentiles).
    page.wait_for_function(
        "window.stratusCharts.instances[0].plots.duration.data[3].some(v => v !== null)", timeout=30_000
    )
    assert page.evaluate("window.notReloaded") is True
    # Each call moved the chart once: one tick per call (one socket), and
    # the JSON read after the ticks agrees with what they added. The sum
    # above may come from a re-read that already holds the last call before
    # its tick reached the page (the tick leaves the worker after the answer
    # and the record): wait for the sixth tick, then count them.
    page.wait_for_function("window.stratusCharts.instances[0].ticks >= 6", timeout=30_000)
    seen = page.evaluate(
        "(() => { const c = window.stratusCharts.instances[0];"
        " return {ticks: c.ticks, opens: c.opens, messages: c.messages,"
        " received: c.received.map(t => [t.status, t.at])}; })()"
    )
    assert seen["ticks"] == 6, seen
    # A tick that arrives after a re-read which already held its call counts
    # twice for a moment; the re-read that tick asks for settles it.
    page.wait_for_function(f"({CHART_SUM})('invocations') === 6", timeout=30_000)

    # A throttle (reserved concurrency 0: Lambda's 429) is a throttle, not an invocation.
    client.put_function_concurrency(FunctionName="monitor-fn", ReservedConcurrentExecutions=0)
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="monitor-fn", Payload=b"{}")
    _wait_for_sum(page, "throttles", 1)
    expect(page.locator("[data-total=throttles]")).to_have_text("1")
    page.wait_for_function(f"({CHART_SUM})('invocations') === 6", timeout=30_000)
    client.delete_function_concurrency(FunctionName="monitor-fn")
    page.locator("main").screenshot(path=str(DOCS / "monitor.png"))

    # Another range, from the URL: a day in 10-minute steps holds the same calls.
    page.click(".monitor .ranges a:has-text('24h')")
    expect(page).to_have_url(f"{url}?tab=monitor&range=24h")
    page.wait_for_function("window.stratusCharts.instances[0].state.step_s === 600")
    assert _chart_sum(page, "invocations") == 6

    # The installation's dashboard (the stack's admin is staff), live as well.
    page.click("header nav a:has-text('Dashboard')")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    before = _chart_sum(page, "invocations")
    assert before >= 6
    row = page.locator("tr[data-function=monitor-fn] [data-col=invocations]")
    expect(row).to_have_text("6")
    _invoke(client, "monitor-fn", n=7)
    _wait_for_sum(page, "invocations", before + 1)
    # The functions table follows the charts.
    expect(row).to_have_text("7")
    page.locator("main").screenshot(path=str(DOCS / "dashboard.png"))

    # A phone: one column, nothing wider than the screen, charts redrawn to fit.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        "window.stratusCharts.instances[0].plots.invocations.width <= 390", timeout=10_000
    )
    assert page.evaluate("document.querySelector('.monitor').scrollWidth") <= 390
    chart = page.locator("[data-chart=invocations]").bounding_box()
    assert chart["x"] + chart["width"] <= 390


@pytest.fixture
def tokyo_page(browser, stack):
    context = browser.new_context(base_url=stack.url, timezone_id="Asia/Tokyo")
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        context.close()


def _utc_clock(t: float) -> str:
    """A time tick as the console writes times: 24-hour UTC."""
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def test_chart_times_are_utc_and_the_newest_bar_is_whole(tokyo_page, stack):
    page = tokyo_page
    login(page)
    url = new_function(page, "monitor-utc", SOURCE, timeout_s=10)
    _invoke(stack.lambda_client(), "monitor-utc", n=1)
    page.goto(f"{url}?tab=monitor")
    _wait_for_sum(page, "invocations", 1)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Tokyo"
    got = page.evaluate("""() => {
      const c = window.stratusCharts.instances[0], p = c.plots.invocations, a = p.axes[0], t = p.data[0];
      return {splits: a._splits, values: a._values, t: t, step: c.state.step_s,
              min: p.scales.x.min, max: p.scales.x.max,
              last: p.series[0].value(p, t[t.length - 1], 0, t.length - 1),
              legend: p.root.querySelector('.u-legend').textContent};
    }""")
    # The browser is in Tokyo (UTC+9); every tick reads UTC, and says so.
    clocks = [(s, v.split("\n")[0]) for s, v in zip(got["splits"], got["values"], strict=True) if ":" in v]
    assert clocks, got
    for split, label in clocks:
        assert label == _utc_clock(split), got
    assert "Time (UTC)" in got["legend"]
    newest = got["t"][-1]
    assert got["last"] == datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M UTC")
    # Half a step of room on both ends: the first and the newest bar are whole.
    assert got["min"] == got["t"][0] - got["step"] / 2
    assert got["max"] == newest + got["step"] / 2
