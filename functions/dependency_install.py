"""Installing a function's dependencies into a folder, outside any function
container (functions have no network), for the runtime's language version.

One function picks the tool per runtime (`installer_for`):

- Python runtimes: the platform's own pip (the virtualenv's, so its
  configured indexes apply: pip.conf, /etc/pip.conf, PIP_* variables) with
  `--target` and the runtime's interpreter named explicitly
  (`--python-version 3.X --implementation cp`, manylinux platform tags up
  to the runtime's glibc, `--only-binary=:all:`), so the packages suit the
  runtime image whatever Python the host has. pip installs only wheels
  (ready-built packages) for a Python other than its own: a package that
  publishes no wheel for the runtime fails with pip's "No matching
  distribution", and our hint says so in plain words.
- Node.js runtimes: `npm install --omit=dev --ignore-scripts` (`npm ci`
  with a lock file),
  in a one-off container of the runtime's own image with the host's
  network when that image has npm (the official Node.js tarball brings
  it), else the host's npm.

`run()` streams the tool's output line by line to a callback, enforces a
time limit by killing the tool's process group, and returns the exit
status; the caller (functions.dependency_build) checks sizes and stores."""

from __future__ import annotations

import os
import platform
import shutil
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The glibc of each runtime image's Debian suite (runtimes/<runtime>/base
# names the suite; bookworm when absent): the newest manylinux tag to accept.
GLIBC_MINOR = {"bookworm": 36, "trixie": 41}
RUNTIMES_DIR = Path(__file__).resolve().parent.parent / "runtimes"
OLDEST_MANYLINUX_MINOR = 17  # manylinux2014 is manylinux_2_17


class InstallError(Exception):
    """The install could not run at all (no tool); the message says why."""


@dataclass
class Installer:
    """A command to run in the build folder, and what to tell the user
    about it. `packages_dir` is where the command puts the packages,
    relative to the build folder ("" for in place, as npm does)."""

    tool: str
    argv: list[str]
    packages_dir: str
    env: dict[str, str]
    hint_on_failure: str = ""
    # The hint applies only when the tool's errors match this (empty: always).
    hint_when: str = ""

    def hint_for(self, errors: str) -> str:
        """The hint for a failure whose error lines say `errors`, or ""."""
        if self.hint_when and not re.search(self.hint_when, errors, re.IGNORECASE):
            return ""
        return self.hint_on_failure


def language(runtime: str) -> str:
    """"python", "node" or "" (no dependency builds: provided.*)."""
    if runtime.startswith("python"):
        return "python"
    if runtime.startswith("nodejs"):
        return "node"
    return ""


def python_version(runtime: str) -> str:
    """"python3.13" -> "3.13"."""
    return runtime.removeprefix("python")


def suite_of(runtime: str) -> str:
    """The Debian suite the runtime's image is built on (runtimes/<runtime>/base)."""
    try:
        return (RUNTIMES_DIR / runtime / "base").read_text().strip() or "bookworm"
    except OSError:
        return "bookworm"


def manylinux_platforms(runtime: str) -> list[str]:
    """Every manylinux tag the runtime's glibc runs, newest first, for this
    host's architecture (functions run on the host's: Architectures)."""
    arch = platform.machine()
    newest = GLIBC_MINOR.get(suite_of(runtime), GLIBC_MINOR["bookworm"])
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(newest, OLDEST_MANYLINUX_MINOR - 1, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def _pip(runtime: str, manifest: str) -> Installer:
    version = python_version(runtime)
    argv = [
        sys.executable, "-m", "pip", "install", "--requirement", manifest, "--target", "_packages",
        "--python-version", version, "--implementation", "cp", "--only-binary=:all:",
        "--no-input", "--disable-pip-version-check", "--progress-bar", "off", "--no-warn-script-location",
    ]
    for tag in manylinux_platforms(runtime):
        argv += ["--platform", tag]
    return Installer(
        tool=f"pip (for Python {version}, {platform.machine()})",
        argv=argv,
        packages_dir="_packages",
        env={"PYTHONNOUSERSITE": "1", "PIP_NO_COLOR": "1"},
        hint_on_failure=(
            f"pip could not find or download a ready-built package (a wheel) for Python {version} on "
            f"Linux {platform.machine()} for each requirement. Stratus installs ready-built packages "
            "only and never compiles one from its source code, because the function's Python is not "
            "the one pip runs on. Check each package's name and version, and that the package "
            f"publishes a wheel for Python {version} on Linux (its \"Download files\" page on PyPI)."
        ),
        # Not for a requirements.txt that pip cannot read ("Invalid requirement").
        hint_when=r"no matching distribution|could not find a version|wheel|platform",
    )


def _runtime_image_with_npm(runtime: str) -> str | None:
    """The runtime's image when it exists here and has npm, else None."""
    if not shutil.which("docker"):
        return None
    from runtimes.build import runtime_image

    if not (RUNTIMES_DIR / runtime).is_dir():
        return None
    image = runtime_image(runtime)
    try:
        # Only an image built here: never a pull from a registry.
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30).returncode:
            return None
        found = subprocess.run(
            ["docker", "run", "--rm", "--pull", "never", "--network", "none", "--entrypoint", "sh",
             image, "-c", "command -v npm"],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return image if found.returncode == 0 and found.stdout.strip() else None


def _npm(runtime: str, folder: Path) -> Installer:
    command = "ci" if (folder / "package-lock.json").exists() else "install"
    # --ignore-scripts: no package's install script (the code's own or a
    # dependency's) runs on the worker's host; addons built by scripts are
    # not, prebuilt ones in the packages are.
    npm_args = ["npm", command, "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund",
                "--no-update-notifier"]
    hint = "Check the package names and versions in package.json."
    image = _runtime_image_with_npm(runtime)
    if image is not None:
        # The runtime's own Node.js and npm, so native addons match it; the
        # host's network for the registry; our uid so the files are ours.
        argv = [
            "docker", "run", "--rm", "--pull", "never", "--network", "host",
            "-u", f"{os.getuid()}:{os.getgid()}",
            "-e", "HOME=/tmp", "-e", "npm_config_cache=/tmp/.npm", "-v", f"{folder}:/build",
            "-w", "/build", "--entrypoint", npm_args[0], image, *npm_args[1:],
        ]
        return Installer(f"npm in {image}", argv, "", {}, hint)
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError(
            f"No npm to install the dependencies of {runtime}: build the runtime's image "
            "(python -m runtimes.build --all) or install npm on the worker's host."
        )
    return Installer("npm (the host's)", [npm, *npm_args[1:]], "", {}, hint)


def installer_for(runtime: str, manifest: str, folder: Path) -> Installer:
    """The tool that installs `manifest` (requirements.txt, package.json) in
    `folder` for `runtime`. InstallError when this host has none."""
    kind = language(runtime)
    if kind == "python":
        return _pip(runtime, manifest)
    if kind == "node":
        return _npm(runtime, folder)
    raise InstallError(f"The runtime {runtime} has no dependency builds.")


def _die_with_parent() -> None:
    """In the installer's process, before exec: Linux kills it when the
    worker that started it dies (a killed worker must not leave pip or npm
    running; the build is run again by another task)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run(
    installer: Installer, folder: Path, *, timeout_s: float,
    on_line: Callable[[str], None], on_tick: Callable[[], None], tick_s: float = 1.0,
) -> int | None:
    """Run the installer in `folder`, each output line (stdout and stderr
    merged) to `on_line`, `on_tick` about every `tick_s` seconds (the
    caller's heartbeat). Returns the exit status, or None when the time
    limit ended it (its whole process group is killed)."""
    env = {**os.environ, **installer.env}
    proc = subprocess.Popen(
        installer.argv, cwd=folder, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        bufsize=1, start_new_session=True, preexec_fn=_die_with_parent,
    )
    lines: list[str] = []
    lock = threading.Lock()

    def read():
        for line in proc.stdout:
            with lock:
                lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, name="install-output", daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    timed_out = False
    while True:
        try:
            proc.wait(timeout=tick_s)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
        with lock:
            taken, lines[:] = list(lines), []
        for line in taken:
            on_line(line)
        if finished:
            break
        on_tick()
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            break
    reader.join(timeout=5)
    for line in lines:
        on_line(line)
    return None if timed_out else proc.returncode
