"""A custom runtime from the console, in Debian's Chromium: create a
provided.al2023 function whose inline code is a shell `bootstrap` using the
Lambda Runtime API, invoke it from the Test tab, see its log line and the
body it posted."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login

pytestmark = pytest.mark.browser

BOOTSTRAP = """#!/bin/sh
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  EVENT=$(curl -sS -D /tmp/h "$API/invocation/next")
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' /tmp/h | tr -d '\\r' | cut -d' ' -f2)
  echo "custom runtime got $EVENT"
  BODY="{\\"from\\":\\"shell\\",\\"event\\":$EVENT}"
  curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" -d "$BODY"
done
"""


def test_it_creates_and_invokes_a_custom_runtime_function(page, stack):
    login(page)
    page.goto("/functions/new/")
    page.fill("input[name=name]", "browser-custom")
    page.select_option("select[name=runtime]", "provided.al2023")
    page.fill("input[name=handler]", "function.handler")
    page.fill("input[name=timeout_s]", "10")
    page.check("input[name=code_source][value=inline]")
    page.fill("textarea[name=source]", BOOTSTRAP)
    page.click("button:has-text('Create function')")
    expect(page).to_have_url(re.compile(r"/functions/[0-9a-f-]{36}/"))
    expect(page.locator("h1")).to_contain_text("browser-custom")

    page.click("a:has-text('Test')")
    page.fill("textarea[name=event]", '{"who": "ada"}')
    page.click("button:has-text('Invoke')")
    status = page.locator("#test-result [data-status]")
    expect(status).to_have_attribute("data-status", "succeeded")
    expect(page.locator("pre[id^=logs-]")).to_contain_text('custom runtime got {"who": "ada"}')
    expect(page.locator("#test-result")).to_contain_text('"from": "shell"')
