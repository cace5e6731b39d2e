"""Reserved concurrency below provisioned concurrency in Debian's Chromium:
with an alias keeping 1 environment provisioned (boto3), the configuration
tab's reserved concurrency of 0 is refused with the reason beside the field
and nothing is stored (Lambda's PutFunctionConcurrency rule); 1 is saved."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.integration.helpers import create

pytestmark = pytest.mark.browser


def test_a_reservation_below_the_provisioned_concurrency_is_refused_in_the_form(page, stack):
    client = stack.lambda_client()
    create(client, "provmove-browser", "def handler(e, c):\n    return 1\n", Publish=True)
    client.create_alias(FunctionName="provmove-browser", Name="live", FunctionVersion="1")
    client.put_provisioned_concurrency_config(FunctionName="provmove-browser", Qualifier="live",
                                              ProvisionedConcurrentExecutions=1)
    fn_id = stack.rows("Function.objects.filter(name='provmove-browser').values_list('id', flat=True)")[0]

    login(page)
    page.goto(f"/functions/{fn_id}/?tab=configuration")
    page.fill("input[name=reserved_concurrency]", "0")
    page.click("button:has-text('Save asynchronous settings')")
    error = page.locator(".field-reserved_concurrency .error")
    expect(error).to_contain_text("ReservedConcurrentExecutions 0 is less than the function's provisioned "
                                  "concurrency of 1")
    reserved = ("Function.objects.filter(name='provmove-browser')"
                ".values_list('reserved_concurrency', flat=True)")
    assert stack.rows(reserved) == [None]

    page.goto(f"/functions/{fn_id}/?tab=configuration")
    page.fill("input[name=reserved_concurrency]", "1")
    page.click("button:has-text('Save asynchronous settings')")
    expect(page.locator(".messages")).to_contain_text("Saved the asynchronous invocation settings")
    assert stack.rows(reserved) == [1]
    got = client.get_function_concurrency(FunctionName="provmove-browser")
    assert got["ReservedConcurrentExecutions"] == 1
    client.delete_provisioned_concurrency_config(FunctionName="provmove-browser", Qualifier="live")
    # The session's stack is shared and its team's concurrency is small (3):
    # a reservation left behind throttles the tests after this one.
    client.delete_function(FunctionName="provmove-browser")
