"""Validating and storing function code.

Everything is checked before anything is written (check_zip refuses every
zip that extraction would trip on), and a bundle is written to temporary
names and renamed, so a rejected upload or a killed process leaves stored
code as it was; temporary leftovers are removed on the spot or, after a
killed process, by sweep()."""

import ast
import contextlib
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
import time
from dataclasses import dataclass, field

from django.conf import settings

MAX_ZIPPED = 50 * 1024 * 1024  # Lambda: 50 MB zipped, uploaded directly
MAX_UNZIPPED = 250 * 1024 * 1024  # Lambda: 250 MB unzipped
# Linux: a file name is at most 255 bytes. A whole entry path is kept well
# under PATH_MAX (4096) once the code folder's path is put in front.
NAME_MAX_BYTES = 255
PATH_MAX_BYTES = 1024
# Temporary names of store(); one older than this belongs to an upload that
# was interrupted (a killed process), and is removed by sweep().
TEMP_PREFIXES = (".upload-", ".extract-")
STALE_TEMP_S = 3600


class CodeError(ValueError):
    """Code that cannot be stored; the message says what was wrong."""


@dataclass
class CheckedZip:
    """A zip that check_zip() accepted. `names`: every entry's path as it
    will be extracted (folders end in "/"); `raw`: a file's extracted path
    -> its name inside the zip."""

    data: bytes
    sha256: str
    unzipped_size: int
    names: list[str]
    raw: dict[str, str] = field(default_factory=dict)


SINGLE_FILE_SUFFIXES = (".py", ".js", ".mjs", ".cjs")


def zip_single_file(filename: str, source: str | bytes) -> bytes:
    """Wrap one source file in a zip, as Lambda's console does. CodeError
    when it is not a .py (Python) or .js/.mjs/.cjs (Node.js) file of UTF-8
    text."""
    filename = os.path.basename(filename) or "lambda_function.py"
    if not filename.endswith(SINGLE_FILE_SUFFIXES):
        raise CodeError(
            f"A single file must be a .py, .js, .mjs or .cjs file, got {filename!r}."
        )
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise CodeError(f"{filename} is not UTF-8 text.") from None
    try:
        source.encode("utf-8")
        filename.encode("utf-8")
    except UnicodeEncodeError:
        raise CodeError(f"{filename} is not valid Unicode text.") from None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(info, source)
    return buf.getvalue()


def _extracted_path(name: str) -> list[str]:
    """The path parts an entry is extracted to, as zipfile does it on
    Linux: empty and "." parts dropped."""
    return [part for part in name.split("/") if part not in ("", ".")]


def check_zip(data: bytes) -> CheckedZip:
    """Everything that could make storing or running the code fail, checked
    before anything is written. CodeError says what is wrong: not a zip,
    over Lambda's sizes (50 MB zipped, 250 MB unzipped), an entry outside
    the code folder (absolute, ..), a symbolic link, a name too long for
    the file system, two entries for one path, a path that is a file in one
    entry and a folder in another (app.py, x, x/y.py), a corrupt or
    encrypted entry, or no files at all."""
    if not isinstance(data, (bytes, bytearray)):
        raise CodeError("The code must be the bytes of a zip file.")
    data = bytes(data)
    if len(data) > MAX_ZIPPED:
        raise CodeError(
            f"The zip is {len(data) // (1024 * 1024)} MB; the limit is 50 MB zipped."
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as e:
        raise CodeError(f"The upload is not a valid zip file ({e}).") from None
    total = 0
    names: list[str] = []
    raw: dict[str, str] = {}
    folders: set[str] = set()
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
        path = _extracted_path(name)
        if any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES for part in path):
            raise CodeError(
                f"The zip entry {name[:80]!r}... has a name longer than {NAME_MAX_BYTES} bytes."
            )
        if len("/".join(path).encode("utf-8", "surrogateescape")) > PATH_MAX_BYTES:
            raise CodeError(
                f"The zip entry {name[:80]!r}... has a path longer than {PATH_MAX_BYTES} bytes."
            )
        for depth in range(1, len(path)):
            folders.add("/".join(path[:depth]))
        if info.is_dir():
            if path:
                folders.add("/".join(path))
                names.append("/".join(path) + "/")
            continue
        if not path:
            raise CodeError(f"The zip entry {name!r} has no file name.")
        target = "/".join(path)
        if target in raw:
            raise CodeError(f"The zip holds {target!r} twice ({raw[target]!r} and {name!r}).")
        raw[target] = name
        names.append(target)
        total += info.file_size
        if total > MAX_UNZIPPED:
            raise CodeError("The code is larger than 250 MB unzipped.")
    clashes = sorted(folders & raw.keys())
    if clashes:
        raise CodeError(
            f"The zip entry {clashes[0]!r} is a file, but other entries put files inside it "
            "as a folder; a path cannot be both."
        )
    try:
        bad = zf.testzip()
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as e:
        raise CodeError(f"The zip cannot be read ({e}).") from None
    if bad is not None:
        raise CodeError(f"The zip entry {bad!r} is corrupt.")
    if not raw:
        raise CodeError("The zip holds no files.")
    return CheckedZip(data, hashlib.sha256(data).hexdigest(), total, names, raw)


def check_handler(checked: CheckedZip, handler: str) -> None:
    """The handler's module must be in the code and define the function
    (at its top level). CodeError says what is missing or which line of
    the module does not parse."""
    if "." not in handler or handler.startswith(".") or handler.endswith("."):
        raise CodeError(f"The handler {handler!r} must look like module.function.")
    module, func = handler.rsplit(".", 1)
    path = module.replace(".", "/")
    candidates = [f"{path}.py", f"{path}/__init__.py"]
    found = next((c for c in candidates if c in checked.raw), None)
    if found is None:
        raise CodeError(
            f"The handler module {module!r} is not in the code: expected {candidates[0]}."
        )
    with zipfile.ZipFile(io.BytesIO(checked.data)) as zf:
        source = zf.read(checked.raw[found])
    try:
        tree = ast.parse(source, filename=found)
    except SyntaxError as e:
        raise CodeError(f"{found} has a syntax error on line {e.lineno}: {e.msg}.") from None
    except ValueError as e:
        # Python 3.11 reports a NUL byte in the source this way.
        raise CodeError(f"{found} cannot be read as Python source ({e}).") from None
    except (RecursionError, MemoryError):
        raise CodeError(f"{found} is nested too deeply for Python to compile.") from None
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    if func not in defined:
        raise CodeError(f"The handler function {func!r} is not defined in {found}.")


def bootstrap_zip(source: str) -> bytes:
    """A custom runtime's code written in the console: `source` as an
    executable `bootstrap` (the script Lambda starts), alone in a zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, source.replace("\r\n", "\n"))
    return buf.getvalue()


def check_bootstrap(checked: CheckedZip) -> None:
    """A custom runtime's (provided.*) code: an executable `bootstrap` at
    the top of the zip, which Lambda starts (else a layer's /opt/bootstrap,
    which this check cannot see). CodeError says what is wrong."""
    if "bootstrap" not in checked.raw:
        raise CodeError(
            "The code has no bootstrap file at its top level; a provided runtime starts "
            "/var/task/bootstrap (or a layer's /opt/bootstrap)."
        )
    with zipfile.ZipFile(io.BytesIO(checked.data)) as zf:
        mode = zf.getinfo(checked.raw["bootstrap"]).external_attr >> 16
    if not mode & 0o111:
        raise CodeError(
            "The bootstrap file is not executable: zip it with its execute permission (chmod +x)."
        )


def single_file_name(checked: CheckedZip) -> str:
    """The file's name if the code is one top-level .py (or Node .js, .mjs,
    .cjs) file, stored under that very name (editable in the console),
    else ""."""
    files = list(checked.raw)
    if len(files) == 1 and files[0].endswith(SINGLE_FILE_SUFFIXES) and "/" not in files[0]:
        if checked.raw[files[0]] == files[0]:
            return files[0]
    return ""


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def sweep(max_age_s: float = STALE_TEMP_S) -> int:
    """Remove temporary files and folders of store() older than
    `max_age_s`: what an upload leaves when its process is killed. Returns
    how many were removed. Safe while other uploads run (theirs are young)."""
    code_dir = settings.STRATUS_CODE_DIR
    try:
        entries = list(os.scandir(code_dir))
    except FileNotFoundError:
        return 0
    cutoff = time.time() - max_age_s
    removed = 0
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIXES):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        _remove(entry.path)
        removed += 1
    return removed


def _extract(checked: CheckedZip, code_dir) -> str:
    """The files in a new temporary folder, readable by the sandbox user
    (uid 10001); the folder is removed again if anything fails."""
    tmp_dir = tempfile.mkdtemp(dir=code_dir, prefix=".extract-")
    try:
        with zipfile.ZipFile(io.BytesIO(checked.data)) as zf:
            zf.extractall(tmp_dir)
            executable = _executables(zf, tmp_dir)
        for root, _dirs, files in os.walk(tmp_dir):
            os.chmod(root, 0o755)
            for name in files:
                path = os.path.join(root, name)
                os.chmod(path, 0o755 if path in executable else 0o644)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return tmp_dir


def _executables(zf: zipfile.ZipFile, into: str) -> set[str]:
    """The extracted paths whose zip entry has an execute bit (Unix
    permissions in external_attr): they stay executable, as Lambda keeps a
    zip's permissions (a custom runtime's `bootstrap` must be)."""
    return {
        os.path.join(into, *info.filename.split("/"))
        for info in zf.infolist()
        if not info.is_dir() and (info.external_attr >> 16) & 0o111
    }


def _write_zip(checked: CheckedZip, code_dir) -> str:
    fd, tmp = tempfile.mkstemp(dir=code_dir, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(checked.data)
        os.chmod(tmp, 0o644)
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def store(checked: CheckedZip):
    """Write the zip and its extracted files once per content hash, then
    its CodeBundle row (call it inside the transaction that uses the row).

    Files go to temporary names first (the folder first: extraction is what
    can fail) and are renamed into place only when both are complete, so a
    failure or a killed process never leaves a bundle half-written, and
    temporary leftovers are removed here (or by sweep(), for a process that
    was killed). A row exists only for a bundle whose files exist. Raises
    CodeError when the files cannot be written (e.g. the disk is full)."""
    from functions.models import CodeBundle

    code_dir = settings.STRATUS_CODE_DIR
    code_dir.mkdir(parents=True, exist_ok=True)
    sweep()
    final_zip = code_dir / f"{checked.sha256}.zip"
    final_dir = code_dir / checked.sha256
    tmp_dir = tmp_zip = None
    try:
        if not final_dir.exists():
            tmp_dir = _extract(checked, code_dir)
        if not final_zip.exists():
            tmp_zip = _write_zip(checked, code_dir)
        if tmp_dir is not None:
            try:
                os.rename(tmp_dir, final_dir)
            except OSError:
                # Another process stored the same bundle first: same content.
                if not final_dir.is_dir():
                    raise
        if tmp_zip is not None:
            os.replace(tmp_zip, final_zip)
    except OSError as e:
        raise CodeError(f"The code could not be stored ({e.strerror or e}); try again.") from None
    finally:
        for leftover in (tmp_dir, tmp_zip):
            if leftover is not None and os.path.lexists(leftover):
                _remove(leftover)
    bundle, _ = CodeBundle.objects.get_or_create(
        sha256=checked.sha256,
        defaults={"size": len(checked.data), "unzipped_size": checked.unzipped_size},
    )
    return bundle
