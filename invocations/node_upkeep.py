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

from functions import changes
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
# Set by a "provisioned" announcement (functions.changes: a configuration
# saved, e.g. by PutProvisionedConcurrencyConfig, or by UpdateAlias moving
# a provisioned alias to another version): the upkeep keeps provisioned
# concurrency at once, before the pool's refill (which may be starting a
# container), rather than after the rest of its sleep.
_provisioned_changed = threading.Event()
LISTEN_RETRY_S = 5.0


def _upkeep() -> None:
    reaped_at = 0.0
    threading.Thread(target=_listen, name="node-upkeep-listen", daemon=True).start()
    while True:
        close_old_connections()
        if _provisioned_changed.is_set():
            _provisioned_changed.clear()
            _quietly(provisioning.upkeep, "keeping provisioned concurrency")
        if time.monotonic() - reaped_at >= settings.STRATUS_REAP_INTERVAL:
            reaped_at = time.monotonic()
            nodes.beat()
            _quietly(pool.reap, "reaping this node's environments")
        _quietly(pool.refill, "refilling this node's pool")
        _quietly(provisioning.upkeep, "keeping provisioned concurrency")
        _provisioned_changed.wait(REFILL_INTERVAL_S)


def _listen() -> None:
    """Wake the upkeep on every "provisioned" announcement (and after a
    reconnect: one may have been missed). Without Redis the upkeep still
    runs every REFILL_INTERVAL_S."""
    def heard(what: str | None) -> None:
        if what in (None, "provisioned"):
            _provisioned_changed.set()

    changes.follow(heard, idle_s=None, retry_s=LISTEN_RETRY_S, who="node upkeep")


def _quietly(job, what: str) -> None:
    try:
        job()
    except Exception as e:  # noqa: BLE001 - next round tries again
        log.warning("%s failed: %s", what, e)
