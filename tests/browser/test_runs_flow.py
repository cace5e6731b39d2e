"""Finding a run, in Debian's Chromium: invoke a function that prints a
unique token, find the invocation on /runs/ by that log text, open it,
open its event in the Test tab, and invoke it again."""

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function

pytestmark = pytest.mark.browser

# It takes a moment, so "Invoke again" usually lands on the page that
# waits for the sync call's record before it shows the record.
SOURCE = '''
import time

def lambda_handler(event, context):
    print("token is", event["token"])
    time.sleep(2)
    return {"echo": event["token"]}
'''


def test_it_finds_a_run_by_its_log_text_and_invokes_it_again(page, stack):
    token = f"needle-{uuid.uuid4().hex[:12]}"
    login(page)
    fn_url = new_function(page, "runs-flow", SOURCE, 10)

    page.goto(fn_url + "?tab=test")
    page.fill("textarea[name=event]", json.dumps({"token": token}))
    page.click("button:has-text('Invoke')")
    expect(page.locator("#test-result [data-status]")).to_have_attribute("data-status", "succeeded")
    first_id = page.locator("#test-result a[href^='/invocations/'] code").inner_text()
    # A sync call's record is stored just after its answer (in batches).
    wait_for_rows(stack, token, 1)

    page.click("header nav a:has-text('Runs')")
    expect(page).to_have_url(re.compile(r"/runs/$"))
    page.fill("input[name=q]", token.upper())  # the search ignores case
    page.press("input[name=q]", "Enter")
    # htmx swapped the table and put the search in the URL.
    expect(page).to_have_url(re.compile(r"/runs/\?.*q=" + token.upper()))
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("runs-flow")
    expect(rows.first.locator("[data-status]")).to_have_attribute("data-status", "succeeded")
    # A reload of the pushed URL shows the same.
    page.reload()
    expect(page.locator("input[name=q]")).to_have_value(token.upper())
    expect(page.locator("table.runs tbody tr")).to_have_count(1)

    page.click(f"table.runs tbody tr a[title='{first_id}']")
    expect(page).to_have_url(re.compile(f"/invocations/{first_id}/$"))
    expect(page.locator("pre.event")).to_contain_text(token)

    page.click("a:has-text('Open this event in Test')")
    expect(page).to_have_url(re.compile(rf"\?tab=test&from={first_id}$"))
    expect(page.locator("textarea[name=event]")).to_have_value(re.compile(token))
    expect(page.locator(".messages")).to_contain_text(f"Loaded the event of invocation {first_id}")

    page.go_back()
    expect(page).to_have_url(re.compile(f"/invocations/{first_id}/$"))
    page.click("button:has-text('Invoke again')")
    # The new invocation's page: waiting for its record, then the record.
    new_page = re.compile(r"/invocations/(?!" + first_id + r")[0-9a-f-]{36}/$")
    expect(page).to_have_url(new_page, timeout=90_000)
    expect(page.locator(".page-head [data-status]")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("pre.event")).to_contain_text(token)
    expect(page.locator("pre.logs")).to_contain_text(f"token is {token}")
    second_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert second_id != first_id
    stored = wait_for_rows(stack, token, 2)
    assert {r["request_id"] for r in stored} == {first_id, second_id}
    assert all(r["status"] == "succeeded" and r["source"] == "console" for r in stored)

    # Both are on the runs page now, newest first.
    page.goto(f"/runs/?q={token}")
    ids = page.locator("table.runs tbody tr a[title]").evaluate_all("els => els.map(e => e.title)")
    assert ids == [second_id, first_id]


def wait_for_rows(stack, token: str, count: int) -> list:
    """The stored invocations whose logs hold `token`, once there are
    `count` of them (the recorder stores sync calls in batches)."""
    import time

    for _ in range(120):
        rows = stack.rows(
            f"Invocation.objects.filter(logs__contains={token!r}).values('request_id', 'status', 'source')"
        )
        if len(rows) >= count:
            return rows
        time.sleep(0.5)
    raise AssertionError(f"{count} invocations printing {token} were never stored: {rows}")
