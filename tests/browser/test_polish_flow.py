"""The console's finish, in Debian's Chromium: a run's page opened while it
runs says cold or warm once it ends, times are written one way (to the
second with a zone, "just now", never microseconds), forms show each error
once and every bad field at once, reserved concurrency 0 says so, and a
phone-width screen never scrolls sideways."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function
from tests.integration.helpers import create, wait_for

pytestmark = pytest.mark.browser

SLOW = '''
import time

def handler(event, context):
    print("working on", event.get("n"))
    time.sleep(8)
    return {"done": True}
'''

HELLO = 'def handler(event, context):\n    print("hi")\n    return {"ok": True}\n'
PHONE = {"width": 375, "height": 740}
ABSOLUTE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})? UTC$")


def _no_sideways_scroll(page, what: str) -> None:
    wide = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert wide[0] <= wide[1], f"{what}: the page is {wide[0]} px wide on a {wide[1]} px screen"


def test_a_page_opened_mid_run_says_cold_or_warm_and_writes_times_one_way(page, stack):
    client = stack.lambda_client()
    create(client, "polish-slow", SLOW, Timeout=20)
    login(page)
    resp = client.invoke(FunctionName="polish-slow", InvocationType="Event", Payload=b'{"n": 1}')
    # The invocation's request id (Lambda's x-amzn-RequestId of an Event call).
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    page.goto(f"/invocations/{request_id}/")
    status = page.locator(f"#status-{request_id}")
    assert status.get_attribute("data-status") in ("queued", "running")
    # The page was rendered mid-run; the end arrives live.
    expect(status).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator(".cold-start")).to_have_text(re.compile(r"^(cold|warm)$"))
    expect(page.locator("body")).not_to_contain_text("Cold start —")
    times = page.locator("main time")
    assert times.count() >= 4
    for text in times.all_inner_texts():
        assert ABSOLUTE.match(text), text
    for stamp in times.evaluate_all("els => els.map(e => e.getAttribute('datetime'))"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", stamp), stamp
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", page.content())

    fn_url = page.locator("h1 a").get_attribute("href").split("?")[0]
    page.goto(f"{fn_url}?tab=invocations")
    row = page.locator(f"#inv-row-{request_id} time[data-rel]")
    expect(row).to_have_text(re.compile(r"^(just now|\d+ s ago|\d+ min ago)$"))
    assert "minutes ago" not in page.inner_text("main")
    assert ABSOLUTE.match(row.get_attribute("title"))


def test_a_bad_schedule_shows_its_error_once_and_the_box_shows_the_whole_expression(page, stack):
    login(page)
    url = new_function(page, "polish-cron", HELLO.replace("handler(", "lambda_handler("), 3)
    page.goto(f"{url}?tab=triggers")
    page.click("summary:has-text('Add a schedule')")
    box = page.locator("#schedule-form input[name=expression]")
    box.fill("cron(0 9 * * * *)")
    page.click("#schedule-form button:has-text('Add schedule')")
    errors = page.locator("#schedule-form .error")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("?")
    # The refused form does not ask the preview again, so no second copy.
    page.wait_for_load_state("networkidle")
    expect(errors).to_have_count(1)

    for size in ({"width": 1280, "height": 800}, PHONE):
        page.set_viewport_size(size)
        box.fill("cron(30 9 ? * MON-FRI *)")
        cut = box.evaluate("el => el.scrollWidth > el.clientWidth")
        assert not cut, f"the expression is cut off at {size['width']} px"
        # ... and the boxes beside it are not squeezed to make room.
        for name, least in (("timezone", 100), ("priority", 80)):
            width = page.locator(f"#schedule-form select[name={name}]").bounding_box()["width"]
            assert width >= least, f"the {name} box is {width} px wide at {size['width']} px"
    # Edited to a good expression: the preview replaces the error with fire times.
    expect(page.locator("#schedule-preview ol.fire-times li")).to_have_count(5)
    expect(errors).to_have_count(0)
    first = page.locator("#schedule-preview ol.fire-times li time").first
    expect(first).to_have_text(re.compile(r"^(Mon|Tue|Wed|Thu|Fri) \d{4}-\d\d-\d\d 09:30:00 UTC$"))
    _no_sideways_scroll(page, "the triggers tab")


def test_two_bad_fields_show_two_errors_and_reserved_concurrency_0_says_so(page, stack):
    login(page)
    url = new_function(page, "polish-forms", HELLO.replace("handler(", "lambda_handler("), 3)
    page.goto(f"{url}?tab=configuration")
    page.fill("input[name=memory_mb]", "50")
    page.fill("input[name=timeout_s]", "1000")
    page.click("button:has-text('Save configuration')")
    expect(page.locator(".field-memory_mb .error")).to_have_text(
        "Memory must be between 128 and 10240 MB, got 50."
    )
    expect(page.locator(".field-timeout_s .error")).to_have_text(
        "The timeout must be between 1 and 900 seconds, got 1000."
    )
    fn = stack.rows("Function.objects.filter(name='polish-forms').values('memory_mb', 'timeout_s')")[0]
    assert fn == {"memory_mb": 128, "timeout_s": 3}

    page.goto(f"{url}?tab=configuration")
    page.fill("input[name=reserved_concurrency]", "0")
    page.click("button:has-text('Save asynchronous settings')")
    expect(page.locator(".messages")).to_contain_text("Saved the asynchronous invocation settings")
    page.goto(f"{url}?tab=test")
    page.fill("textarea[name=event]", "{}")
    page.click("button:has-text('Invoke')")
    error = page.locator("#test-result .error")
    expect(error).to_contain_text("the reserved concurrency of polish-forms is 0")
    expect(error).to_contain_text("until it is raised")
    assert "try again" not in error.inner_text()


def test_a_phone_width_screen_never_scrolls_sideways(page, stack):
    client = stack.lambda_client()
    create(client, "polish-phone-function-with-a-rather-long-name", HELLO, Timeout=5)
    client.invoke(FunctionName="polish-phone-function-with-a-rather-long-name", Payload=b'{"a": 1}')
    login(page)
    page.set_viewport_size(PHONE)
    fn_id = stack.rows(
        "Function.objects.filter(name='polish-phone-function-with-a-rather-long-name')"
        ".values_list('id', flat=True)"
    )[0]
    request_id = wait_for(lambda: stack.rows(
        f"Invocation.objects.filter(function_id='{fn_id}').values_list('request_id', flat=True)"
    ))[0]
    lists = ("/", "/topics/", "/queues/", "/buckets/", "/tables/", "/streams/", "/dead-letters/")
    for path in (*lists, "/functions/new/"):
        assert page.goto(path).status == 200
        _no_sideways_scroll(page, path)
    tabs = page.locator("nav.tabs")
    page.goto(f"/functions/{fn_id}/")
    assert tabs.evaluate("el => getComputedStyle(el).overflowX") == "auto"
    for name in tabs.locator("a").all_inner_texts():
        page.goto(f"/functions/{fn_id}/?tab={name.strip().lower()}")
        _no_sideways_scroll(page, f"the {name} tab")
    page.goto(f"/invocations/{request_id}/")
    expect(page.locator(".cold-start")).to_have_text(re.compile(r"^(cold|warm)$"))
    _no_sideways_scroll(page, "an invocation's page")
    # The header's links are all reachable: they wrap or scroll inside it.
    header = page.locator("header.top")
    assert header.evaluate("el => el.scrollWidth <= el.clientWidth")
