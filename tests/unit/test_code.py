import io
import stat
import zipfile

import pytest

from functions import code as codestore
from functions.code import CodeError


def zip_with(entries) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def test_it_accepts_a_good_zip_and_finds_the_handler():
    data = zip_with([("app.py", "def handler(e, c):\n    return 1\n")])
    checked = codestore.check_zip(data)
    codestore.check_handler(checked, "app.handler")
    assert checked.names == ["app.py"]
    assert codestore.single_file_name(checked) == "app.py"


def test_it_finds_a_handler_in_a_package():
    data = zip_with([("pkg/__init__.py", ""), ("pkg/mod.py", "def go(e, c): pass\n")])
    codestore.check_handler(codestore.check_zip(data), "pkg.mod.go")


def test_it_rejects_a_malformed_zip():
    with pytest.raises(CodeError, match="not a valid zip"):
        codestore.check_zip(b"PK\x03\x04 this is not really a zip")


def test_it_rejects_dot_dot_entries():
    with pytest.raises(CodeError, match=r"outside the code folder"):
        codestore.check_zip(zip_with([("../evil.py", "x")]))


def test_it_rejects_absolute_paths():
    with pytest.raises(CodeError, match="absolute path"):
        codestore.check_zip(zip_with([("/etc/passwd", "x")]))


def test_it_rejects_symlinks():
    info = zipfile.ZipInfo("link.py")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(CodeError, match="symbolic link"):
        codestore.check_zip(zip_with([(info, "/etc/passwd")]))


def test_it_rejects_more_than_50_mb_zipped(monkeypatch):
    monkeypatch.setattr(codestore, "MAX_ZIPPED", 100)
    with pytest.raises(CodeError, match="50 MB zipped"):
        codestore.check_zip(zip_with([("a.py", "x" * 500)]) + b"\0" * 200)


def test_it_rejects_more_than_250_mb_unzipped(monkeypatch):
    monkeypatch.setattr(codestore, "MAX_UNZIPPED", 1000)
    # Highly compressible: small zipped, large unzipped (a zip bomb's shape).
    with pytest.raises(CodeError, match="250 MB unzipped"):
        codestore.check_zip(zip_with([("big.txt", "0" * 5000)]))


def test_it_rejects_a_missing_handler_module():
    checked = codestore.check_zip(zip_with([("app.py", "def handler(e, c): pass\n")]))
    with pytest.raises(CodeError, match="module 'main' is not in the code"):
        codestore.check_handler(checked, "main.handler")


def test_it_rejects_a_missing_handler_function():
    checked = codestore.check_zip(zip_with([("app.py", "def other(e, c): pass\n")]))
    with pytest.raises(CodeError, match="'handler' is not defined in app.py"):
        codestore.check_handler(checked, "app.handler")


def test_it_reports_a_syntax_error():
    checked = codestore.check_zip(zip_with([("app.py", "def handler(:\n")]))
    with pytest.raises(CodeError, match="syntax error on line 1"):
        codestore.check_handler(checked, "app.handler")


def test_it_rejects_a_handler_without_a_dot():
    checked = codestore.check_zip(zip_with([("app.py", "def handler(e, c): pass\n")]))
    with pytest.raises(CodeError, match="module.function"):
        codestore.check_handler(checked, "handler")


def test_it_stores_a_bundle_once_per_hash(db, settings):
    data = zip_with([("app.py", "def handler(e, c): pass\n")])
    first = codestore.store(codestore.check_zip(data))
    second = codestore.store(codestore.check_zip(data))
    assert first.sha256 == second.sha256
    assert (first.files_dir / "app.py").read_text().startswith("def handler")
    assert oct(first.files_dir.stat().st_mode & 0o777) == "0o755"


def test_it_wraps_a_single_py_file():
    data = codestore.zip_single_file("handler.py", "def h(e, c): pass\n")
    assert codestore.check_zip(data).names == ["handler.py"]


def test_it_refuses_a_single_file_that_is_not_source():
    with pytest.raises(CodeError, match=r"\.py, \.js, \.mjs or \.cjs file"):
        codestore.zip_single_file("notes.txt", "hello")


def test_it_wraps_a_single_node_file():
    data = codestore.zip_single_file("index.mjs", "export const handler = async () => 1;\n")
    assert codestore.check_zip(data).names == ["index.mjs"]


# Zips that extraction would trip on ------------------------------------------


def test_it_rejects_a_path_that_is_a_file_and_a_folder():
    data = zip_with([("app.py", "def handler(e, c): pass\n"), ("x", "a"), ("x/y.py", "b")])
    with pytest.raises(CodeError, match="'x' is a file, but other entries put files inside it"):
        codestore.check_zip(data)


def test_it_rejects_a_file_entry_beside_a_folder_entry_of_the_same_name():
    with pytest.raises(CodeError, match="'x' is a file"):
        codestore.check_zip(zip_with([("x/", ""), ("x", "a")]))


def test_it_rejects_one_path_given_twice():
    with pytest.raises(CodeError, match="twice"):
        codestore.check_zip(zip_with([("a.py", "1"), ("./a.py", "2")]))


def test_it_rejects_a_file_entry_without_a_file_name():
    # zipfile would open the code folder itself for writing.
    with pytest.raises(CodeError, match="no file name"):
        codestore.check_zip(zip_with([(".", "x"), ("a.py", "")]))


def test_it_ignores_a_folder_entry_for_the_code_folder_itself():
    assert codestore.check_zip(zip_with([("./", ""), ("a.py", "")])).names == ["a.py"]


def test_it_rejects_names_too_long_for_the_file_system():
    with pytest.raises(CodeError, match="longer than 255 bytes"):
        codestore.check_zip(zip_with([("a" * 256 + ".py", "")]))
    with pytest.raises(CodeError, match="path longer than 1024 bytes"):
        codestore.check_zip(zip_with([("/".join(["d" * 200] * 6) + "/a.py", "")]))


def test_it_finds_a_handler_under_a_dotted_entry_name_but_does_not_edit_it():
    checked = codestore.check_zip(zip_with([("./app.py", "def handler(e, c): pass\n")]))
    codestore.check_handler(checked, "app.handler")
    assert checked.raw == {"app.py": "./app.py"}
    assert codestore.single_file_name(checked) == ""


@pytest.mark.parametrize("source,message", [
    (b"def handler(e, c): pass\n\x00", "cannot be read as Python source|syntax error"),
    (b"x = " + b"(" * 300 + b")" * 300 + b"\n", "syntax error|nested too deeply"),
    (b"# -*- coding: nope -*-\n", "syntax error"),
])
def test_it_reports_source_python_cannot_parse(source, message):
    checked = codestore.check_zip(zip_with([("app.py", source)]))
    with pytest.raises(CodeError, match=message):
        codestore.check_handler(checked, "app.handler")


def test_it_accepts_an_annotated_handler():
    checked = codestore.check_zip(zip_with([("app.py", "handler: object = print\n")]))
    codestore.check_handler(checked, "app.handler")


# Storing: nothing half-written, nothing left behind ----------------------------------


def _leftovers():
    from django.conf import settings

    code_dir = settings.STRATUS_CODE_DIR
    return sorted(p.name for p in code_dir.iterdir() if p.name.startswith(codestore.TEMP_PREFIXES))


def test_a_failed_extraction_leaves_nothing_behind(db, monkeypatch):
    from functions.models import CodeBundle

    data = zip_with([("app.py", "def handler(e, c): pass\n# unique 1\n")])
    checked = codestore.check_zip(data)

    def broken(self, path=None, members=None, pwd=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", broken)
    with pytest.raises(CodeError, match="could not be stored .No space left on device"):
        codestore.store(checked)
    bundle = CodeBundle(sha256=checked.sha256, size=0, unzipped_size=0)
    assert not bundle.zip_path.exists() and not bundle.files_dir.exists()
    assert _leftovers() == []
    assert not CodeBundle.objects.exists()


def test_sweep_removes_what_a_killed_upload_left(db, tmp_path):
    import os
    import time

    from django.conf import settings

    code_dir = settings.STRATUS_CODE_DIR
    code_dir.mkdir(parents=True, exist_ok=True)
    old_dir = code_dir / ".extract-old"
    (old_dir / "sub").mkdir(parents=True)
    old_zip = code_dir / ".upload-old"
    old_zip.write_bytes(b"x")
    young = code_dir / ".upload-young"
    young.write_bytes(b"x")
    hour_ago = time.time() - 2 * codestore.STALE_TEMP_S
    for path in (old_dir, old_zip):
        os.utime(path, (hour_ago, hour_ago))
    assert codestore.sweep() == 2
    assert _leftovers() == [".upload-young"]
    young.unlink()
