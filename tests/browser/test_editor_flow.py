"""Editing a multi-file function in the Code tab, in Debian's Chromium:
upload a zip whose handler imports helpers/util.py, open util.py from the
file tree in CodeMirror, type a change (Tab and Shift+Tab indent), see the
unsaved-edits warning when leaving, save with Ctrl+S, invoke from the Test
tab and see the new behaviour; a screenshot goes to docs/editor.png."""

import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.integration.helpers import zip_of

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
HANDLER = '''from helpers import util


def lambda_handler(event, context):
    print("greeting", event.get("who"))
    return {"greeting": util.greet(event.get("who", "nobody"))}
'''
UTIL = '''def greet(who):
    return "hello " + who
'''

CM = "document.querySelector('.CodeMirror').CodeMirror"


def cm_value(page) -> str:
    return page.evaluate(f"{CM}.getValue()")


def test_it_edits_a_file_of_a_multi_file_function_and_runs_it(page, stack, tmp_path):
    login(page)
    page.goto("/functions/new/")
    page.fill("input[name=name]", "editor-fn")
    page.fill("input[name=timeout_s]", "10")
    page.check("input[name=code_source][value=zip]")
    archive = tmp_path / "code.zip"
    archive.write_bytes(zip_of({"lambda_function.py": HANDLER, "helpers/util.py": UTIL}))
    page.set_input_files("input[name=code_file]", str(archive))
    page.click("button:has-text('Create function')")
    expect(page).to_have_url(re.compile(r"/functions/[0-9a-f-]{36}/"))

    # The Code tab opens the handler's module in CodeMirror: numbered lines,
    # Python highlighted; the tree lists the folder and both files.
    tree = page.locator("nav.file-tree")
    expect(tree.locator("li.folder")).to_have_text("helpers/")
    expect(tree.locator("li.file a.active")).to_have_text("lambda_function.py")
    editor = page.locator(".CodeMirror")
    expect(editor).to_be_visible()
    expect(editor.locator(".CodeMirror-linenumber").first).to_be_visible()
    expect(editor.locator(".cm-keyword", has_text="def")).to_have_count(1)
    assert cm_value(page) == HANDLER

    # Open helpers/util.py from the tree.
    tree.locator("a", has_text="util.py").click()
    expect(page).to_have_url(re.compile(r"file=helpers(%2F|/)util.py"))
    expect(page.locator(".editor-head code")).to_have_text("helpers/util.py")
    expect(editor.locator(".cm-string").first).to_have_text('"hello "')
    expect(page.locator(".CodeMirror")).to_have_count(1)
    expect(page.locator("textarea[name=source]")).to_be_hidden()
    assert cm_value(page) == UTIL

    # Type a change: replace "hello " with "hola, " through the keyboard.
    page.evaluate(f"""(() => {{
        const cm = {CM};
        const start = cm.getValue().indexOf('hello ');
        cm.focus();
        cm.setSelection(cm.posFromIndex(start), cm.posFromIndex(start + 'hello '.length));
    }})()""")
    page.keyboard.type("hola, ")
    # Tab indents the line by four spaces (Python), Shift+Tab takes them away.
    page.evaluate(f"{CM}.setCursor({{line: 0, ch: 0}})")
    page.keyboard.press("Tab")
    assert page.evaluate(f"{CM}.getLine(0)") == "    def greet(who):"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(f"{CM}.getLine(0)") == "def greet(who):"
    edited = UTIL.replace("hello ", "hola, ")
    assert cm_value(page) == edited
    expect(page.locator(".editor-status")).to_have_text("Unsaved changes")

    # Leaving for another tab asks first; staying keeps the text.
    dialogs = []

    def dismiss(dialog):
        dialogs.append((dialog.type, dialog.message))
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("nav.tabs a:has-text('Test')")
    expect(page.locator(".CodeMirror")).to_be_visible()
    assert dialogs and dialogs[0][0] == "confirm" and "unsaved changes" in dialogs[0][1]
    assert "tab=test" not in page.url
    assert cm_value(page) == edited

    # So does leaving the page (beforeunload).
    page.once("dialog", dismiss)
    page.click("header.top a.brand")
    page.wait_for_timeout(300)  # a navigation that was not cancelled would leave the page
    assert len(dialogs) == 2 and dialogs[1][0] == "beforeunload"
    assert "/functions/" in page.url
    assert cm_value(page) == edited

    # Ctrl+S saves: a new bundle with util.py changed.
    page.locator(".CodeMirror textarea").focus()
    page.keyboard.press("Control+s")
    expect(page.locator("#tab .messages")).to_contain_text("Saved helpers/util.py.")
    expect(page.locator(".editor-status")).to_have_text("")
    assert cm_value(page) == edited
    # One editor, the plain textarea hidden behind it (also after htmx's swap).
    expect(page.locator(".CodeMirror")).to_have_count(1)
    expect(page.locator("textarea[name=source]")).to_be_hidden()
    page.screenshot(path=str(DOCS / "editor.png"), full_page=True)

    # Nothing unsaved: the Test tab opens without a question.
    page.on("dialog", dismiss)
    page.click("nav.tabs a:has-text('Test')")
    expect(page).to_have_url(re.compile(r"tab=test"))
    assert len(dialogs) == 2
    page.fill("textarea[name=event]", '{"who": "ada"}')
    page.click("button:has-text('Invoke')")
    status = page.locator("#test-result [data-status]")
    expect(status).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#test-result")).to_contain_text("hola, ada")


def test_it_adds_folds_deletes_and_refuses_a_stale_save_keeping_the_text(page, stack, tmp_path):
    login(page)
    client = stack.lambda_client()
    client.create_function(
        FunctionName="editor-files", Runtime="python3.11", Role="arn:aws:iam::123456789012:role/x",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_of({"lambda_function.py": HANDLER, "helpers/util.py": UTIL})},
    )
    fn_id = stack.rows("Function.objects.filter(name='editor-files').values_list('id', flat=True)")[0]
    page.goto(f"/functions/{fn_id}/?tab=code")
    expect(page.locator(".CodeMirror")).to_be_visible()

    # Open util.py, then the back button brings the handler back, in an editor.
    page.locator("nav.file-tree a", has_text="util.py").click()
    expect(page.locator(".editor-head code")).to_have_text("helpers/util.py")
    page.go_back()
    expect(page.locator(".editor-head code")).to_have_text("lambda_function.py")
    expect(page.locator(".CodeMirror")).to_have_count(1)
    expect(page.locator("textarea[name=source]")).to_be_hidden()
    assert cm_value(page) == HANDLER

    # An empty name, or an absolute one, is refused under the box, in words
    # about the file name (not a zip entry), and adds nothing.
    page.fill(".new-file input[name=path]", "")
    page.click(".new-file button:has-text('Add')")
    expect(page.locator(".new-file .error")).to_have_text("Enter a file name, like src/app.py.")
    page.fill(".new-file input[name=path]", "/abs.py")
    page.click(".new-file button:has-text('Add')")
    expect(page.locator(".new-file .error")).to_have_text(
        "The file name '/abs.py' is an absolute path; use a path inside the code folder, like src/app.py."
    )
    expect(page.locator("nav.file-tree li.file")).to_have_count(2)

    # A new file in the helpers folder (its path normalised) opens at once, empty.
    page.fill(".new-file input[name=path]", "x/../helpers/extra.py")
    page.click(".new-file button:has-text('Add')")
    expect(page.locator("#tab .messages")).to_contain_text("Added helpers/extra.py.")
    expect(page.locator("nav.file-tree a.active")).to_have_text("extra.py")
    assert cm_value(page) == ""

    # Folding the folder hides its files; unfolding shows them again.
    toggle = page.locator("nav.file-tree .folder-toggle", has_text="helpers/")
    toggle.click()
    expect(page.locator("nav.file-tree li[data-path='helpers/util.py']")).to_be_hidden()
    toggle.click()
    expect(page.locator("nav.file-tree li[data-path='helpers/util.py']")).to_be_visible()

    # Deleting it asks, then a new bundle goes without it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete file')")
    expect(page.locator("#tab .messages")).to_contain_text("Deleted helpers/extra.py.")
    expect(page.locator("nav.file-tree li[data-path='helpers/extra.py']")).to_have_count(0)

    # Someone changes the code through the Lambda API while util.py is open.
    page.locator("nav.file-tree a", has_text="util.py").click()
    expect(page.locator(".editor-head code")).to_have_text("helpers/util.py")
    client.update_function_code(
        FunctionName="editor-files",
        ZipFile=zip_of({"lambda_function.py": HANDLER, "helpers/util.py": UTIL.replace("hello", "hey")}),
    )
    page.evaluate(f"{CM}.focus(); {CM}.setCursor({CM}.lineCount() - 1, 0)")
    page.keyboard.type("# my precious edit")
    page.keyboard.press("Control+s")
    expect(page.locator(".editor-pane .error")).to_contain_text("The code changed since you opened it")
    # Nothing lost: the text is still in the editor, still unsaved.
    assert cm_value(page).endswith("# my precious edit")
    expect(page.locator(".editor-status")).to_have_text("Unsaved changes")
    # And the stored code is the API's, untouched by the refused save.
    stored = zipfile.ZipFile(io.BytesIO(page.request.get(f"/functions/{fn_id}/code.zip").body()))
    assert stored.read("helpers/util.py").decode() == UTIL.replace("hello", "hey")
