"""An async call through an alias, seen in Debian's Chromium: boto3 sends
an Event invoke to `name:blue` with a ClientContext; the invocation's page
shows the version that ran and the alias it was called through, and its
result says the function saw the alias's ARN and the client context. An
SNS event for an alias deleted meanwhile is shown as never run, with why,
no executed version and no REPORT line, and its dead letter names the
qualifier."""

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


def test_an_event_for_a_deleted_alias_is_shown_as_never_run(page, stack):
    from tests.integration.helpers import aws_client

    client = stack.lambda_client()
    create(client, "alias-gone-browser", SOURCE, Publish=True)
    alias = client.create_alias(FunctionName="alias-gone-browser", Name="live", FunctionVersion="1")
    sns = aws_client(stack, "sns")
    topic = sns.create_topic(Name="alias-gone-browser")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=alias["AliasArn"])
    client.delete_alias(FunctionName="alias-gone-browser", Name="live")
    sns.publish(TopicArn=topic, Message="hi")
    rows = settle(lambda: stack.rows(
        "Invocation.objects.filter(function__name='alias-gone-browser')"
        ".values_list('request_id', 'status')"), lambda r: r and r[0][1] == "failed")
    request_id = rows[0][0]

    login(page)
    page.goto(f"/invocations/{request_id}/")
    reason = "Never ran: alias 'live' of function alias-gone-browser does not exist"
    expect(page.locator("[data-never-ran]")).to_have_text(reason)
    expect(page.locator(".executed-version")).to_have_text("—")
    expect(page.locator("[data-qualifier]")).to_have_text("as live")
    expect(page.locator("pre.report")).to_have_count(0)
    page.goto("/dead-letters/")
    row = page.locator("tr", has_text=str(request_id)[:8])
    expect(row.locator("td.qualifier")).to_have_text("live")
    expect(row.locator("td.condition")).to_have_text(reason)
