"""The create page's runtimes: every offered one, its starter, and how
inline Node code is stored (.mjs for ES modules, .js for CommonJS)."""

import json
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from functions.forms import NODE_HELLO_WORLD
from functions.models import Function
from tests.unit.test_views_functions import _create_data


def test_the_create_page_offers_every_runtime_with_its_starter(client, users, team, settings):
    client.force_login(users["member"])
    r = client.get(reverse("fn-create"))
    html = r.content.decode()
    for runtime in settings.STRATUS_RUNTIMES:
        assert f'<option value="{runtime}"' in html
    found = re.search(r'<script id="runtime-starters" type="application/json">(.*?)</script>', html, re.S)
    starters = json.loads(found.group(1))
    assert starters["nodejs22.x"]["handler"] == "index.handler"
    assert starters["nodejs20.x"]["source"] == NODE_HELLO_WORLD
    assert starters["python3.13"]["handler"] == "lambda_function.lambda_handler"
    assert "runtime-starter.js" in html


@pytest.mark.parametrize("source,stored", [
    (NODE_HELLO_WORLD, "index.mjs"),
    ("exports.handler = async () => 1;\n", "index.js"),
])
def test_inline_node_code_is_stored_as_its_module_kind(client, users, team, source, stored):
    client.force_login(users["member"])
    r = client.post(reverse("fn-create"), _create_data(
        team, runtime="nodejs22.x", handler="index.handler", source=source))
    assert r.status_code == 302
    fn = Function.objects.get(name="made")
    assert (fn.runtime, fn.editable_file) == ("nodejs22.x", stored)


def test_a_single_file_upload_must_fit_the_runtime(client, users, team):
    client.force_login(users["member"])
    upload = SimpleUploadedFile("app.py", b"def handler(e, c):\n    return 1\n")
    r = client.post(reverse("fn-create"), _create_data(
        team, runtime="nodejs20.x", handler="app.handler", code_source="py", source="", code_file=upload))
    assert r.status_code == 200
    assert "Choose a .js or .mjs or .cjs file to upload for nodejs20.x." in r.content.decode()
    assert not Function.objects.exists()
    upload = SimpleUploadedFile("app.js", b"exports.handler = async () => 1;\n")
    r = client.post(reverse("fn-create"), _create_data(
        team, runtime="nodejs20.x", handler="app.handler", code_source="py", source="", code_file=upload))
    assert r.status_code == 302
    assert Function.objects.get(name="made").editable_file == "app.js"


def test_the_code_tab_takes_one_node_file(client, users, team):
    client.force_login(users["member"])
    client.post(reverse("fn-create"), _create_data(
        team, runtime="nodejs22.x", handler="index.handler", source=NODE_HELLO_WORLD))
    fn = Function.objects.get(name="made")
    upload = SimpleUploadedFile("index.mjs", b"export const handler = async () => 2;\n")
    r = client.post(reverse("fn-code-upload", args=[fn.id]), {"code_file": upload})
    assert r.status_code in (200, 302)
    fn.refresh_from_db()
    assert fn.editable_file == "index.mjs"
    with zipfile.ZipFile(fn.code.zip_path) as zf:
        assert zf.read("index.mjs") == b"export const handler = async () => 2;\n"


def test_a_custom_runtime_takes_its_bootstrap_inline_or_in_a_zip(client, users, team, settings):
    client.force_login(users["member"])
    upload = SimpleUploadedFile("bootstrap.py", b"print(1)\n")
    r = client.post(reverse("fn-create"), _create_data(
        team, runtime="provided.al2023", handler="bootstrap", code_source="py", source="", code_file=upload))
    assert r.status_code == 200
    assert "single-file uploads are for the Python and Node.js runtimes" in r.content.decode()
    assert not Function.objects.exists()
    html = client.get(reverse("fn-create")).content.decode()
    found = re.search(r'<script id="runtime-starters" type="application/json">(.*?)</script>', html, re.S)
    assert "provided.al2023" not in json.loads(found.group(1))  # no starter to swap in
    r = client.post(reverse("fn-create"), _create_data(
        team, runtime="provided.al2023", handler="x.y", source="#!/bin/sh\necho hi\n"))
    assert r.status_code == 302
    assert Function.objects.get(name="made").runtime == "provided.al2023"
