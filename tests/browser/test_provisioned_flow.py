"""Provisioned concurrency in Debian's Chromium: a function's Environments
tab, open while boto3 configures provisioned concurrency on an alias, shows
the environment the node keeps initialised as `provisioned` (live, no
reload), counts the call the alias sends to it, and shows it go when the
configuration is deleted."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.integration.helpers import create, invoke_json

pytestmark = pytest.mark.browser


def test_a_provisioned_environment_in_the_environments_tab(page, stack):
    client = stack.lambda_client()
    create(client, "prov-browser", "def handler(e, c):\n    return {'version': c.function_version}\n",
           Publish=True)
    client.create_alias(FunctionName="prov-browser", Name="live", FunctionVersion="1")
    fn_id = stack.rows("Function.objects.filter(name='prov-browser').values_list('id', flat=True)")[0]

    login(page)
    page.goto(f"/functions/{fn_id}/?tab=environments")
    expect(page.locator("#envs-live")).to_have_attribute("data-live", "on")
    rows = page.locator(f"tbody#envs-fn-{fn_id} tr")
    expect(rows).to_have_count(0)

    client.put_provisioned_concurrency_config(FunctionName="prov-browser", Qualifier="live",
                                              ProvisionedConcurrentExecutions=1)
    provisioned = page.locator(f"tbody#envs-fn-{fn_id} tr[data-state=provisioned]")
    expect(provisioned).to_have_count(1, timeout=90_000)
    expect(provisioned.locator(".env-state")).to_have_text("provisioned")
    env_id = provisioned.get_attribute("data-env")

    resp, body = invoke_json(client, "prov-browser:live", {})
    assert body == {"version": "1"} and resp["ExecutedVersion"] == "1"
    served = page.locator(f"tbody#envs-fn-{fn_id} tr[data-env='{env_id}']")
    expect(served).to_have_attribute("data-calls", "1")
    expect(served).to_have_attribute("data-state", "provisioned")
    expect(served).to_contain_text(re.compile(r"idle \d+"))

    client.delete_provisioned_concurrency_config(FunctionName="prov-browser", Qualifier="live")
    expect(page.locator(f"tr.env[data-env='{env_id}']")).to_have_count(0, timeout=60_000)
