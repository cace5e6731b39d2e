"""Running one dependency build (the body of the Celery task
functions.build_dependencies): copy the submitted code to a fresh folder,
install its manifest there (functions.dependency_install), check the size,
store the folder as a new CodeBundle and end the build
(functions.dependencies.finish), which switches the waiting functions.

The folder lives beside the stored bundles (STRATUS_CODE_DIR, a ".extract-"
name that functions.code.sweep removes if a killed worker leaves it), so
the finished folder is renamed into place, never copied."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

from django.conf import settings

from functions import build_live, dependencies, dependency_install
from functions import code as codestore
from functions.models import CodeBundle

log = logging.getLogger(__name__)

LOG_CAP = 64 * 1024  # characters of a build's log kept (its end)
REASON_LINES = 3  # the tool's error lines quoted in the reason (the first that say something)
# npm's error lines that say nothing about what failed: its error code,
# syscall, errno and path (the next lines say it in words), empty
# "npm error 404" lines, the advice on
# tarballs, the path of its debug log (a host path, and the build's log has
# it all anyway).
_NOISE = re.compile(
    r"^(code \S+|syscall \S+|errno \S+|path .*|\d{3}|"
    r"\d{3} Note that you can also install from a|\d{3} tarball, folder, http url, or git url\.|"
    r"A complete log of this run can be found in:.*|Log files were not written.*|"
    r"You can rerun the command with `--loglevel=verbose`.*)$"
)
_TOOL_PREFIX = re.compile(r"^(ERROR:|npm error|npm ERR!)\s*")
# An absolute path outside a URL (not after a word character, a dot or
# another slash): a host's or a build container's folder, kept out of a
# function's StateReason.
_PATH = re.compile(r"(?<![\w./:])/(?:[\w.@+-]+/)*[\w.@+-]+")


class BuildLog:
    """The build's log, its end kept under LOG_CAP characters."""

    def __init__(self, text: str = ""):
        self.text = text

    def add(self, line: str) -> None:
        self.text += line + "\n"
        if len(self.text) > LOG_CAP:
            self.text = "[...]\n" + self.text[-(LOG_CAP - 6):]

    def errors(self) -> list[str]:
        """What the tool's error lines (pip's "ERROR: ...", npm's "npm error
        ...") say failed, for a StateReason: the first REASON_LINES of them
        in order, without npm's boilerplate (its error code, its advice, its
        debug log's path) and with absolute paths shown as "<path>", e.g.
        ["npm error 404 Not Found - GET https://registry.npmjs.org/nope -
        Not found", "npm error 404 'nope@^1.0.0' is not in this registry."].
        The whole output stays in the build's log."""
        found = []
        for line in self.text.splitlines():
            prefix = _TOOL_PREFIX.match(line)
            if prefix is None:
                continue
            said = " ".join(line[prefix.end():].split())
            if not said or _NOISE.match(said):
                continue
            shown = f"{prefix.group(1)} {_PATH.sub('<path>', said)}"
            if shown not in found:
                found.append(shown)
        return found[:REASON_LINES]


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def folder_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                total += os.lstat(path).st_size
    return total


def _merge_packages(folder: Path, packages_dir: str) -> None:
    """Move what the installer put in `packages_dir` to the top of the code;
    the user's own files win where a name is taken (they were there first)."""
    if not packages_dir:
        return
    packages = folder / packages_dir
    if packages.is_dir():
        for entry in sorted(os.listdir(packages)):
            target = folder / entry
            if not target.exists():
                os.rename(packages / entry, target)
        shutil.rmtree(packages, ignore_errors=True)


def _files(folder: Path) -> list[tuple[str, Path]]:
    """Every regular file under `folder`, sorted, as (zip name, path).
    Symbolic links (npm's node_modules/.bin shims) are left out: a bundle
    holds none (functions.code.check_zip)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append((path.relative_to(folder).as_posix(), path))
    return sorted(found)


def store_folder(folder: Path) -> CodeBundle:
    """Zip `folder` (sorted entries, fixed times: the same files give the
    same hash) beside the stored bundles, rename the zip and the folder
    into place as a bundle, and return its row."""
    code_dir = settings.STRATUS_CODE_DIR
    fd, tmp_zip = tempfile.mkstemp(dir=code_dir, prefix=".upload-")
    digest = hashlib.sha256()
    unzipped = 0
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, path in _files(folder):
                mode = 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644
                os.chmod(path, mode)
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
                unzipped += path.stat().st_size
        for root, dirs, _names in os.walk(folder):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        os.chmod(folder, 0o755)
        os.chmod(tmp_zip, 0o644)
        with open(tmp_zip, "rb") as f:
            for chunk in iter(lambda: f.read(1024 * 1024), b""):
                digest.update(chunk)
        sha = digest.hexdigest()
        final_dir = code_dir / sha
        if not final_dir.exists():
            try:
                os.rename(folder, final_dir)
            except OSError:
                if not final_dir.is_dir():
                    raise
        os.replace(tmp_zip, code_dir / f"{sha}.zip")
    finally:
        if os.path.exists(tmp_zip):
            os.unlink(tmp_zip)
    bundle, _ = CodeBundle.objects.get_or_create(
        sha256=sha, defaults={"size": os.path.getsize(code_dir / f"{sha}.zip"), "unzipped_size": unzipped},
    )
    return bundle


def run(build_id: str) -> str:
    """Run the build if no other task runs it (functions.dependencies.claim);
    returns its final status, or "skipped"."""
    build = dependencies.claim(build_id)
    if build is None:
        return "skipped"
    kind = dependency_install.language(build.runtime)
    manifest = dependencies.MANIFESTS.get(kind, "")
    text = BuildLog(build.log)
    code_dir = settings.STRATUS_CODE_DIR
    code_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=code_dir, prefix=".extract-"))

    def failed(reason: str, code: str = dependencies.DEPENDENCY_ERROR) -> str:
        text.add(f"[Stratus] Build failed: {reason}")
        ended = dependencies.finish(build, log_text=text.text, reason=reason, reason_code=code)
        if ended is not None:
            build_live.send_final(build, ended)
        return "Failed"

    def tick() -> None:
        if dependencies.beat(build, text.text):
            build_live.send_progress(build, text.text)

    try:
        shutil.copytree(build.source.files_dir, folder, dirs_exist_ok=True)
        try:
            installer = dependency_install.installer_for(build.runtime, manifest, folder)
        except dependency_install.InstallError as e:
            return failed(str(e))
        text.add(f"[Stratus] Installing the dependencies in {manifest} for {build.runtime} "
                 f"with {installer.tool} (attempt {build.attempts}).")
        tick()
        timeout_s = settings.STRATUS_BUILD_TIMEOUT_S
        started = time.monotonic()
        status = dependency_install.run(
            installer, folder, timeout_s=timeout_s, on_line=text.add, on_tick=tick,
        )
        text.add(f"[Stratus] The installer ran {time.monotonic() - started:.2f} s.")
        if status is None:
            return failed(
                f"Installing the dependencies in {manifest} took longer than {timeout_s} s "
                "(STRATUS_BUILD_TIMEOUT_S) and was stopped."
            )
        if status != 0:
            said = "; ".join(line.rstrip(".") for line in text.errors())
            said = said or f"the installer exited with status {status}"
            hint = installer.hint_for(said)
            return failed(f"Installing the dependencies in {manifest} failed: {said}. {hint}".strip())
        _merge_packages(folder, installer.packages_dir)
        size = folder_size(folder)
        if size > codestore.MAX_UNZIPPED:
            return failed(
                f"The code with its dependencies is {_mb(size)} unzipped; Lambda's limit is 250 MB. "
                "Use fewer or smaller packages, or move some into a layer."
            )
        text.add(f"[Stratus] Installed: the code with its dependencies is {_mb(size)} unzipped.")
        result = store_folder(folder)
        ended = dependencies.finish(build, result=result, log_text=text.text)
        if ended is not None:
            build_live.send_final(build, ended)
        return "Successful"
    except Exception as e:  # noqa: BLE001 - any failure of ours ends the build clearly
        log.exception("dependency build %s failed", build_id)
        return failed(f"The dependency build failed inside Stratus ({type(e).__name__}: {e}); "
                      "upload the code again to retry.", dependencies.INTERNAL_ERROR)
    finally:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
