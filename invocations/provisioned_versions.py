"""Provisioned versions read before their first call, in every worker
process that serves calls.

The worker keeps a function's published versions per process
(invocations.runner.function_for): the first call of a version in a
process reads it (one query). For a version kept by provisioned
concurrency that first call is Lambda's promise of warm speed, so a thread
in each such process reads every provisioned configuration's versions
ahead of it: when a configuration, function, version or alias changes
(the `<instance>:changed` announcements of functions.changes: "provisioned",
"function"; everything after a reconnect) and every REFRESH_S. A version
never changes once published, so only new ones cost a query."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from functions import changes, provisioned_lookup
from invocations import runner

log = logging.getLogger(__name__)
REFRESH_S = 10.0
_started = False


def start() -> None:
    """Start this process's reading thread (once)."""
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=_serve, name="provisioned-versions", daemon=True).start()


def _serve() -> None:
    def heard(what: str | None) -> None:
        if what in (None, "provisioned", "function"):
            _quietly()

    # Read again every REFRESH_S with no announcement too, and every
    # REFRESH_S while Redis is away.
    changes.follow(heard, idle_s=REFRESH_S, retry_s=REFRESH_S, who="provisioned versions")


def _quietly() -> None:
    try:
        close_old_connections()
        preload()
    except Exception as e:  # noqa: BLE001 - the next round tries again; a call reads its version itself
        log.warning("could not read the provisioned versions: %s", e)


def wanted() -> set[tuple[str, str]]:
    """(function id, version) of every provisioned configuration: a
    version's own, an alias's version and its additional version (read as
    the web's preload reads them: functions.provisioned_lookup.configured)."""
    return {(str(fid), str(version)) for fid, version in provisioned_lookup.configured()[2]}


def preload() -> int:
    """Read the provisioned versions this process does not have yet (one
    query each); returns how many were read."""
    read = 0
    for function_id, version in wanted():
        if not runner.has_version(function_id, version):
            read += runner.function_for(function_id, None, version) is not None
    return read
