"""Objects' bytes on disk: one immutable file per version of an object (or
part), `STRATUS_OBJECTS_DIR/<2 hex>/<32 hex>`. A file is complete and
fsynced before any row names it, and is removed only after the row that
named it stopped doing so (`remove_on_commit`)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
COPY_CHUNK = 1024 * 1024


def root() -> Path:
    return Path(settings.STRATUS_OBJECTS_DIR)


def spool_dir() -> Path:
    """Where request bodies are spooled: on the same file system as the
    objects, so placing one is a rename."""
    return root() / "tmp"


def path_of(blob: str) -> Path:
    return root() / blob[:2] / blob


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def place(spooled: Path) -> str:
    """Move a complete, fsynced file into the store; its new blob name."""
    blob = uuid.uuid4().hex
    target = path_of(blob)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(spooled, target)
    _fsync_dir(target.parent)
    return blob


def copy(blob: str) -> str:
    """A new blob with the same bytes: a hard link (files are never changed
    in place), or a copy where the file system has none."""
    new = uuid.uuid4().hex
    target = path_of(new)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path_of(blob), target)
    except OSError:
        spooled = _spooled_file()
        with open(path_of(blob), "rb") as source, open(spooled, "wb") as out:
            shutil.copyfileobj(source, out, COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(spooled, target)
    _fsync_dir(target.parent)
    return new


def copy_range(blob: str, first: int, length: int) -> tuple[str, str]:
    """A new blob holding `length` bytes of `blob` from byte `first`
    (UploadPartCopy), and the MD5 (hex) of those bytes."""
    spooled = _spooled_file()
    digest = hashlib.md5()
    try:
        with open(path_of(blob), "rb") as source, open(spooled, "wb") as out:
            source.seek(first)
            left = length
            while left > 0:
                chunk = source.read(min(COPY_CHUNK, left))
                if not chunk:
                    raise OSError(f"object file {blob} ended {left} bytes early")
                digest.update(chunk)
                out.write(chunk)
                left -= len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return place(spooled), digest.hexdigest()
    except BaseException:
        spooled.unlink(missing_ok=True)
        raise


def concatenate(blobs: list[str]) -> str:
    """One new blob holding `blobs` one after the other (a completed
    multipart upload), written in chunks."""
    spooled = _spooled_file()
    try:
        with open(spooled, "wb") as out:
            for blob in blobs:
                with open(path_of(blob), "rb") as source:
                    shutil.copyfileobj(source, out, COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        return place(spooled)
    except BaseException:
        spooled.unlink(missing_ok=True)
        raise


def _spooled_file() -> Path:
    spool_dir().mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=spool_dir(), prefix="copy-", suffix=".part")
    os.close(fd)
    return Path(name)


def remove(*blobs: str | None) -> None:
    for blob in blobs:
        if blob:
            try:
                path_of(blob).unlink()
            except FileNotFoundError:
                pass
            except OSError:
                log.exception("could not remove object file %s", blob)


def remove_on_commit(*blobs: str | None) -> None:
    """Remove files once the transaction that stopped naming them commits
    (at once outside a transaction)."""
    names = [b for b in blobs if b]
    if names:
        transaction.on_commit(lambda: remove(*names))


def open_blob(blob: str):
    return open(path_of(blob), "rb")
