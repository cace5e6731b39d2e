"""The editor's bundle rewrite (functions.code_files) and its service
operation (functions.service.update_code_files): other files byte-identical
with their modes, new and deleted files, binary files refused as edits,
path safety through check_zip, and a stale base refused."""

import io
import stat
import zipfile

import pytest

from functions import code as codestore
from functions import code_files, service
from functions.code import CodeError
from functions.models import Function
from functions.service import CodeChanged, FunctionError

HANDLER = "from helpers import util\n\n\ndef lambda_handler(event, context):\n    return util.greet()\n"
UTIL = "def greet():\n    return 'hello'\n"
BINARY = bytes(range(256)) * 4


def _entry(name, mode=0o644, compress=zipfile.ZIP_DEFLATED, date=(2020, 5, 17, 10, 30, 0)):
    info = zipfile.ZipInfo(name, date_time=date)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = compress
    return info


def bundle_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(_entry("lambda_function.py"), HANDLER)
        folder = zipfile.ZipInfo("helpers/", date_time=(2020, 5, 17, 10, 30, 0))
        folder.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
        zf.writestr(folder, b"")
        zf.writestr(_entry("helpers/__init__.py", compress=zipfile.ZIP_STORED), "")
        zf.writestr(_entry("helpers/util.py"), UTIL)
        zf.writestr(_entry("bin/tool", mode=0o755), "#!/bin/sh\necho tool\n")
        zf.writestr(_entry("data/blob.bin", compress=zipfile.ZIP_STORED), BINARY)
    return buf.getvalue()


def entries(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {
            i.filename: (zf.read(i), i.external_attr, i.compress_type, i.date_time)
            for i in zf.infolist()
        }


# The rewrite ------------------------------------------------------------------


def test_it_replaces_one_file_and_keeps_every_other_entry_as_it_was():
    old = bundle_zip()
    new = code_files.rewrite(old, edits={"helpers/util.py": "def greet():\n    return 'hi'\n"})
    before, after = entries(old), entries(new)
    assert list(after) == list(before)
    assert after["helpers/util.py"][0] == b"def greet():\n    return 'hi'\n"
    assert after["helpers/util.py"][1] == before["helpers/util.py"][1]
    for name in before:
        if name != "helpers/util.py":
            assert after[name] == before[name], name
    assert after["bin/tool"][1] >> 16 == stat.S_IFREG | 0o755
    codestore.check_zip(new)


def test_it_adds_and_deletes_files():
    new = code_files.rewrite(
        bundle_zip(), adds={"helpers/more/extra.py": "X = 1\n"}, deletes=["bin/tool"]
    )
    after = entries(new)
    assert "bin/tool" not in after
    assert after["helpers/more/extra.py"][0] == b"X = 1\n"
    assert after["helpers/more/extra.py"][1] >> 16 == stat.S_IFREG | 0o644
    assert after["data/blob.bin"][0] == BINARY
    assert codestore.check_zip(new).raw.keys() >= {"helpers/more/extra.py", "lambda_function.py"}


def test_it_refuses_to_edit_a_binary_file():
    with pytest.raises(CodeError, match="data/blob.bin is binary and cannot be edited"):
        code_files.rewrite(bundle_zip(), edits={"data/blob.bin": "text now"})


def test_it_refuses_a_file_over_the_text_limit():
    with pytest.raises(CodeError, match="at most 1 MB"):
        code_files.rewrite(bundle_zip(), edits={"helpers/util.py": "x" * (code_files.TEXT_MAX + 1)})


def test_it_refuses_paths_that_are_not_files_of_the_bundle():
    with pytest.raises(CodeError, match="no file 'nope.py'"):
        code_files.rewrite(bundle_zip(), edits={"nope.py": ""})
    with pytest.raises(CodeError, match="no file 'helpers'"):
        code_files.rewrite(bundle_zip(), deletes=["helpers"])
    with pytest.raises(CodeError, match="both changed and deleted"):
        code_files.rewrite(bundle_zip(), edits={"bin/tool": ""}, deletes=["bin/tool"])


@pytest.mark.parametrize("path, message", [
    ("helpers/util.py", "has a file 'helpers/util.py' already"),
    ("./helpers/util.py", "has a file 'helpers/util.py' already"),
    ("helpers", "is a folder of the code"),
    ("", "Enter a file name"),
    ("   ", "Enter a file name"),
    ("/abs.py",
     "The file name '/abs.py' is an absolute path; use a path inside the code folder, like src/app.py"),
    ("../evil.py", "The file name '../evil.py' points outside the code folder"),
    ("helpers/../../evil.py", "The file name 'helpers/../../evil.py' points outside the code folder"),
    ("x/..", "names the code folder itself"),
    ("lib/", "is a folder"),
    ("a\\b.py", "backslash"),
    ("a\nb.py", "control characters"),
])
def test_it_refuses_a_bad_new_file(path, message):
    with pytest.raises(CodeError, match=message):
        code_files.rewrite(bundle_zip(), adds={path: ""})


@pytest.mark.parametrize("path, stored", [
    ("x/../y.py", "y.py"),
    ("helpers/../helpers/new.py", "helpers/new.py"),
    ("./a//b.py", "a/b.py"),
])
def test_it_adds_a_path_with_dots_where_it_resolves_inside_the_folder(path, stored):
    assert code_files.clean_new_path(path) == stored
    new = code_files.rewrite(bundle_zip(), adds={path: "x"})
    codestore.check_zip(new)
    assert zipfile.ZipFile(io.BytesIO(new)).read(stored) == b"x"


@pytest.mark.parametrize("path, message", [
    ("lambda_function.py/x.py", "a path cannot be both"),
])
def test_check_zip_refuses_an_unsafe_new_path(path, message):
    new = code_files.rewrite(bundle_zip(), adds={path: "x"})
    with pytest.raises(CodeError, match=message):
        codestore.check_zip(new)


def test_it_lists_text_and_binary_files_and_builds_a_tree(tmp_path):
    class Bundle:
        zip_path = tmp_path / "b.zip"
        sha256 = "test-list"

    Bundle.zip_path.write_bytes(bundle_zip())
    files = {f.path: f for f in code_files.list_files(Bundle)}
    assert files["helpers/util.py"].editable
    assert not files["data/blob.bin"].editable and files["data/blob.bin"].reason == "binary"
    rows = [
        ("  " * r.depth) + r.name + ("/" if r.file is None else "")
        for r in code_files.tree(list(files.values()))
    ]
    assert rows == [
        "bin/", "  tool", "data/", "  blob.bin", "helpers/", "  __init__.py", "  util.py",
        "lambda_function.py",
    ]
    assert code_files.read_text(Bundle, "helpers/util.py") == UTIL
    with pytest.raises(CodeError, match="binary"):
        code_files.read_text(Bundle, "data/blob.bin")


# The service operation -----------------------------------------------------------


@pytest.fixture
def multi(team):
    return service.create_function(
        team, name="multi", zip_bytes=bundle_zip(), handler="lambda_function.lambda_handler"
    )


def test_it_saves_an_edit_as_a_new_bundle_and_revision(multi):
    old_sha, old_revision = multi.code_id, multi.revision
    old_zip = multi.code.zip_path.read_bytes()
    new_util = "def greet():\n    return 'hi'\n"
    service.update_code_files(multi, base_sha256=old_sha, edits={"helpers/util.py": new_util})
    multi.refresh_from_db()
    assert multi.code_id != old_sha and multi.revision != old_revision
    assert multi.code.zip_path.read_bytes() != old_zip
    # The old bundle is untouched (content-addressed, never edited in place).
    assert codestore.check_zip((multi.code.zip_path.parent / f"{old_sha}.zip").read_bytes()).sha256 == old_sha
    assert (multi.code.files_dir / "helpers" / "util.py").read_text() == "def greet():\n    return 'hi'\n"
    assert (multi.code.files_dir / "data" / "blob.bin").read_bytes() == BINARY
    assert multi.code.sha256_b64  # CodeSha256 of the new zip


def test_it_refuses_a_stale_base_and_stores_nothing(multi):
    stale = multi.code_id
    service.update_code_files(multi, base_sha256=stale, adds={"new.py": ""})
    current = Function.objects.get(pk=multi.pk)
    with pytest.raises(CodeChanged, match="changed since you opened it"):
        service.update_code_files(current, base_sha256=stale, edits={"helpers/util.py": "lost?"})
    assert Function.objects.get(pk=multi.pk).code_id == current.code_id


def test_it_refuses_a_save_that_lost_the_race(multi):
    # Another save won between this process's read and its write.
    base = multi.code_id
    racer = Function.objects.get(pk=multi.pk)
    service.update_code_files(racer, base_sha256=base, adds={"first.py": ""})
    with pytest.raises(CodeChanged):
        # `multi` still holds the old code_id, as a request that read it before the race.
        service.update_code_files(multi, base_sha256=base, adds={"second.py": ""})
    assert Function.objects.get(pk=multi.pk).code_id == racer.code_id


def test_it_protects_the_handlers_module(multi):
    with pytest.raises(FunctionError, match="holds the handler's module"):
        service.update_code_files(multi, base_sha256=multi.code_id, deletes=["lambda_function.py"])


@pytest.mark.parametrize("adds, message", [
    ({"../evil.py": "x"}, "The file name '../evil.py' points outside the code folder"),
    ({"/abs.py": "x"}, "The file name '/abs.py' is an absolute path"),
])
def test_it_refuses_unsafe_paths_through_the_service(multi, adds, message):
    old = multi.code_id
    with pytest.raises(FunctionError, match=message):
        service.update_code_files(multi, base_sha256=old, adds=adds)
    assert Function.objects.get(pk=multi.pk).code_id == old


def test_it_keeps_a_single_file_function_editable_by_name(make_function):
    fn = make_function()
    edited = "def lambda_handler(e, c):\n    return 2\n"
    service.update_code_files(fn, base_sha256=fn.code_id, edits={"lambda_function.py": edited})
    assert Function.objects.get(pk=fn.pk).editable_file == "lambda_function.py"
    service.update_code_files(fn, base_sha256=fn.code_id, adds={"util.py": ""})
    assert Function.objects.get(pk=fn.pk).editable_file == ""
