"""Which runtimes there are and the Dockerfile each is built from (stdlib
only: settings check STRATUS_RUNTIMES against it).

A runtime is a folder here named as Lambda names it. The runtimes of one
language share its Dockerfile in ``shared/<language>/``, picked by the name's
prefix (``python3.13`` -> ``shared/python``, ``nodejs22.x`` ->
``shared/node``); what differs between them is data in the runtime's folder
(``base``: the Debian suite, ``node.json``: the Node build, ``vendor.txt``).
A runtime with a recipe of its own (``provided.al2023``) keeps a Dockerfile
in its folder.
"""

from __future__ import annotations

from pathlib import Path

RUNTIMES_DIR = Path(__file__).resolve().parent
SHARED_DIR = RUNTIMES_DIR / "shared"
# Lambda's name prefix -> the folder in shared/ with that language's Dockerfile.
FAMILIES = {"python": "python", "nodejs": "node"}


def dockerfile(runtime: str) -> Path | None:
    """The Dockerfile ``runtime``'s image is built from (its folder's own,
    else its language's), or None when ``runtime`` is no runtime folder."""
    folder = RUNTIMES_DIR / runtime
    if "/" in runtime or runtime.startswith(".") or not folder.is_dir():
        return None
    if (folder / "Dockerfile").is_file():
        return folder / "Dockerfile"
    for prefix, language in FAMILIES.items():
        if runtime.startswith(prefix):
            return SHARED_DIR / language / "Dockerfile"
    return None


def runtime_dir(runtime: str) -> Path:
    if dockerfile(runtime) is None:
        raise ValueError(f"unknown runtime {runtime!r}")
    return RUNTIMES_DIR / runtime


def all_runtimes() -> list[str]:
    """Every runtime folder here, sorted."""
    return sorted(p.name for p in RUNTIMES_DIR.iterdir() if dockerfile(p.name) is not None)
