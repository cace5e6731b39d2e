"""Removes the spool files that no upload will finish.

A request body is spooled to `STRATUS_OBJECTS_DIR/tmp/upload-*.part`
(awsapi.spool: PutObject, UploadPart, the console's upload door) and a copy
to `copy-*.part` (buckets.storage); the request removes or places its file
when it ends, but a process killed mid-upload (kill -9, out of memory, a
power cut) leaves it behind for good. `sweep()` removes such a file when
both hold:

- its mtime is older than STRATUS_SPOOL_MAX_AGE seconds (default 3600).
  The spooler writes every 1 MiB (awsapi.spool.WRITE_EVERY), which moves
  the mtime; the doors set no timeout on a request body, so a client slower
  than 1 MiB an hour could still look stale by age alone, hence:
- no process (of this user: the web, the workers) has it open. A file an
  upload in progress is writing is open in that upload's process
  (/proc/<pid>/fd on Linux; elsewhere the age alone decides).

It runs at the web's start (console.asgi) and as the periodic task
`buckets.sweep_spool` (every STRATUS_SPOOL_SWEEP_INTERVAL seconds, on the
periodic queue). Only this host's spool folder is seen: every node's web
sweeps its own at start."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from django.conf import settings

from buckets import storage

log = logging.getLogger(__name__)
# Names awsapi.spool and buckets.storage give their temporary files; nothing
# else in the folder is ours to remove.
PREFIXES = ("upload-", "copy-")
SUFFIX = ".part"


def sweep(max_age_s: float | None = None) -> int:
    """Remove the stale spool files (above) of this host; returns how many.
    `max_age_s` defaults to STRATUS_SPOOL_MAX_AGE. A missing folder is
    nothing to sweep; a file that vanishes meanwhile (its upload finished)
    is skipped."""
    max_age_s = settings.STRATUS_SPOOL_MAX_AGE if max_age_s is None else max_age_s
    directory = storage.spool_dir()
    try:
        entries = [e for e in os.scandir(directory)
                   if e.name.startswith(PREFIXES) and e.name.endswith(SUFFIX)]
    except FileNotFoundError:
        return 0
    cutoff = time.time() - max_age_s
    old = []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                old.append(entry.path)
        except FileNotFoundError:
            continue
    if not old:
        return 0
    busy = open_files(directory)
    removed = 0
    for path in old:
        if os.path.realpath(path) in busy:
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed += 1
    if removed:
        log.info("removed %d spool file(s) older than %s s from %s", removed, max_age_s, directory)
    return removed


def open_files(directory: Path) -> set[str]:
    """The real paths under `directory` that a process we may look at has
    open (Linux /proc/<pid>/fd; other users' processes are not readable and
    not ours). Empty where there is no /proc."""
    prefix = os.path.realpath(directory) + os.sep
    found: set[str] = set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or another user's
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith(prefix):
                found.add(target)
    return found


def at_start() -> None:
    """The web's start: sweep, and never fail the start over it."""
    try:
        sweep()
    except Exception:  # noqa: BLE001 - a sweep is housekeeping, the web must come up
        log.exception("could not sweep the spool folder at start")
