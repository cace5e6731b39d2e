"""An async call through an alias, seen in Debian's Chromium: boto3 sends
an Event invoke to `name:blue` with a ClientContext; the invocation's page
shows the version that ran and the alias it was called through, and its
result says the function saw the alias's ARN and the client context."""

import base64
import json

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.integration.helpers import create, settle

pytestmark = pytest.mark.browser

SOURCE = '''def handler(event, context):
    cc = context.client_context
    return {"arn": context.invoked_function_arn, "tenant": cc.custom["tenant"] if cc else None}
'''


def test_an_async_alias_call_shows_its_alias(page, stack):
    client = stack.lambda_client()
    create(client, "alias-async-browser", SOURCE, Publish=True)
    alias = client.create_alias(FunctionName="alias-async-browser", Name="blue", FunctionVersion="1")
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t-9"}}).encode()).decode()
    client.invoke(FunctionName="alias-async-browser:blue", InvocationType="Event", Payload=b"{}",
                  ClientContext=context)
    rows = settle(lambda: stack.rows(
        "Invocation.objects.filter(function__name='alias-async-browser')"
        ".values_list('request_id', 'status')"), lambda r: r and r[0][1] == "succeeded")
    request_id = rows[0][0]

    login(page)
    page.goto(f"/invocations/{request_id}/")
    expect(page.locator("[data-qualifier]")).to_have_text("via blue")
    expect(page.get_by_text(alias["AliasArn"]).first).to_be_visible()
    expect(page.get_by_text("t-9").first).to_be_visible()
