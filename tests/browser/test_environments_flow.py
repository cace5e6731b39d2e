"""The environments at work, in Debian's Chromium: the installation's page
and a function's Environments tab, open side by side, show a pre-warmed
pool environment become the function's warm one after an invoke, and then
disappear when the reaper takes it after the keep-alive, with the feed
saying why; all without a reload. The stack here has a keep-alive of a few
seconds and reaps every second."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.integration.helpers import create, invoke_json, wait_for

pytestmark = pytest.mark.browser
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "environments.png"
KEEP_ALIVE_S = 12


@pytest.fixture(scope="module")
def stack():
    from tests.stack import Stack

    s = Stack(STRATUS_KEEP_ALIVE=str(KEEP_ALIVE_S), STRATUS_REAP_INTERVAL="1").start()
    try:
        yield s
    finally:
        s.stop()


def test_a_pre_warmed_environment_turns_warm_then_is_reaped(page, stack):
    client = stack.lambda_client()
    create(client, "env-browser", "def handler(e, c):\n    print('hi')\n    return e\n")
    create(client, "env-hog", "def handler(e, c):\n    blocks = []\n    while True:\n"
           "        blocks.append(bytearray(16 * 1024 * 1024))\n", MemorySize=128)
    fn_id = stack.rows("Function.objects.filter(name='env-browser').values_list('id', flat=True)")[0]
    # The pool keeps every runtime's; python3.11's serve these functions.
    generic = "Environment.objects.filter(state='generic', runtime='python3.11').values('id')"
    wait_for(lambda: len(stack.rows(generic)) >= 2)

    login(page)
    page.click("header nav a:has-text('Environments')")
    expect(page).to_have_url(re.compile(r"/environments/$"))
    expect(page.locator("ul.env-legend")).to_contain_text("provisioned")
    expect(page.locator("#envs-live")).to_have_attribute("data-live", "on")

    # An OOM kill: the feed says so as it happens, and the pool is topped up live.
    started = page.locator("#env-events li[data-kind=started]")
    started_before = started.count()
    assert invoke_json(client, "env-hog", {})[0]["FunctionError"] == "Unhandled"
    expect(page.locator("#env-events li[data-kind=oom]")).to_contain_text("OOM-killed at its 128 MB limit")
    pooled = page.locator("tbody#envs-pool tr[data-state=pre-warmed]").filter(has_text="python3.11")
    expect(pooled).to_have_count(2)
    pre_warmed = set(pooled.evaluate_all("rows => rows.map(r => r.dataset.env)"))
    expect(started).to_have_count(started_before + 1)
    expect(started.first).to_contain_text("pre-warmed python3.11 container started")

    tab = page.context.new_page()
    tab.goto(f"/functions/{fn_id}/")
    # The tab swapped in by htmx opens its own socket.
    tab.click("nav.tabs a:has-text('Environments')")
    expect(tab).to_have_url(re.compile(r"\?tab=environments$"))
    expect(tab.locator(f"tbody#envs-fn-{fn_id}")).to_be_attached()
    expect(tab.locator(f"tbody#envs-fn-{fn_id} tr")).to_have_count(0)
    # Both pages' websockets are connected (each first sends the tables as they are).
    expect(page.locator("#envs-live")).to_have_attribute("data-live", "on")
    expect(tab.locator("#envs-live")).to_have_attribute("data-live", "on")

    invoke_json(client, "env-browser", {"hello": 1})
    invoke_json(client, "env-browser", {"hello": 2})

    warm = page.locator("tr.env[data-state=warm]").filter(has_text="env-browser")
    expect(warm).to_have_count(1)
    expect(warm).to_have_attribute("data-calls", "2")
    env_id = warm.get_attribute("data-env")
    # The very environment that was pre-warmed on this page a moment ago.
    assert env_id in pre_warmed
    expect(page.locator(f"tbody#envs-pool tr[data-env='{env_id}']")).to_have_count(0)
    expect(warm.locator("td").nth(7)).to_have_text(re.compile(r"^\d+ of 128 MB$"))
    expect(page.locator(f"#env-events li[data-env='{env_id}'][data-kind=specialised]")).to_contain_text(
        "specialised from the pool for env-browser"
    )
    tab_row = tab.locator(f"tbody#envs-fn-{fn_id} tr[data-env='{env_id}']")
    expect(tab_row).to_have_attribute("data-state", "warm")
    expect(tab_row).to_have_attribute("data-calls", "2")
    expect(pooled).to_have_count(2)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # After the keep-alive the reaper takes it, and both pages show it go.
    reaped = page.locator(f"#env-events li[data-env='{env_id}'][data-kind=reaped]")
    idle = re.compile(r"reaped after \d+ s idle")
    expect(reaped).to_contain_text(idle, timeout=KEEP_ALIVE_S * 1000 + 60_000)
    expect(page.locator(f"tr.env[data-env='{env_id}']")).to_have_count(0)
    expect(tab.locator(f"tbody#envs-fn-{fn_id} tr")).to_have_count(0)
    # Each event once on each page (one socket per page).
    expect(reaped).to_have_count(1)
    expect(tab.locator(f"#env-events li[data-env='{env_id}'][data-kind=reaped]")).to_have_count(1)
    expect(tab.locator(f"#env-events li[data-env='{env_id}'][data-kind=specialised]")).to_have_count(1)
    assert stack.rows(f"Environment.objects.filter(id='{env_id}').values('id')") == []
