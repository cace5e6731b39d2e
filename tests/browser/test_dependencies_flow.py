"""A dependency build watched in Debian's Chromium: create a function,
upload a zip whose requirements.txt names a package the runtime lacks
(tabulate) on the Code tab, see the build running (the function keeps its
previous code meanwhile), its log and the state arrive live over the
function page's websocket (no reload) until it is Active, then invoke it
from the Test tab and see the package's output; a screenshot goes to
docs/dependency-build.png."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_function
from tests.integration.helpers import zip_of

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
FIRST = "def lambda_handler(event, context):\n    return 'no packages yet'\n"
WITH_TABULATE = (
    "import tabulate\n\n\n"
    "def lambda_handler(event, context):\n"
    "    return tabulate.tabulate([['build', 'ok']], tablefmt='plain')\n"
)


def test_it_uploads_requirements_and_watches_the_build_go_active(page, stack, tmp_path):
    login(page)
    fn_url = new_function(page, "deps-browser", FIRST, timeout_s=10)
    page.goto(fn_url + "?tab=code")
    expect(page.locator("#fn-build")).to_be_empty()
    archive = tmp_path / "code.zip"
    archive.write_bytes(zip_of({
        "lambda_function.py": WITH_TABULATE, "requirements.txt": "tabulate==0.9.0\n# browser flow\n",
    }))
    # Every state the panel shows, as the page swaps it in.
    page.evaluate("""() => {
        window.__notReloaded = true;
        window.__states = [];
        new MutationObserver(() => {
            const badge = document.querySelector('#fn-build .build-state');
            const text = badge && badge.textContent.trim();
            if (text && window.__states[window.__states.length - 1] !== text) window.__states.push(text);
        }).observe(document.body, {childList: true, subtree: true, characterData: true});
    }""")
    page.set_input_files("form.upload input[name=code_file]", str(archive))
    page.click("form.upload button:has-text('Upload')")

    panel = page.locator("#fn-build")
    # The state ends Active with the pip log, sent live while the page stays.
    expect(panel.locator(".build-state")).to_have_text("State: Active", timeout=180_000)
    expect(panel.locator(".build-log")).to_contain_text("Successfully installed tabulate-0.9.0")
    expect(panel.locator(".build-log")).to_contain_text("[Stratus] Installed")
    assert page.evaluate("() => window.__notReloaded === true")
    states = page.evaluate("() => window.__states")
    assert states[0] == "Update: InProgress" and states[-1] == "State: Active", states
    panel.locator("summary").click()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "dependency-build.png"), full_page=True)

    # The Code tab lists the uploaded files, not the installed packages.
    page.goto(fn_url + "?tab=code")
    tree = page.locator("nav.file-tree")
    expect(tree.locator("li.file[data-path='requirements.txt']")).to_have_count(1)
    expect(tree.locator("li[data-path^='tabulate']")).to_have_count(0)

    page.goto(fn_url + "?tab=test")
    page.fill("textarea[name=event]", "{}")
    page.click("button:has-text('Invoke')")
    expect(page.locator("#test-result")).to_contain_text("build  ok", timeout=60_000)


def test_a_failed_build_shows_its_reason_and_the_old_code_stays(page, stack, tmp_path):
    login(page)
    fn_url = new_function(page, "deps-browser-bad", FIRST, timeout_s=10)
    page.goto(fn_url + "?tab=code")
    archive = tmp_path / "bad.zip"
    archive.write_bytes(zip_of({
        "lambda_function.py": WITH_TABULATE, "requirements.txt": "stratus-no-such-package-xyz\n",
    }))
    page.set_input_files("form.upload input[name=code_file]", str(archive))
    page.click("form.upload button:has-text('Upload')")
    panel = page.locator("#fn-build")
    expect(panel.locator(".build-state")).to_have_text("Update: Failed", timeout=180_000)
    expect(panel.locator(".build-reason")).to_contain_text("stratus-no-such-package-xyz")
    expect(panel.locator(".build-reason")).to_contain_text("The function keeps its previous code.")
    expect(panel.locator(".build-log")).to_contain_text("No matching distribution found")
    page.goto(fn_url + "?tab=test")
    page.fill("textarea[name=event]", "{}")
    page.click("button:has-text('Invoke')")
    expect(page.locator("#test-result")).to_contain_text("no packages yet", timeout=60_000)
