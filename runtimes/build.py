"""Build the runtime images: ``python -m runtimes.build [--force]``.

The image tag is a hash of the runtime folder's files, so editing the bootstrap
produces a new tag (and a rebuild) while a second run is a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
from docker.errors import ImageNotFound

RUNTIMES_DIR = Path(__file__).resolve().parent
DEFAULT_RUNTIME = "python3.11"
LOCAL_BASE = "stratus-base:bookworm"


def runtime_dir(runtime: str) -> Path:
    path = RUNTIMES_DIR / runtime
    if not (path / "Dockerfile").is_file():
        raise ValueError(f"unknown runtime {runtime!r}")
    return path


def runtime_tag(runtime: str) -> str:
    """First 12 hex of sha256 over the runtime folder's files (names and bytes)."""
    digest = hashlib.sha256()
    root = runtime_dir(runtime)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def runtime_image(runtime: str) -> str:
    """The image name the platform should run for ``runtime`` (does not build)."""
    return f"stratus/{runtime}:{runtime_tag(runtime)}"


def _image_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except ImageNotFound:
        return False


def ensure_local_base(client: docker.DockerClient) -> str:
    """Create ``stratus-base:bookworm`` from a debootstrap'd rootfs if missing."""
    if _image_exists(client, LOCAL_BASE):
        return LOCAL_BASE
    cache = Path(os.environ.get("STRATUS_CACHE_DIR", "/var/cache/stratus"))
    rootfs = cache / "rootfs"
    if not rootfs.is_dir():
        if shutil.which("debootstrap") is None:
            print(
                "debootstrap is not installed: run `apt-get install debootstrap` "
                "(or set STRATUS_BASE_IMAGE to an image with python3.11)",
                file=sys.stderr,
            )
            sys.exit(1)
        mirror = os.environ.get("STRATUS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
        cache.mkdir(parents=True, exist_ok=True)
        # Build next to the final path and rename on success: a killed build
        # leaves only a temp folder, never a half rootfs that looks complete.
        tmp = Path(tempfile.mkdtemp(prefix="rootfs.tmp-", dir=cache))
        print(f"debootstrap bookworm into {tmp} (about a minute)", flush=True)
        try:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=python3",
                    "bookworm",
                    str(tmp),
                    mirror,
                ],
                check=True,
            )
            tmp.rename(rootfs)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    print(f"importing {rootfs} as {LOCAL_BASE}", flush=True)
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    imp = subprocess.run(
        ["docker", "import", "-", LOCAL_BASE], stdin=tar.stdout, check=False
    )
    tar.stdout.close()  # type: ignore[union-attr]
    if tar.wait() != 0 or imp.returncode != 0:
        print("docker import of the base rootfs failed", file=sys.stderr)
        sys.exit(1)
    return LOCAL_BASE


def vendored(runtime: str) -> list[tuple[str, str]]:
    """(distribution, version) pairs of the runtime's vendor.txt ([] without one)."""
    path = runtime_dir(runtime) / "vendor.txt"
    if not path.is_file():
        return []
    pairs = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pairs.append((name.strip(), version.strip()))
    return pairs


def stage_context(runtime: str, into: Path) -> Path:
    """The build context in `into`: the runtime folder, plus `lib/` with
    the files of each vendor.txt distribution copied from this Python's
    environment (the platform's virtualenv, where bin/setup installed
    requirements.txt), so the image needs neither network nor pip. Exits
    with a message when a distribution is missing or of another version."""
    context = into / "context"
    shutil.copytree(runtime_dir(runtime), context, ignore=shutil.ignore_patterns("__pycache__"))
    lib = context / "lib"
    lib.mkdir(exist_ok=True)
    for name, version in vendored(runtime):
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            sys.exit(f"{name}=={version} is not installed in {sys.prefix}: run bin/setup first")
        if dist.version != version:
            sys.exit(
                f"{runtime}/vendor.txt wants {name}=={version}, but {sys.prefix} has {dist.version}: "
                "make them agree (requirements.txt pins the platform's)"
            )
        for file in dist.files or []:
            parts = file.parts
            if parts[0] == ".." or file.suffix == ".pyc" or "__pycache__" in parts:
                continue
            target = lib.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dist.locate_file(file), target)
    return context


def build(runtime: str = DEFAULT_RUNTIME, force: bool = False) -> str:
    """Build (if needed) and return the content-hash image name for ``runtime``."""
    client = docker.from_env()
    image = runtime_image(runtime)
    if not force and _image_exists(client, image):
        print(f"runtime image {image} is present")
        return image
    base = os.environ.get("STRATUS_BASE_IMAGE") or ensure_local_base(client)
    print(f"building {image} from {base}", flush=True)
    staging = Path(tempfile.mkdtemp(prefix=f"stratus-{runtime}-"))
    try:
        image_id = _build(client, runtime, image, base, force, stage_context(runtime, staging))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    repo = image.rsplit(":", 1)[0]
    client.api.tag(image_id, repo, "latest")
    print(f"built {image} (also {repo}:latest)")
    return image


def _build(client, runtime: str, image: str, base: str, force: bool, context: Path) -> str:
    image_id = None
    for chunk in client.api.build(
        path=str(context),
        tag=image,
        rm=True,
        forcerm=True,
        pull=False,
        nocache=force,
        buildargs={"BASE_IMAGE": base},
        # The host's network for RUN steps that fetch Debian packages
        # (provided.al2023's curl): the engine may have no bridge at all
        # (bin/setup starts dockerd --bridge=none).
        network_mode="host",
        decode=True,
    ):
        if "stream" in chunk:
            sys.stdout.write(chunk["stream"])
            sys.stdout.flush()
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        if "error" in chunk:
            print(chunk["error"], file=sys.stderr)
            sys.exit(1)
    return image_id or client.images.get(image).id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build Stratus runtime images.")
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME)
    args = parser.parse_args(argv)
    build(args.runtime, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
