"""Layers in Debian's Chromium: publish a layer from a zip on the Layers
page, attach it to a function on its Configuration tab, invoke the
function from the Test tab and see the layer's module imported; delete
the version and the function still runs."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function
from tests.integration.helpers import zip_of

pytestmark = pytest.mark.browser

SOURCE = '''import browserlib


def lambda_handler(event, context):
    return {"from_layer": browserlib.MESSAGE}
'''


def invoke(page, fn_url: str) -> None:
    page.goto(fn_url + "?tab=test")
    page.click("button:has-text('Invoke')")
    expect(page.locator("#test-result [data-status]")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#test-result")).to_contain_text("hello from the layer")


def test_it_publishes_a_layer_attaches_it_and_the_function_imports_it(page, stack, tmp_path):
    login(page)
    page.click("nav a:has-text('Layers')")
    expect(page.locator("h1")).to_have_text("Layers")
    archive = tmp_path / "layer.zip"
    archive.write_bytes(zip_of({"python/browserlib.py": "MESSAGE = 'hello from the layer'\n"}))
    page.fill("input[name=name]", "browser-lib")
    page.set_input_files("input[name=zip_file]", str(archive))
    page.fill("input[name=description]", "for the browser test")
    page.check("input[name=compatible_runtimes][value='python3.11']")
    page.click("button:has-text('Publish version')")
    expect(page.locator(".messages")).to_contain_text("Published browser-lib version 1")
    row = page.locator("tr[data-layer='browser-lib'][data-version='1']")
    expect(row).to_contain_text("for the browser test")

    fn_url = new_function(page, "layered-in-browser", SOURCE, 10)
    page.goto(fn_url + "?tab=configuration")
    expect(page.locator("#fn-layers")).to_contain_text("No layers.")
    page.select_option("select[name=layer_1]", label="browser-lib:1 (for the browser test)")
    page.click("button:has-text('Save layers')")
    expect(page.locator("#tab")).to_contain_text("Saved the layers (1 layer).")
    expect(page.locator(".fn-layer-list")).to_contain_text(re.compile(r"layer:browser-lib:1"))

    invoke(page, fn_url)

    # The Layers page names the function that uses the version; deleting it
    # leaves the function running on the kept content.
    page.goto("/layers/")
    expect(row).to_contain_text("layered-in-browser")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Delete')").click()
    expect(page.locator(".messages")).to_contain_text("Deleted browser-lib version 1")
    expect(page.locator("tr[data-layer='browser-lib']")).to_have_count(0)
    page.goto(fn_url + "?tab=configuration")
    expect(page.locator("select[name=layer_1] option:checked")).to_have_text("browser-lib:1 (deleted)")
    invoke(page, fn_url)
