"""The Code tab's editor views: opening any file of a multi-file function,
saving one file, adding and deleting files, a stale base refused with the
text kept, and who may do what."""

import io
import zipfile

import pytest
from django.urls import reverse

from functions import service
from functions.models import Function

HX = {"HTTP_HX_REQUEST": "true"}
HANDLER = "from helpers import util\n\n\ndef lambda_handler(event, context):\n    return util.greet()\n"
UTIL = "def greet():\n    return 'hello'\n"
BINARY = bytes(range(256))


def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def multi(team):
    return service.create_function(
        team, name="multi", handler="lambda_function.lambda_handler",
        zip_bytes=_zip({
            "lambda_function.py": HANDLER, "helpers/__init__.py": "", "helpers/util.py": UTIL,
            "web/app.mjs": "export const x = 1;\n", "config.json": "{}\n", "logo.png": BINARY,
        }),
    )


def files_of(fn) -> dict:
    fn.refresh_from_db()
    with zipfile.ZipFile(fn.code.zip_path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def detail(fn, **query):
    path = reverse("fn-detail", args=[fn.id]) + "?tab=code"
    return path + "".join(f"&{k}={v}" for k, v in query.items())


def post(client, name, fn, data, **extra):
    return client.post(reverse(name, args=[fn.id]), data, **extra)


def test_it_opens_any_text_file_from_the_tree_with_its_language(client, users, multi):
    client.force_login(users["reader"])
    body = client.get(detail(multi, file="helpers/util.py")).content.decode()
    assert "return &#x27;hello&#x27;" in body
    assert 'name="path" value="helpers/util.py"' in body
    assert 'data-language="python"' in body
    assert "readonly" in body  # a reader sees the code but cannot save it
    assert "data-editor-save" not in body
    body = client.get(detail(multi, file="web/app.mjs")).content.decode()
    assert 'data-language="javascript"' in body
    body = client.get(detail(multi, file="config.json")).content.decode()
    assert 'data-language="json"' in body


def test_it_lists_a_binary_file_but_does_not_open_it(client, users, multi):
    client.force_login(users["member"])
    body = client.get(detail(multi)).content.decode()
    assert 'data-path="logo.png"' in body and "not editable here (binary)" in body
    body = client.get(detail(multi, file="logo.png")).content.decode()
    assert "logo.png is binary and cannot be edited in the console" in body
    assert "data-editor-save" not in body
    body = client.get(detail(multi, file="nope.py")).content.decode()
    assert "The code has no file &#x27;nope.py&#x27;" in body


def test_it_saves_one_file_and_keeps_the_others(client, users, multi):
    client.force_login(users["member"])
    before = files_of(multi)
    r = post(client, "fn-code-save", multi, {
        "path": "helpers/util.py", "base": multi.code_id, "source": "def greet():\n    return 'hi'\n",
    }, **HX)
    assert r.status_code == 200
    body = r.content.decode()
    assert "Saved helpers/util.py." in body
    assert r["HX-Push-Url"].endswith("file=helpers%2Futil.py")
    after = files_of(multi)
    assert after["helpers/util.py"] == b"def greet():\n    return 'hi'\n"
    assert {k: v for k, v in after.items() if k != "helpers/util.py"} == {
        k: v for k, v in before.items() if k != "helpers/util.py"
    }
    assert f'name="base" value="{multi.code_id}"' in body


def test_it_refuses_a_stale_save_and_keeps_the_text(client, users, multi):
    client.force_login(users["member"])
    stale = multi.code_id
    post(client, "fn-code-save", multi, {"path": "config.json", "base": stale, "source": "[]\n"})
    current = Function.objects.get(pk=multi.pk).code_id
    r = post(client, "fn-code-save", multi, {
        "path": "helpers/util.py", "base": stale, "source": "MY PRECIOUS EDIT = 1\n",
    }, **HX)
    body = r.content.decode()
    assert "The code changed since you opened it" in body
    assert "MY PRECIOUS EDIT = 1" in body
    assert 'data-unsaved="true"' in body
    assert "Open the current helpers/util.py in a new tab" in body
    assert Function.objects.get(pk=multi.pk).code_id == current


def test_it_adds_a_file_and_opens_it(client, users, multi):
    client.force_login(users["member"])
    r = post(client, "fn-code-file-add", multi, {"path": "helpers/more.py", "base": multi.code_id})
    assert r.status_code == 302 and r["Location"].endswith("file=helpers%2Fmore.py")
    assert files_of(multi)["helpers/more.py"] == b""


@pytest.mark.parametrize("path, message", [
    ("../out.py", "The file name &#x27;../out.py&#x27; points outside the code folder"),
    ("/abs.py", "The file name &#x27;/abs.py&#x27; is an absolute path; use a path inside the code folder"),
    ("helpers/util.py", "already"),
    ("", "Enter a file name"),
    ("  ", "Enter a file name"),
])
def test_it_refuses_a_bad_new_file(client, users, multi, path, message):
    client.force_login(users["member"])
    old = multi.code_id
    body = post(client, "fn-code-file-add", multi, {"path": path, "base": old}, **HX).content.decode()
    form = body[body.index('class="new-file"'):]
    form = form[:form.index("</form>")]
    assert '<p class="error">' in form and message in form
    assert "zip entry" not in body
    assert Function.objects.get(pk=multi.pk).code_id == old


def test_the_new_file_box_leaves_an_empty_name_to_the_server(client, users, multi):
    # A `required` box is refused in the browser before htmx posts it; the
    # server's "Enter a file name." is what the user should see.
    client.force_login(users["member"])
    body = client.get(detail(multi)).content.decode()
    box = body[body.index('class="new-file"'):]
    box = box[box.index('name="path"'):]
    assert "required" not in box[:box.index(">")]


def test_it_adds_a_path_with_dots_where_it_resolves_inside_the_folder(client, users, multi):
    client.force_login(users["member"])
    r = post(client, "fn-code-file-add", multi, {"path": "x/../helpers/new.py", "base": multi.code_id})
    assert r.status_code == 302 and r["Location"].endswith("file=helpers%2Fnew.py")
    assert files_of(multi)["helpers/new.py"] == b""


def test_it_deletes_a_file_but_not_the_handlers_module(client, users, multi):
    client.force_login(users["member"])
    r = post(client, "fn-code-file-delete", multi, {"path": "web/app.mjs", "base": multi.code_id}, **HX)
    assert "Deleted web/app.mjs." in r.content.decode()
    assert "web/app.mjs" not in files_of(multi)
    old = multi.code_id
    r = post(client, "fn-code-file-delete", multi, {"path": "lambda_function.py", "base": old}, **HX)
    assert "holds the handler&#x27;s module" in r.content.decode()
    assert Function.objects.get(pk=multi.pk).code_id == old


def test_a_reader_cannot_change_files(client, users, multi):
    client.force_login(users["reader"])
    old = multi.code_id
    for name, data in [
        ("fn-code-save", {"path": "helpers/util.py", "base": old, "source": "x"}),
        ("fn-code-file-add", {"path": "x.py", "base": old}),
        ("fn-code-file-delete", {"path": "web/app.mjs", "base": old}),
    ]:
        assert post(client, name, multi, data).status_code == 403, name
    assert Function.objects.get(pk=multi.pk).code_id == old


def test_a_stranger_gets_404(client, users, multi):
    client.force_login(users["outsider"])
    assert client.get(detail(multi, file="helpers/util.py")).status_code == 404
    assert post(client, "fn-code-file-add", multi, {"path": "x.py", "base": multi.code_id}).status_code == 404
