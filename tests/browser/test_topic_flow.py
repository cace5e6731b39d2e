"""Subscribing a function to a topic through the Triggers tab in Debian's
Chromium: create a topic, subscribe the function in the form, publish on
the topic page, and see the invocation succeed in the Invocations tab."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HANDLER = '''
def lambda_handler(event, context):
    sns = event["Records"][0]["Sns"]
    return {"got": sns["Message"], "color": sns["MessageAttributes"]["color"]["Value"]}
'''


def test_it_subscribes_a_function_through_the_form_and_publishes_to_it(page, stack):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto("/topics/")
    page.fill("input[name=name]", "browser-news")
    page.click("button:has-text('Create topic')")
    expect(page).to_have_url(re.compile(r"/topics/[0-9a-f-]{36}/"))
    topic_url = page.url

    page.goto("/functions/new/")
    page.fill("input[name=name]", "topic-fn")
    page.check("input[name=code_source][value=inline]")
    page.fill("textarea[name=source]", HANDLER)
    page.click("button:has-text('Create function')")
    expect(page).to_have_url(re.compile(r"/functions/[0-9a-f-]{36}/"))
    fn_url = page.url.split("?")[0]

    page.click("nav.tabs a:has-text('Triggers')")
    page.click("summary:has-text('Subscribe to a topic')")
    # A bad filter policy is refused in the tab, and nothing is saved.
    page.locator("#subscribe-form select[name=topic]").select_option(label="browser-news")
    page.locator("#subscribe-form textarea[name=filter_policy]").fill('{"color": "red"}')
    page.locator("#subscribe-form button:has-text('Subscribe')").click()
    expect(page.locator("#subscribe-form .error")).to_contain_text("must be a non-empty list")
    expect(page.locator("#trigger-list")).not_to_contain_text("browser-news")

    page.locator("#subscribe-form textarea[name=filter_policy]").fill('{"color": ["red"]}')
    page.locator("#subscribe-form button:has-text('Subscribe')").click()
    notice = "Subscribed topic-fn to the topic browser-news."
    expect(page.locator("#triggers .messages")).to_contain_text(notice)
    row = page.locator("#trigger-list tr.trigger", has_text="browser-news")
    expect(row).to_contain_text("Topic subscription")
    expect(row).to_contain_text('filter {"color": ["red"]}')

    page.goto(topic_url)
    page.fill("#publish textarea[name=message]", "hello from the topic")
    page.fill("#publish textarea[name=attributes]", "color=red")
    page.click("#publish button:has-text('Publish')")
    expect(page.locator(".messages")).to_contain_text("to 1 subscriber(s)")

    page.goto(fn_url + "?tab=invocations")
    # A cold start can take a while; the row's badge updates live.
    row = page.locator("table.invocations tbody tr")
    expect(row.locator("[data-status=succeeded]")).to_have_count(1, timeout=90_000)
    expect(row).to_contain_text("Topic")
    row.locator("a").click()
    expect(page.locator("body")).to_contain_text("hello from the topic")
