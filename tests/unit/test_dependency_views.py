"""The console around dependency builds: the function page's Dependencies
panel (pending, failed, done), the Code tab's note, the Test tab refusing
to invoke a Pending function, an upload while a build runs refused in
words, and the panel fragment the worker sends live."""

import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from functions import build_live, dependencies, dependency_build, dependency_install, service
from functions.models import Function
from tests.integration.helpers import zip_of

HX = {"HTTP_HX_REQUEST": "true"}
HANDLER = "import tabulate\n\ndef handler(event, context):\n    return 1\n"


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    ids = []
    monkeypatch.setattr(dependencies, "queue", lambda build_id: ids.append(str(build_id)))
    return ids


@pytest.fixture
def installer(monkeypatch):
    script = {"text": "import os; os.makedirs('_packages/t'); open('_packages/t/__init__.py', 'w')"}
    monkeypatch.setattr(dependency_install, "installer_for", lambda runtime, manifest, folder: (
        dependency_install.Installer("fake", [sys.executable, "-c", script["text"]], "_packages", {}, "")))
    return script


@pytest.fixture
def pending(team):
    return service.create_function(
        team, name="deps", handler="app.handler",
        zip_bytes=zip_of({"app.py": HANDLER, "requirements.txt": "tabulate\n"}),
    )


def page(client, fn, tab="code"):
    return client.get(reverse("fn-detail", args=[fn.id]) + f"?tab={tab}").content.decode()


def test_the_page_shows_a_pending_build_and_the_code_tab_says_so(client, users, pending):
    client.force_login(users["member"])
    body = page(client, pending)
    assert 'id="fn-build"' in body and "State: Pending" in body
    assert "Installing the dependencies in <code>requirements.txt</code>" in body
    assert 'id="code-build-note"' in body and "A dependency build is running" in body
    # The Code tab edits the uploaded files.
    assert "requirements.txt" in body


def test_the_test_tab_refuses_to_invoke_a_pending_function(client, users, pending, handed_over):
    client.force_login(users["member"])
    r = client.post(reverse("fn-invoke", args=[pending.id]), {"event": "{}"}, **HX)
    assert "currently in the following state: Pending" in r.content.decode()
    assert handed_over.calls == []


def test_an_upload_while_building_is_refused_in_words(client, users, pending):
    client.force_login(users["member"])
    upload = SimpleUploadedFile("code.zip", zip_of({"app.py": "def handler(e, c): pass\n"}))
    r = client.post(reverse("fn-code-upload", args=[pending.id]), {"code_file": upload}, **HX)
    assert "The function is currently in the following state: Pending" in r.content.decode()
    assert Function.objects.get(pk=pending.pk).code_id == pending.code_id


def test_a_failed_build_shows_its_reason_and_log(client, users, pending, installer):
    installer["text"] = "import sys; print('ERROR: No matching distribution found for tabulate'); sys.exit(1)"
    dependency_build.run(str(pending.last_build_id))
    client.force_login(users["member"])
    body = page(client, pending, "configuration")
    assert "State: Failed" in body
    assert "No matching distribution found for tabulate" in body
    assert 'class="error build-reason"' in body


def test_a_finished_build_is_shown_folded_and_the_note_hidden(client, users, pending, installer):
    dependency_build.run(str(pending.last_build_id))
    client.force_login(users["member"])
    body = page(client, pending)
    assert "State: Active" in body and "are installed beside the code" in body
    assert '<details class="build-log-box">' in body
    assert 'id="code-build-note" class="notice build-running" hidden' in body


def test_the_live_fragment_swaps_the_panel_and_the_note_out_of_band(pending):
    fn = Function.objects.select_related("last_build").get(pk=pending.pk)
    html = build_live.render(fn, log_text="Collecting tabulate\n", oob=True)
    assert '<section id="fn-build"' in html and html.count('hx-swap-oob="true"') == 2
    assert "Collecting tabulate" in html


def test_a_function_without_builds_has_an_empty_panel(client, users, make_function):
    fn = make_function()
    client.force_login(users["member"])
    body = page(client, fn)
    assert 'id="fn-build"' in body and "Dependencies</h3>" not in body


def test_an_upload_with_requirements_says_the_build_started(client, users, make_function):
    fn = make_function()
    client.force_login(users["member"])
    code = zip_of({"lambda_function.py": HANDLER, "requirements.txt": "tabulate\n"})
    upload = SimpleUploadedFile("code.zip", code)
    r = client.post(reverse("fn-code-upload", args=[fn.id]), {"code_file": upload}, **HX)
    body = r.content.decode()
    assert "Uploaded code.zip. Its dependencies are being installed; the function runs its previous" in body
    assert "Update: InProgress" in body
    assert Function.objects.get(pk=fn.pk).code_id == fn.code_id
