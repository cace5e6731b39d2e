"""Event invoke configs per qualifier in Debian's Chromium: a version and
an alias with its own async settings (set through boto3) are listed
read-only on the Configuration tab; the form there edits the unqualified
function's settings and leaves the alias's as they were. And a function
whose dependency build failed shows, on its page, that its events wait
(an SNS event held, counted)."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function
from tests.integration.helpers import aws_client, wait_for, zip_of

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


def test_a_failed_function_page_counts_its_held_events(page, stack):
    lam = stack.lambda_client()
    made = lam.create_function(
        FunctionName="eic-browser-held", Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Timeout=5,
        Code={"ZipFile": zip_of({"app.py": SOURCE.replace("lambda_handler", "handler"),
                                 "requirements.txt": "stratus-no-such-package-xyz\n"})},
    )
    wait_for(lambda: lam.get_function_configuration(FunctionName="eic-browser-held")["State"] == "Failed",
             timeout=240)
    sns = aws_client(stack, "sns")
    topic = sns.create_topic(Name="eic-browser-held")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=made["FunctionArn"])
    sns.publish(TopicArn=topic, Message="waits")
    wait_for(lambda: stack.rows(
        "Invocation.objects.filter(function__name='eic-browser-held', status='queued').values_list('pk')"))
    fn_id = stack.rows("Function.objects.filter(name='eic-browser-held').values_list('id', flat=True)")[0]
    login(page)
    page.goto(f"/functions/{fn_id}/")
    expect(page.locator("#fn-build .build-state")).to_have_text("State: Failed")
    expect(page.locator("#fn-build .build-held")).to_contain_text("HTTP routes answer 503")
    expect(page.locator("#fn-build .held-count")).to_have_text("1")
