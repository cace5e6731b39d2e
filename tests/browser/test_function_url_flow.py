"""A function's configuration, URL and tags through the Configuration tab
in Debian's Chromium: set the new settings (ephemeral storage, JSON logs,
tracing), create a function URL with CORS and call it (the page's link, and
a cross-origin fetch from another page), tag the function, and delete the
URL."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function

pytestmark = pytest.mark.browser

HANDLER = '''
import json

def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"path": event["rawPath"], "query": event.get("queryStringParameters"),
                                "method": event["requestContext"]["http"]["method"]})}
'''


def test_it_configures_a_function_url_and_tags_from_the_console(page, stack):
    login(page)
    detail = new_function(page, "url-flow-fn", HANDLER, 5)
    page.goto(detail + "?tab=configuration")

    # The new settings, saved with the rest of the configuration.
    page.fill("input[name=ephemeral_storage_mb]", "1024")
    page.select_option("select[name=log_format]", "JSON")
    page.select_option("select[name=application_log_level]", "DEBUG")
    page.select_option("select[name=tracing_mode]", "Active")
    page.click("button:has-text('Save configuration')")
    expect(page.locator(".messages").first).to_contain_text("Saved the configuration")
    saved = stack.rows("Function.objects.filter(name='url-flow-fn').values("
                       "'ephemeral_storage_mb', 'logging_config', 'tracing_mode')")[0]
    assert saved["ephemeral_storage_mb"] == 1024 and saved["tracing_mode"] == "Active"
    assert saved["logging_config"]["LogFormat"] == "JSON"
    assert saved["logging_config"]["ApplicationLogLevel"] == "DEBUG"
    # A size out of range is refused in the form, in the service's words.
    page.fill("input[name=ephemeral_storage_mb]", "20000")
    page.click("button:has-text('Save configuration')")
    expect(page.locator(".field-ephemeral_storage_mb .error")).to_contain_text("between 512 and 10240")

    # Create the URL with CORS for another origin.
    page.goto(detail + "?tab=configuration")
    section = page.locator("#fn-url-tags")
    expect(section).to_contain_text("No URL")
    page.fill("#fn-url-tags input[name=allow_origins]", "http://localhost:9")
    page.fill("#fn-url-tags input[name=allow_methods]", "GET, POST")
    page.click("button:has-text('Create function URL')")
    expect(section.locator(".messages")).to_contain_text("Created the function URL")
    link = section.locator(".function-url-link a")
    url = link.get_attribute("href")
    assert url.startswith(stack.url + "/lambda-url/") and url.endswith("/")

    # Call it the way a browser would: the link itself, then a preflighted
    # cross-origin fetch answered by the URL's CORS.
    answer = page.request.get(url + "hello?x=1")
    assert answer.status == 200
    assert answer.json() == {"path": "/hello", "query": {"x": "1"}, "method": "GET"}
    preflight = page.request.fetch(url, method="OPTIONS", headers={
        "Origin": "http://localhost:9", "Access-Control-Request-Method": "POST"})
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:9"
    assert preflight.headers["access-control-allow-methods"] == "GET,POST"
    # The page's head shows it on every tab.
    page.goto(detail + "?tab=code")
    expect(page.locator(".fn-url a")).to_have_attribute("href", url)
    page.goto(url + "from-browser")
    assert json.loads(page.locator("body").inner_text())["path"] == "/from-browser"

    # Tags: added, shown, one removed, a bad one refused with the rule.
    page.goto(detail + "?tab=configuration")
    page.fill("#fn-url-tags textarea[name=tags]", "team=web\nenv=dev")
    page.click("button:has-text('Save tags')")
    expect(section.locator(".tag-list")).to_contain_text("team")
    expect(section.locator(".tag-list")).to_contain_text("dev")
    assert stack.rows("Function.objects.filter(name='url-flow-fn').values_list('tags', flat=True)")[0] == {
        "team": "web", "env": "dev"}
    page.fill("#fn-url-tags textarea[name=tags]", "team=web\naws:owner=me")
    page.click("button:has-text('Save tags')")
    expect(section.locator(".field-tags .error")).to_contain_text("aws:")
    assert stack.rows("Function.objects.filter(name='url-flow-fn').values_list('tags', flat=True)")[0] == {
        "team": "web", "env": "dev"}
    page.fill("#fn-url-tags textarea[name=tags]", "team=web")
    page.click("button:has-text('Save tags')")
    expect(section.locator(".tag-list")).not_to_contain_text("env")

    # Delete the URL: it stops answering.
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete function URL')")
    expect(section.locator(".messages")).to_contain_text("Deleted the function URL")
    expect(section).to_contain_text("No URL")
    assert page.request.get(url).status == 404
