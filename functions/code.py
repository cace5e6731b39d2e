"""Validating and storing function code.

Everything is checked before anything is written, and a bundle is written to
a temporary name and renamed, so a rejected upload or a killed process leaves
stored code as it was."""

import ast
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024


class CodeError(ValueError):
    """Code that cannot be stored; the message says what was wrong."""


@dataclass
class CheckedZip:
    data: bytes
    sha256: str
    unzipped_size: int
    names: list[str]


def zip_single_file(filename: str, source: str | bytes) -> bytes:
    """Wrap one source file in a zip, as Lambda's console does."""
    filename = os.path.basename(filename) or "lambda_function.py"
    if not filename.endswith(".py"):
        raise CodeError(f"A single file must be a .py file, got {filename!r}.")
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise CodeError(f"{filename} is not UTF-8 text.") from None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(info, source)
    return buf.getvalue()


def check_zip(data: bytes) -> CheckedZip:
    if len(data) > MAX_ZIPPED:
        raise CodeError(
            f"The zip is {len(data) // (1024 * 1024)} MB; the limit is 50 MB zipped."
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as e:
        raise CodeError(f"The upload is not a valid zip file ({e}).") from None
    total = 0
    names = []
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise CodeError(f"The zip entry {name!r} has an absolute path.")
        if ".." in parts:
            raise CodeError(f"The zip entry {name!r} points outside the code folder (..).")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise CodeError(f"The zip entry {name!r} is a symbolic link; links are not allowed.")
        total += info.file_size
        if total > MAX_UNZIPPED:
            raise CodeError("The code is larger than 250 MB unzipped.")
        names.append(name)
    try:
        bad = zf.testzip()
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError) as e:
        raise CodeError(f"The zip cannot be read ({e}).") from None
    if bad is not None:
        raise CodeError(f"The zip entry {bad!r} is corrupt.")
    if not names:
        raise CodeError("The zip is empty.")
    return CheckedZip(data, hashlib.sha256(data).hexdigest(), total, names)


def check_handler(checked: CheckedZip, handler: str) -> None:
    """The handler's module must be in the code and define the function."""
    if "." not in handler or handler.startswith(".") or handler.endswith("."):
        raise CodeError(f"The handler {handler!r} must look like module.function.")
    module, func = handler.rsplit(".", 1)
    path = module.replace(".", "/")
    candidates = [f"{path}.py", f"{path}/__init__.py"]
    zf = zipfile.ZipFile(io.BytesIO(checked.data))
    found = next((c for c in candidates if c in checked.names), None)
    if found is None:
        raise CodeError(
            f"The handler module {module!r} is not in the code: expected {candidates[0]}."
        )
    try:
        tree = ast.parse(zf.read(found), filename=found)
    except SyntaxError as e:
        raise CodeError(f"{found} has a syntax error on line {e.lineno}: {e.msg}.") from None
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    if func not in defined:
        raise CodeError(f"The handler function {func!r} is not defined in {found}.")


def single_file_name(checked: CheckedZip) -> str:
    """The file's name if the code is one .py file (editable in the console)."""
    files = [n for n in checked.names if not n.endswith("/")]
    if len(files) == 1 and files[0].endswith(".py") and "/" not in files[0]:
        return files[0]
    return ""


def read_file(bundle, name: str) -> str:
    with zipfile.ZipFile(bundle.zip_path) as zf:
        return zf.read(name).decode("utf-8", errors="replace")


def store(checked: CheckedZip):
    """Write the zip and its extracted files once per content hash."""
    from functions.models import CodeBundle

    code_dir = settings.STRATUS_CODE_DIR
    code_dir.mkdir(parents=True, exist_ok=True)
    final_zip = code_dir / f"{checked.sha256}.zip"
    final_dir = code_dir / checked.sha256
    if not final_zip.exists():
        fd, tmp = tempfile.mkstemp(dir=code_dir, prefix=".upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(checked.data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, final_zip)
    if not final_dir.exists():
        tmp_dir = tempfile.mkdtemp(dir=code_dir, prefix=".extract-")
        with zipfile.ZipFile(io.BytesIO(checked.data)) as zf:
            zf.extractall(tmp_dir)
        # The sandbox user (uid 10001) must be able to read the code.
        for root, _dirs, files in os.walk(tmp_dir):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        try:
            os.rename(tmp_dir, final_dir)
        except OSError:
            # Another process stored the same bundle first: same content.
            shutil.rmtree(tmp_dir, ignore_errors=True)
    with transaction.atomic():
        bundle, _ = CodeBundle.objects.get_or_create(
            sha256=checked.sha256,
            defaults={"size": len(checked.data), "unzipped_size": checked.unzipped_size},
        )
    return bundle
