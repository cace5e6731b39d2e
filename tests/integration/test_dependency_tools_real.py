"""The dependency installers for real (functions.dependency_install),
against the registries this machine reaches, without a stack: pip chooses
wheels for the runtime's Python (python3.13 on a 3.11 host: a compiled
package comes as a cp313 manylinux wheel), says so when only wheels for
another Python exist, and npm installs a package.json (the host's npm
while no Node.js runtime image is built here)."""

import json
import subprocess
from pathlib import Path

import pytest

from functions import dependency_install

pytestmark = pytest.mark.integration


def install(runtime: str, manifest: str, folder: Path, timeout_s: float = 300) -> tuple:
    lines: list[str] = []
    installer = dependency_install.installer_for(runtime, manifest, folder)
    status = dependency_install.run(installer, folder, timeout_s=timeout_s, on_line=lines.append,
                                    on_tick=lambda: None)
    return status, lines


def test_pip_installs_wheels_for_the_runtimes_python_not_the_hosts(tmp_path):
    (tmp_path / "requirements.txt").write_text("markupsafe==3.0.2\n")
    status, lines = install("python3.13", "requirements.txt", tmp_path)
    assert status == 0, "\n".join(lines)
    wheel = next((tmp_path / "_packages").glob("[Mm]arkup[Ss]afe-3.0.2.dist-info")) / "WHEEL"
    tags = [line.split(": ", 1)[1] for line in wheel.read_text().splitlines() if line.startswith("Tag: ")]
    assert tags and all(tag.startswith("cp313-cp313-manylinux") for tag in tags), tags
    assert list((tmp_path / "_packages" / "markupsafe").glob("_speedups.cpython-313-*.so"))


def test_pip_fails_clearly_for_a_missing_package(tmp_path):
    (tmp_path / "requirements.txt").write_text("stratus-no-such-package-xyz\n")
    status, lines = install("python3.11", "requirements.txt", tmp_path)
    assert status not in (0, None)
    assert any("No matching distribution found for stratus-no-such-package-xyz" in line for line in lines)


def test_npm_installs_a_package_json(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"name": "t", "version": "1.0.0",
                                                       "dependencies": {"left-pad": "1.3.0"}}))
    installer = dependency_install.installer_for("nodejs20.x", "package.json", tmp_path)
    assert installer.tool == "npm (the host's)"  # no Node.js runtime image built here yet
    status, lines = install("nodejs20.x", "package.json", tmp_path)
    assert status == 0, "\n".join(lines)
    out = subprocess.run(["node", "-e", "console.log(require('left-pad')('7', 3, '0'))"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "007"


def test_a_tool_past_the_time_limit_is_killed(tmp_path):
    installer = dependency_install.Installer("sleep", ["sh", "-c", "echo start; sleep 60"], "", {})
    lines: list[str] = []
    status = dependency_install.run(installer, tmp_path, timeout_s=1, on_line=lines.append,
                                    on_tick=lambda: None)
    assert status is None and lines == ["start"]
