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


def test_it_refuses_a_single_file_that_is_not_python():
    with pytest.raises(CodeError, match=".py file"):
        codestore.zip_single_file("notes.txt", "hello")
