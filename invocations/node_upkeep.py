"""The background work of a worker's main process.

Every worker records sync calls (invocations.recorder) and flushes the
recorded metrics into the database (metrics.flush). A worker that runs
invocations also looks after its node : every second it tops up the pre-warmed
pool of generic environments (invocations.pool.refill) and keeps provisioned
concurrency's environments (invocations.provisioning.upkeep), and every
STRATUS_REAP_INTERVAL seconds the reaper (invocations.pool.reap) removes
idle, stale and orphaned environments. Two workers of one node doing this at once is harmless: every
removal is won by one of them."""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from invocations import nodes, pool, provisioning, recorder
from metrics import flush

log = logging.getLogger(__name__)
_started = False


def start(runs_invocations: bool) -> None:
    global _started
    if _started:
        return
    _started = True
    recorder.start(nodes.worker_id())
    flush.start()
    if runs_invocations:
        threading.Thread(target=_upkeep, name="node-upkeep", daemon=True).start()


# How often the pre-warmed pool is topped up.
REFILL_INTERVAL_S = 1.0


def _upkeep() -> None:
    reaped_at = 0.0
    while True:
        close_old_connections()
        if time.monotonic() - reaped_at >= settings.STRATUS_REAP_INTERVAL:
            reaped_at = time.monotonic()
            nodes.beat()
            _quietly(pool.reap, "reaping this node's environments")
        _quietly(pool.refill, "refilling this node's pool")
        _quietly(provisioning.upkeep, "keeping provisioned concurrency")
        time.sleep(REFILL_INTERVAL_S)


def _quietly(job, what: str) -> None:
    try:
        job()
    except Exception as e:  # noqa: BLE001 - next round tries again
        log.warning("%s failed: %s", what, e)
