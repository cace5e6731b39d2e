"""Versions and aliases in Debian's Chromium: create a function, publish
version 1, change its environment and publish version 2, create alias
`live` on version 1, refuse a bad weight in the form, move the alias's
weights (version 2 gets every call), and invoke the alias from the Test
tab, reading the version that ran in the result panel and the
Invocations tab.

The function answers its environment variable WHICH ("one", "two", then
"latest" for $LATEST): a version runs its frozen configuration."""


import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function

pytestmark = pytest.mark.browser

SOURCE = '''import os

def lambda_handler(event, context):
    return {"which": os.environ["WHICH"]}
'''


def set_which(page, value: str) -> None:
    page.click("nav.tabs a:has-text('Configuration')")
    page.fill("textarea[name=environment]", f"WHICH={value}")
    page.click("button:has-text('Save configuration')")
    expect(page.locator("#tab .messages")).to_contain_text("Saved the configuration.")


def publish(page, description: str, number: int) -> None:
    page.click("nav.tabs a:has-text('Versions')")
    page.fill("#publish-form input[name=description]", description)
    page.click("#publish-form button:has-text('Publish new version')")
    expect(page.locator("#tab .messages")).to_contain_text(f"Published version {number}.")
    expect(page.locator(f"table.versions tr[data-version='{number}']")).to_contain_text(description)


def live_alias(stack) -> list:
    """[[FunctionVersion, RoutingConfig]] of versioned:live as stored."""
    return stack.rows(
        "__import__('functions.models', fromlist=['Alias']).Alias.objects"
        ".filter(name='live', function__name='versioned').values_list('function_version', 'routing_config')"
    )


def fn_url(stack) -> str:
    fn_id = stack.rows("Function.objects.filter(name='versioned').values_list('id', flat=True)")[0]
    return f"/functions/{fn_id}/"


def test_it_publishes_versions_and_moves_an_alias(page, stack):
    login(page)
    new_function(page, "versioned", SOURCE, timeout_s=10)
    set_which(page, "one")
    publish(page, "first", 1)
    # Nothing changed: Lambda publishes nothing, and the page says so.
    page.click("#publish-form button:has-text('Publish new version')")
    expect(page.locator("#tab .messages")).to_contain_text("Nothing changed since version 1")
    expect(page.locator("table.versions tr.version")).to_have_count(1)
    set_which(page, "two")
    publish(page, "second", 2)
    set_which(page, "latest")

    page.click("nav.tabs a:has-text('Versions')")
    page.fill("#alias-form input[name=new-alias-name]", "live")
    page.select_option("#alias-form select[name=new-alias-function_version]", "1")
    page.click("#alias-form button:has-text('Create alias')")
    expect(page.locator("#tab .messages")).to_contain_text("Created the alias live.")
    row = page.locator("table.aliases tr[data-alias=live]")
    expect(row.locator(".alias-routing")).to_have_text("version 1: 100 %")

    # The form reads in words, not the API's AdditionalVersionWeights.
    expect(page.locator("#alias-form")).to_contain_text("Weight of the second version, %")
    expect(page.locator("#tab")).not_to_contain_text("AdditionalVersionWeights")

    # A share without a second version is refused in the form; nothing changes.
    row.locator("input[name=alias-live-routing_weight]").fill("30")
    row.locator("button:has-text('Save weights')").click()
    row = page.locator("table.aliases tr[data-alias=live]")
    expect(row.locator(".error")).to_contain_text("Choose the second version")
    stored = live_alias(stack)
    assert stored == [["1", {}]]

    # Move the weights: version 2 takes 100 % of the calls.
    row.locator("select[name=alias-live-routing_version]").select_option("2")
    row.locator("input[name=alias-live-routing_weight]").fill("100")
    row.locator("button:has-text('Save weights')").click()
    expect(page.locator("#tab .messages")).to_contain_text("Saved the alias live.")
    row = page.locator("table.aliases tr[data-alias=live]")
    expect(row.locator(".alias-routing")).to_have_text("version 1: 0 %, version 2: 100 %")
    stored = live_alias(stack)
    assert stored == [["1", {"AdditionalVersionWeights": {"2": 1.0}}]]

    # A route on the alias, through the Triggers tab's form.
    page.click("nav.tabs a:has-text('Triggers')")
    page.click("summary:has-text('Add an HTTP route')")
    page.fill("#route-form input[name=path]", "/versioned/live")
    page.select_option("#route-form select[name=qualifier]", "live")
    page.click("#route-form button:has-text('Add route')")
    expect(page.locator("#triggers .messages")).to_contain_text("Added the route GET /versioned/live")
    expect(page.locator("#trigger-list")).to_contain_text("runs versioned:live")

    # The Test tab offers the alias and the versions to run.
    page.click("nav.tabs a:has-text('Test')")
    options = page.locator("select[name=qualifier] option")
    expect(options).to_have_text(
        ["$LATEST (unqualified)", "alias live → 1 (0%), 2 (100%)", "version 2", "version 1"]
    )


def test_it_invokes_the_alias_from_the_test_tab_and_shows_the_version_that_ran(page, stack):
    login(page)
    page.goto(fn_url(stack) + "?tab=test")
    page.select_option("select[name=qualifier]", "live")
    page.fill("textarea[name=event]", "{}")
    page.click("button:has-text('Invoke')")
    panel = page.locator("#test-result")
    expect(panel.locator(".executed-version")).to_have_text("2")
    expect(panel.locator("pre.result")).to_contain_text('"which": "two"')

    # The same through version 1 directly, and $LATEST unqualified.
    page.goto(fn_url(stack) + "?tab=test")
    page.select_option("select[name=qualifier]", "1")
    page.click("button:has-text('Invoke')")
    expect(page.locator("#test-result .executed-version")).to_have_text("1")
    expect(page.locator("#test-result pre.result")).to_contain_text('"which": "one"')

    page.click("nav.tabs a:has-text('Invocations')")
    versions = page.locator("#inv-rows td.inv-version")
    expect(versions).to_have_text(["1", "2"])

    # The route on the alias runs version 2 too (its whole share).
    answer = page.request.get("/http/versioned/live")
    assert answer.status == 200 and answer.json() == {"which": "two"}
    page.reload()
    expect(page.locator("#inv-rows td.inv-version")).to_have_text(["2", "1", "2"])

    # A function URL on the alias (boto3): the Triggers tab lists it with its
    # qualifier, and its calls are labelled "Function URL", not "HTTP route".
    lam = stack.lambda_client()
    url = lam.create_function_url_config(FunctionName="versioned", Qualifier="live",
                                         AuthType="NONE")["FunctionUrl"]
    answer = page.request.get(url)
    assert answer.status == 200 and answer.json() == {"which": "two"}
    page.click("nav.tabs a:has-text('Triggers')")
    url_row = page.locator("#trigger-list tr.trigger", has_text="Function URL")
    expect(url_row).to_contain_text("runs versioned:live")
    expect(url_row).to_contain_text(url.split("://", 1)[1].split("/", 1)[1])
    page.click("nav.tabs a:has-text('Invocations')")
    expect(page.locator("#inv-rows tr").first).to_contain_text("Function URL")
    expect(page.locator("#inv-rows")).to_contain_text("HTTP route")
