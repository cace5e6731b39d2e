"""Event invoke configs per qualifier in Debian's Chromium: a version and
an alias with its own async settings (set through boto3) are listed
read-only on the Configuration tab; the form there edits the unqualified
function's settings and leaves the alias's as they were."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function

pytestmark = pytest.mark.browser

SOURCE = "def lambda_handler(event, context):\n    return 'ok'\n"


def test_the_alias_config_is_shown_and_the_form_edits_latest(page, stack):
    lam = stack.lambda_client()
    login(page)
    url = new_function(page, "eic-browser", SOURCE, timeout_s=3)
    version = lam.publish_version(FunctionName="eic-browser")["Version"]
    lam.create_alias(FunctionName="eic-browser", Name="live", FunctionVersion=version)
    lam.put_function_event_invoke_config(
        FunctionName="eic-browser", Qualifier="live", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=600,
    )

    page.goto(f"{url}?tab=configuration")
    row = page.locator(".qualified-async-configs tr[data-qualifier=live]")
    expect(row).to_contain_text("eic-browser:live")
    expect(row.locator("td").nth(1)).to_have_text("1")
    expect(row.locator("td").nth(2)).to_have_text("600")
    assert page.locator(".qualified-async-configs input").count() == 0  # read-only

    page.fill("input[name=maximum_retry_attempts]", "0")
    page.click("button:has-text('Save asynchronous settings')")
    expect(page.locator(".messages")).to_contain_text("Saved the asynchronous invocation settings")
    latest = lam.get_function_event_invoke_config(FunctionName="eic-browser")
    assert latest["MaximumRetryAttempts"] == 0 and latest["FunctionArn"].endswith(":$LATEST")
    live = lam.get_function_event_invoke_config(FunctionName="eic-browser", Qualifier="live")
    assert (live["MaximumRetryAttempts"], live["MaximumEventAgeInSeconds"]) == (1, 600)
    expect(page.locator(".qualified-async-configs tr[data-qualifier=live] td").nth(1)).to_have_text("1")
