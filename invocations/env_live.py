"""The environments views, live: what changed reaches the watching
browsers (Channels groups `envs-<scope>`, see invocations.env_state for
scopes) within a moment, without costing a warm call anything but a set
update in memory.

The pool calls `touch(scopes)` when environments of those scopes change
state (leased, given back) and `event(...)` when one starts, is
specialised or is removed (reaped, OOM-killed...). A thread of each
process (started lazily, so a forked Celery child gets its own) wakes at
most every FLUSH_INTERVAL_S: it stores the events in Redis (the feed a page
shows when opened), asks which groups someone watches (invocations.live),
and for those only renders each scope's table body anew and sends it with
the scope's new events. A table is rendered from Redis and the rows after
the change it follows was applied, and a burst of busy <-> warm flips
costs one render per interval: coalesced, and eventually right."""

import logging
import os
import threading
import time

from django.db import close_old_connections
from django.template.loader import render_to_string

from invocations import env_state, live, redis_link

log = logging.getLogger(__name__)
# At most this many renders per second per scope and process.
FLUSH_INTERVAL_S = 0.25


def group(scope: str) -> str:
    return f"envs-{scope}"


def rows_fragment(scope: str, views=None) -> str:
    """A scope's table body, swapped in out-of-band by id (`envs-<scope>`)."""
    if views is None:
        views = env_state.snapshot(scope)
    return render_to_string("invocations/env_rows.html", {"scope": scope, "envs": views, "oob": True})


def events_fragment(events: list[dict]) -> str:
    """New feed entries (oldest first in `events`), put at the feed's top."""
    return render_to_string("invocations/env_events_live.html", {"events": list(reversed(events))})


class _Notifier:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """A fresh state: at start, and in a forked child (a Celery prefork
        child may be forked while the parent's thread holds the lock, and
        it inherits neither the thread nor what its parent had not sent)."""
        self.pid = None
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.dirty: set[str] = set()
        self.events: list[tuple[tuple[str, ...], dict]] = []

    def _ensure(self) -> None:
        if self.pid != os.getpid():
            with self.lock:
                if self.pid != os.getpid():
                    threading.Thread(target=self._run, name="env-live", daemon=True).start()
                    self.pid = os.getpid()

    def touch(self, scopes) -> None:
        self._ensure()
        with self.lock:
            self.dirty.update(scopes)
        self.wake.set()

    def add(self, scopes: tuple[str, ...], event: dict) -> None:
        self._ensure()
        with self.lock:
            self.events.append((scopes, event))
            self.dirty.update(scopes)
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            # Whatever else changes meanwhile joins this round.
            time.sleep(FLUSH_INTERVAL_S)
            with self.lock:
                self.wake.clear()
                dirty, self.dirty = self.dirty, set()
                events, self.events = self.events, []
            try:
                close_old_connections()
                flush(dirty, events)
            except Exception:  # noqa: BLE001 - live views are best effort
                log.exception("environment live update failed")


def flush(dirty: set[str], events: list[tuple[tuple[str, ...], dict]]) -> None:
    """Store `events`, then send each watched scope of `dirty` its table
    body and its new events."""
    if events:
        def store(client):
            pipe = client.pipeline(transaction=False)
            env_state.store_events(pipe, events)
            pipe.execute()

        redis_link.quietly(store, "environment events")
    watched = set(live.watched([group(s) for s in sorted(dirty)]))
    scopes = [s for s in sorted(dirty) if group(s) in watched]
    for scope, views in env_state.snapshots(scopes).items():
        mine = [event for event_scopes, event in events if scope in event_scopes]
        html = rows_fragment(scope, views)
        if mine:
            html += events_fragment(mine)
        live.send([group(scope)], html)


def tables_fragment(scopes: list[str]) -> str:
    """Every table body of `scopes` as it is now."""
    return "".join(rows_fragment(scope, views) for scope, views in env_state.snapshots(scopes).items())


def current_fragment(scopes: list[str]) -> str:
    """Every table body of `scopes` as it is now, their recent events and
    the "live" mark: a websocket's first message, so nothing that changed
    between the page's render and the connection (or while it was
    reconnecting) is missed."""
    return tables_fragment(scopes) + render_to_string("invocations/env_current.html", {
        "events": env_state.recent_events(scopes),
    })


_notifier = _Notifier()
os.register_at_fork(after_in_child=_notifier.reset)


def touch(scopes) -> None:
    """Environments of `scopes` changed state: re-render them (coalesced)."""
    if scopes:
        _notifier.touch(scopes)


def event(scopes: tuple[str, ...], env_id: str, kind: str, text: str) -> None:
    """Something happened to an environment: `kind` one of started,
    specialised, cold, reaped, oom, removed; `text` says it for people."""
    _notifier.add(scopes, {"t": time.time(), "env": env_id, "kind": kind, "text": text})
