"""Choosing a Node.js runtime on the create page, in Debian's Chromium: the
starter code and handler follow the runtime; the function is created,
invoked from the Test tab, and its console.log line shows in Lambda's form."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login

pytestmark = pytest.mark.browser


def test_it_creates_and_invokes_a_node_function_from_the_starter(page, stack):
    login(page)
    page.goto("/functions/new/")
    source = page.locator("textarea[name=source]")
    handler = page.locator("input[name=handler]")
    expect(source).to_have_value(re.compile(r"def lambda_handler"))
    expect(handler).to_have_value("lambda_function.lambda_handler")

    page.select_option("select[name=runtime]", "nodejs22.x")
    expect(source).to_have_value(re.compile(r"export const handler = async"))
    expect(handler).to_have_value("index.handler")
    # Back to Python: the untouched starter follows again.
    page.select_option("select[name=runtime]", "python3.13")
    expect(handler).to_have_value("lambda_function.lambda_handler")
    page.select_option("select[name=runtime]", "nodejs22.x")

    page.fill("input[name=name]", "node-starter")
    page.fill("input[name=timeout_s]", "10")
    page.check("input[name=code_source][value=inline]")
    page.click("button:has-text('Create function')")
    expect(page).to_have_url(re.compile(r"/functions/[0-9a-f-]{36}/"))
    expect(page.locator("h1")).to_contain_text("node-starter")
    expect(page.locator("body")).not_to_contain_text("Warning:")
    assert stack.rows(
        "Function.objects.filter(name='node-starter').values_list('runtime', 'handler', 'editable_file')"
    ) == [["nodejs22.x", "index.handler", "index.mjs"]]

    page.click("a:has-text('Test')")
    page.fill("textarea[name=event]", '{"who": "ada"}')
    page.click("button:has-text('Invoke')")
    status = page.locator("#test-result [data-status]")
    expect(status).to_have_attribute("data-status", "succeeded")
    logs = page.locator("pre[id^=logs-]")
    expect(logs).to_contain_text(re.compile(r"Z\t[0-9a-f-]{36}\tINFO\tHello from node-starter"))
    expect(page.locator("#test-result")).to_contain_text("Hello, world!")
