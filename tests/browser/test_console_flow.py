"""A new user's first minutes, in Debian's Chromium: log in, upload a zip,
invoke it from the Test tab, see the log line live and then the result."""

import re

import pytest
from playwright.sync_api import expect

from tests.integration.helpers import zip_of

pytestmark = pytest.mark.browser

HANDLER = '''
import time

def handler(event, context):
    print("step one for", event["who"])
    time.sleep(3)
    print("step two")
    return {"greeting": "hello " + event["who"]}
'''


def test_it_uploads_invokes_and_streams_logs(page, stack, tmp_path):
    page.goto("/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto("/functions/new/")
    page.fill("input[name=name]", "browser-fn")
    page.fill("input[name=handler]", "app.handler")
    page.fill("input[name=timeout_s]", "10")
    page.check("input[name=code_source][value=zip]")
    archive = tmp_path / "code.zip"
    archive.write_bytes(zip_of({"app.py": HANDLER}))
    page.set_input_files("input[name=code_file]", str(archive))
    page.click("button:has-text('Create function')")
    expect(page).to_have_url(re.compile(r"/functions/[0-9a-f-]{36}/"))
    expect(page.locator("h1")).to_contain_text("browser-fn")

    page.click("a:has-text('Test')")
    page.fill("textarea[name=event]", '{"who": "ada"}')
    page.click("button:has-text('Invoke')")

    logs = page.locator("pre[id^=logs-]")
    status = page.locator("#test-result [data-status]")
    # The first line shows while the handler still sleeps.
    expect(logs).to_contain_text("step one for ada")
    assert status.get_attribute("data-status") in ("queued", "running")
    assert "step two" not in logs.inner_text()

    expect(status).to_have_attribute("data-status", "succeeded")
    expect(logs).to_contain_text("step two")
    expect(page.locator("#test-result")).to_contain_text("hello ada")
    expect(page.locator("#test-result")).to_contain_text("Billed Duration")


def test_it_shows_a_form_error_and_stores_nothing(page, stack):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    page.goto("/functions/new/")
    page.fill("input[name=name]", "bad name!")
    page.click("button:has-text('Create function')")
    expect(page.locator(".error").first).to_contain_text("1 to 64 letters")
    assert stack.rows("Function.objects.filter(name='bad name!').values('id')") == []
