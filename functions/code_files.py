"""The files of a code bundle as the console's editor sees and changes them.

list_files() tells the text files (editable in the browser) from the rest;
rewrite() builds a NEW zip from a stored one with files replaced, added or
deleted, every other entry copied with its bytes, name, mode (external
attributes), time and compression as they were. The new zip is then checked
by functions.code.check_zip like any upload (paths inside the code folder,
no duplicates, Lambda's sizes) and stored by functions.service as a new
bundle: a stored bundle is content-addressed and never changed in place."""

import functools
import io
import posixpath
import stat
import time
import zipfile
from dataclasses import dataclass

from functions.code import CodeError

# Bytes: a file bigger than this is listed but not editable in the browser
# (a CodeMirror document of megabytes is slow, and such a file is data).
TEXT_MAX = 1024 * 1024
NEW_FILE_MODE = stat.S_IFREG | 0o644


@dataclass(frozen=True)
class BundleFile:
    """One file of a bundle: `path` as extracted ("helpers/util.py"),
    `size` in bytes unzipped, `editable` when it is UTF-8 text of at most
    TEXT_MAX bytes without NUL; else `reason` says why not."""

    path: str
    size: int
    editable: bool
    reason: str = ""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


@dataclass(frozen=True)
class TreeRow:
    """One line of the file tree: a folder (`file` None; `path` is the
    folder's) or a file, `depth` levels deep."""

    name: str
    path: str
    depth: int
    file: BundleFile | None = None


def _extracted(name: str) -> str:
    """The path an entry is extracted to (zipfile drops empty and "."
    parts), as functions.code.check_zip names it."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _text_problem(data: bytes) -> str:
    """Why `data` cannot be edited as text, or ""."""
    if len(data) > TEXT_MAX:
        return f"over {TEXT_MAX // (1024 * 1024)} MB"
    if b"\x00" in data:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return ""


def _files(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    return {_extracted(info.filename): info for info in zf.infolist() if not info.is_dir()}


@functools.lru_cache(maxsize=64)
def _listed(zip_path: str, sha256: str) -> tuple[BundleFile, ...]:
    # Keyed on the content hash: a stored bundle never changes.
    with zipfile.ZipFile(zip_path) as zf:
        listed = []
        for path, info in sorted(_files(zf).items()):
            if info.file_size > TEXT_MAX:
                reason = _text_problem(b"x" * (TEXT_MAX + 1))
            else:
                reason = _text_problem(zf.read(info))
            listed.append(BundleFile(path, info.file_size, not reason, reason))
    return tuple(listed)


def list_files(bundle) -> list[BundleFile]:
    """Every file of a stored CodeBundle, sorted by path. OSError when its
    zip is missing."""
    return list(_listed(str(bundle.zip_path), bundle.sha256))


def tree(files: list[BundleFile]) -> list[TreeRow]:
    """The files as an indented tree: each folder once, before its
    contents; files of a folder after its subfolders, as editors show them."""
    def key(f: BundleFile):
        parts = f.path.split("/")
        # Folders (every part but the last) sort before the files beside them.
        return [(0, p) for p in parts[:-1]] + [(1, parts[-1])]

    rows: list[TreeRow] = []
    shown: set[str] = set()
    for f in sorted(files, key=key):
        parts = f.path.split("/")
        for depth in range(len(parts) - 1):
            folder = "/".join(parts[: depth + 1])
            if folder not in shown:
                shown.add(folder)
                rows.append(TreeRow(parts[depth], folder, depth))
        rows.append(TreeRow(parts[-1], f.path, len(parts) - 1, f))
    return rows


def read_text(bundle, path: str) -> str:
    """The text of one editable file of a stored bundle. CodeError when the
    bundle has no such file or it is not editable text (binary, too big)."""
    with zipfile.ZipFile(bundle.zip_path) as zf:
        info = _files(zf).get(path)
        if info is None:
            raise CodeError(f"The code has no file {path!r}.")
        if info.file_size > TEXT_MAX:
            raise CodeError(not_editable(path, f"over {TEXT_MAX // (1024 * 1024)} MB"))
        data = zf.read(info)
    problem = _text_problem(data)
    if problem:
        raise CodeError(not_editable(path, problem))
    return data.decode("utf-8")


def not_editable(path: str, reason: str) -> str:
    return (
        f"{path} is {reason} and cannot be edited in the console; "
        "download the code, change it and upload a new zip."
    )


def clean_new_path(path) -> str:
    """A new file's path as typed ("helpers/util.py"), spaces around it
    taken off and normalised (posixpath.normpath: "x/../y.py" is "y.py",
    "./a//b.py" is "a/b.py"), which is the name it is stored under.

    CodeError, in words about a typed file name (an upload's zip entries
    get functions.code.check_zip's words instead), for an empty name, a
    folder (ending in /), a backslash, a control character, an absolute
    path, or one that leaves the code folder once normalised."""
    if not isinstance(path, str):
        raise CodeError("The file name must be text.")
    path = path.strip()
    example = "like src/app.py"
    if not path:
        raise CodeError(f"Enter a file name, {example}.")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise CodeError("The file name must not contain control characters.")
    if "\\" in path:
        raise CodeError(f"The file name {path!r} has a backslash; separate folders with /, {example}.")
    if path.endswith("/"):
        raise CodeError(f"{path!r} is a folder; give a file name after the last /, {example}.")
    if path.startswith("/"):
        raise CodeError(
            f"The file name {path!r} is an absolute path; use a path inside the code folder, {example}."
        )
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        raise CodeError(
            f"The file name {path!r} points outside the code folder; use a path inside it, {example}."
        )
    if normal == ".":
        raise CodeError(f"The file name {path!r} names the code folder itself; give a file name, {example}.")
    return normal


def _encoded(path: str, text) -> bytes:
    if not isinstance(text, str):
        raise CodeError(f"The new text of {path} must be text.")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise CodeError(f"The new text of {path} is not valid Unicode text.") from None
    if len(data) > TEXT_MAX:
        raise CodeError(
            f"The new text of {path} is {len(data) // 1024} KB; the console edits files of at most "
            f"{TEXT_MAX // (1024 * 1024)} MB (upload a zip for bigger ones)."
        )
    return data


def _copied_info(info: zipfile.ZipInfo, *, date_time=None) -> zipfile.ZipInfo:
    """A fresh ZipInfo with the entry's name, mode, time and compression
    (a read ZipInfo carries offsets and flags of the old archive)."""
    new = zipfile.ZipInfo(info.filename, date_time=date_time or info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    new.internal_attr = info.internal_attr
    new.create_system = info.create_system
    new.comment = info.comment
    return new


def rewrite(
    data: bytes,
    *,
    edits: dict[str, str] | None = None,
    adds: dict[str, str] | None = None,
    deletes: list[str] | tuple[str, ...] | set[str] = (),
) -> bytes:
    """A new zip: `data` (a stored, checked bundle) with the files of
    `edits` (path -> new text) replaced, those of `adds` (path -> text)
    added with mode 0644, and those of `deletes` left out. Every other entry
    is copied byte for byte with its name, mode, time and compression.

    CodeError, and nothing returned, when an edited or deleted path is not
    a file of the bundle, an edited file is binary or over TEXT_MAX, new
    text is over TEXT_MAX, an added path exists already or is no file path
    (clean_new_path), or a path is both edited and deleted. Run the result
    through functions.code.check_zip (paths, duplicates, sizes)."""
    edits = dict(edits or {})
    adds = {clean_new_path(p): t for p, t in (adds or {}).items()}
    deletes = set(deletes)
    if both := sorted(edits.keys() & deletes):
        raise CodeError(f"{both[0]} cannot be both changed and deleted in one save.")
    stamp = time.localtime()[:6]
    src = zipfile.ZipFile(io.BytesIO(data))
    files = _files(src)
    for path in [*edits, *deletes]:
        if path not in files:
            raise CodeError(f"The code has no file {path!r}; reload the page to see its files.")
    folders = {f.rsplit("/", 1)[0] for f in files if "/" in f}
    folders |= {"/".join(f.split("/")[:i]) for f in list(folders) for i in range(1, f.count("/") + 1)}
    new_bytes = {path: _encoded(path, text) for path, text in edits.items()}
    for path, info in ((p, files[p]) for p in edits):
        if info.file_size > TEXT_MAX:
            raise CodeError(not_editable(path, f"over {TEXT_MAX // (1024 * 1024)} MB"))
        if problem := _text_problem(src.read(info)):
            raise CodeError(not_editable(path, problem))
    added_bytes = {}
    for path, text in adds.items():
        target = _extracted(path)
        if target in files:
            raise CodeError(f"The code has a file {target!r} already; open it to change it.")
        if target in folders:
            raise CodeError(f"{target!r} is a folder of the code; choose another name.")
        added_bytes[path] = _encoded(path, text)

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.comment = src.comment
        for info in src.infolist():
            path = _extracted(info.filename)
            if info.is_dir():
                dst.writestr(_copied_info(info), b"")
            elif path in deletes:
                continue
            elif path in new_bytes:
                dst.writestr(_copied_info(info, date_time=stamp), new_bytes[path])
            else:
                dst.writestr(_copied_info(info), src.read(info))
        for path, body in added_bytes.items():
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = NEW_FILE_MODE << 16
            dst.writestr(info, body)
    return out.getvalue()
