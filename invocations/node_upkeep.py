"""The background work of a worker's main process.

Every worker records sync calls (invocations.recorder). A worker that runs
invocations also looks after its node every STRATUS_REAP_INTERVAL seconds:
the reaper (invocations.pool.reap) removes idle, stale and orphaned
environments. Two workers of one node doing this at once is harmless: every
removal is won by one of them."""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from invocations import nodes, pool, recorder

log = logging.getLogger(__name__)
_started = False


def start(runs_invocations: bool) -> None:
    global _started
    if _started:
        return
    _started = True
    recorder.start(nodes.worker_id())
    if runs_invocations:
        threading.Thread(target=_upkeep, name="node-upkeep", daemon=True).start()


def _upkeep() -> None:
    while True:
        close_old_connections()
        nodes.beat()
        try:
            pool.reap()
        except Exception as e:  # noqa: BLE001 - next round tries again
            log.warning("reaping this node's environments failed: %s", e)
        time.sleep(settings.STRATUS_REAP_INTERVAL)
