"""Live views that never lie, in Debian's Chromium: a function's Invocations
tab through a burst of calls from outside the page, a websocket that drops
and comes back, a page opened mid-run, a filtered list that takes matching
rows live and keeps its filter in the URL; the header after a configuration
save; the Test tab's status, double click and Ctrl+Enter."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.integration.helpers import create, wait_for

pytestmark = pytest.mark.browser

QUICK = '''
import random
import time

def handler(event, context):
    print("working on", event.get("n"))
    time.sleep(random.random() * 0.3)
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"n": event.get("n")}
'''

SLOW = '''
import time

def handler(event, context):
    print("started", event.get("n"))
    time.sleep(event.get("sleep", 2))
    print("done", event.get("n"))
    return {"slept": event.get("sleep", 2)}
'''

# Counts the socket's openings and the out-of-band swaps that found no target.
WATCH_SOCKET = """
window.__wsOpen = 0; window.__wsClose = 0; window.__oobMissed = []; window.__messages = [];
window.__catchups = 0;
document.addEventListener('htmx:wsBeforeMessage', (e) => { window.__messages.push(e.detail.message); });
document.addEventListener('htmx:beforeRequest', (e) => {
  if (e.detail.requestConfig.path.includes('/live/rows/')) { window.__catchups += 1; }
});
document.addEventListener('htmx:wsOpen', () => { window.__wsOpen += 1; });
document.addEventListener('htmx:wsClose', () => { window.__wsClose += 1; });
document.addEventListener('htmx:oobErrorNoTarget',
  (e) => { window.__oobMissed.push(String(e.detail.target)); });
"""

ROWS = "#inv-rows tr[id^=inv-row-]"
# Runs take their time on a shared two-core machine (queues, cold starts).
RUNS = 90_000


@pytest.fixture
def lam(stack):
    return stack.lambda_client()


@pytest.fixture
def live_page(page):
    page.add_init_script(WATCH_SOCKET)
    login(page)
    return page


def _function(lam, name: str, source: str, **kwargs) -> None:
    """A function whose failed async calls are final at once (no retries)."""
    create(lam, name, source, **kwargs)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)


def _open(page, name: str, query: str = "tab=invocations") -> str:
    """The function's page with `query`, its socket open; its base URL."""
    page.goto("/")
    base = page.locator(f"a:text-is('{name}')").get_attribute("href").split("?")[0]
    page.goto(f"{base}?{query}")
    page.wait_for_function("window.__wsOpen >= 1")
    return base


def _invoke(lam, name: str, payload: dict, asynchronous: bool = False) -> None:
    """One call; a sync call throttled (the stack's concurrency is small)
    is tried again, as a client would."""
    kwargs = {"InvocationType": "Event"} if asynchronous else {}

    def attempt():
        try:
            return lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)
        except lam.exceptions.TooManyRequestsException:
            return None

    wait_for(attempt, timeout=120, interval=0.5)


def _all_final(page, count: int) -> None:
    """`count` calls' rows (throttled attempts, on the record too, aside)
    and not one that is not final."""
    expect(page.locator(f"{ROWS}:not([data-status=throttled])")).to_have_count(count, timeout=RUNS)
    expect(page.locator(f"{ROWS}[data-final='0']")).to_have_count(0, timeout=RUNS)
    expect(page.locator("#inv-rows .badge[data-status=running]")).to_have_count(0)
    expect(page.locator("#inv-rows .badge[data-status=queued]")).to_have_count(0)


def _db_statuses(stack, name: str) -> dict:
    rows = stack.rows(f"Invocation.objects.filter(function__name='{name}').values('request_id', 'status')")
    return {r["request_id"]: r["status"] for r in rows}


def _ran(stack, name: str) -> int:
    """How many of `name`'s calls are on the record (throttled ones aside)."""
    return sum(1 for status in _db_statuses(stack, name).values() if status != "throttled")


def _page_statuses(page) -> dict:
    return page.eval_on_selector_all(
        ROWS, "rows => Object.fromEntries(rows.map(r => [r.id.slice(8), r.dataset.status]))"
    )


def test_a_burst_ends_with_every_row_final_without_a_reload(live_page, stack, lam):
    page = live_page
    _function(lam, "live-burst", QUICK)
    _open(page, "live-burst")
    expect(page.locator("[data-live-empty]")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    calls = [({"n": i, "fail": i % 7 == 3}, i % 2 == 0) for i in range(24)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda c: _invoke(lam, "live-burst", c[0], c[1]), calls))

    try:
        _all_final(page, 24)
    finally:
        print("page:", _page_statuses(page))
        print("database:", _db_statuses(stack, "live-burst"))
    expect(page.locator("[data-live-empty]")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.evaluate("window.__oobMissed") == []
    # What the page shows is what the database holds (throttled attempts
    # included: they are on the record, and on the page).
    wait_for(lambda: _page_statuses(page) == _db_statuses(stack, "live-burst"))
    assert "failed" in _page_statuses(page).values()


def test_a_reconnected_socket_catches_up(live_page, stack, lam):
    page = live_page
    _function(lam, "live-reconnect", SLOW)
    _open(page, "live-reconnect")
    _invoke(lam, "live-reconnect", {"n": "long", "sleep": 5}, asynchronous=True)
    expect(page.locator(f"{ROWS}[data-status=running]")).to_have_count(1, timeout=RUNS)

    # Drop the socket (as a network blip would), and run calls meanwhile.
    page.evaluate("document.body['htmx-internal-data'].webSocket.socket.close()")
    page.wait_for_function("window.__wsClose >= 1")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(
            lambda i: _invoke(lam, "live-reconnect", {"n": i, "sleep": 0}, asynchronous=i % 2 == 0), range(6)
        ))
    wait_for(lambda: sorted(_db_statuses(stack, "live-reconnect").values()).count("succeeded") == 7)

    # Coming back, the page asks the server what it missed.
    catchups = page.evaluate("window.__catchups")
    page.evaluate("document.body['htmx-internal-data'].webSocket.init()")
    page.wait_for_function("window.__wsOpen >= 2")
    page.wait_for_function(f"window.__catchups > {catchups}")
    _all_final(page, 7)
    wait_for(lambda: _page_statuses(page) == _db_statuses(stack, "live-reconnect"))


def test_a_page_opened_mid_run_shows_it_running_then_final(live_page, stack, lam):
    page = live_page
    _function(lam, "live-midrun", SLOW, Timeout=30)
    _invoke(lam, "live-midrun", {"n": "a", "sleep": 12}, asynchronous=True)
    running_now = lambda: list(_db_statuses(stack, "live-midrun").values()) == ["running"]  # noqa: E731
    wait_for(running_now, timeout=120, interval=0)
    _open(page, "live-midrun")
    running = page.locator(f"{ROWS}[data-status=running]")
    expect(running).to_have_count(1)
    try:
        expect(page.locator(f"{ROWS}[data-status=succeeded]")).to_have_count(1, timeout=RUNS)
    finally:
        print("messages:", page.evaluate("window.__messages"))
        print("database:", _db_statuses(stack, "live-midrun"))
    expect(running).to_have_count(0)

    # A sync call, started before the page opened and silent while the page
    # opens: its row shows once it has finished.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_invoke, lam, "live-midrun", {"n": "b", "sleep": 2})
        page.reload()
        page.wait_for_function("window.__wsOpen >= 1")
        pending.result()
    _all_final(page, 2)


def test_the_header_follows_a_saved_configuration(live_page, lam):
    page = live_page
    _function(lam, "live-config", QUICK, MemorySize=128, Timeout=3)
    _open(page, "live-config", "tab=configuration")
    header = page.locator("#fn-head .fn-summary")
    expect(header).to_contain_text("128 MB · 3 s")
    page.evaluate("window.__sameDocument = true")
    page.fill("input[name=memory_mb]", "256")
    page.fill("input[name=timeout_s]", "10")
    page.click("button:has-text('Save configuration')")
    expect(page.locator("#tab")).to_contain_text("Saved the configuration.")
    expect(header).to_contain_text("256 MB · 10 s")
    assert page.evaluate("window.__sameDocument") is True


def test_the_test_tab_follows_the_run_and_runs_a_double_click_once(live_page, stack, lam):
    page = live_page
    _function(lam, "live-test", SLOW)
    _open(page, "live-test", "tab=test")
    page.fill("textarea[name=event]", '{"n": "dbl", "sleep": 2}')
    page.dblclick("button:has-text('Invoke')")

    status = page.locator("#test-result .panel-head [data-status]")
    logs = page.locator("#test-result pre[id^=logs-]")
    expect(logs).to_contain_text("started dbl", timeout=RUNS)
    # Log lines stream: the panel says running, never queued, meanwhile.
    expect(status).to_have_attribute("data-status", "running")
    expect(page.locator("#test-result .outcome")).not_to_contain_text("Queued")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=RUNS)
    expect(logs).to_contain_text("done dbl")
    expect(page.locator("#test-result")).to_contain_text('"slept": 2')
    wait_for(lambda: _ran(stack, "live-test") >= 1)
    # Recorded once the answer is out; a second run would be recorded by now.
    wait_for(lambda: stack.rows(
        "[len(__import__('invocations.unrecorded', fromlist=['x']).pending())]"
    ) == [0])
    assert _ran(stack, "live-test") == 1


def test_ctrl_enter_and_cmd_enter_invoke(live_page, stack, lam):
    page = live_page
    _function(lam, "live-keys", QUICK)
    _open(page, "live-keys", "tab=test")
    page.fill("textarea[name=event]", '{"n": "ctrl"}')
    page.focus("textarea[name=event]")
    page.keyboard.press("Control+Enter")
    status = page.locator("#test-result .panel-head [data-status]")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=RUNS)
    expect(page.locator("#test-result")).to_contain_text('"n": "ctrl"')

    page.fill("textarea[name=event]", '{"n": "cmd"}')
    page.focus("textarea[name=event]")
    page.keyboard.press("Meta+Enter")
    expect(page.locator("#test-result")).to_contain_text('"n": "cmd"')
    expect(status).to_have_attribute("data-status", "succeeded", timeout=RUNS)
    wait_for(lambda: _ran(stack, "live-keys") == 2)


def test_the_filter_stays_in_the_url_and_takes_matching_rows_live(live_page, stack, lam):
    page = live_page
    _function(lam, "live-filter", QUICK)
    _invoke(lam, "live-filter", {"n": "old-ok"})
    _invoke(lam, "live-filter", {"n": "old-bad", "fail": True})
    wait_for(lambda: _ran(stack, "live-filter") == 2)
    base = _open(page, "live-filter")
    expect(page.locator(ROWS)).to_have_count(2)

    page.select_option("#status-filter", "failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(page.locator(ROWS)).to_have_count(1)
    page.reload()
    page.wait_for_function("window.__wsOpen >= 1")
    expect(page.locator("#status-filter")).to_have_value("failed")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(f"{ROWS}[data-status=failed]")).to_have_count(1)

    # New calls: the failing one joins live (it matches only once it has
    # finished), the succeeding one does not.
    _invoke(lam, "live-filter", {"n": "new-ok"})
    _invoke(lam, "live-filter", {"n": "new-bad", "fail": True})
    expect(page.locator(f"{ROWS}[data-status=failed]")).to_have_count(2, timeout=RUNS)
    wait_for(lambda: _ran(stack, "live-filter") == 4)
    expect(page.locator(ROWS)).to_have_count(2)
    assert base in page.url and "status=failed" in page.url


def test_a_row_queued_again_for_a_retry_leaves_running(live_page, stack, lam):
    """An async call whose attempt failed waits queued for its retry (60 s
    here): the row must say so, not stay on the attempt's "Running"."""
    page = live_page
    create(lam, "live-retry", QUICK)
    lam.put_function_event_invoke_config(FunctionName="live-retry", MaximumRetryAttempts=1)
    _open(page, "live-retry")
    _invoke(lam, "live-retry", {"n": 1, "fail": True}, asynchronous=True)

    def queued_again():
        rows = stack.rows(
            "Invocation.objects.filter(function__name='live-retry')"
            ".values('request_id', 'status', 'attempts')"
        )
        return rows and rows[0]["status"] == "queued" and rows[0]["attempts"] == 1 and rows[0]["request_id"]

    request_id = wait_for(queued_again, timeout=RUNS / 1000)
    row = page.locator(f"#inv-row-{request_id}")
    expect(row).to_have_attribute("data-status", "queued", timeout=30_000)
    expect(row).to_have_attribute("data-attempt", "1")
    assert page.evaluate("window.__oobMissed") == []
