"""The HTTP routes, matched in memory.

Each web process keeps every enabled route with its function, loaded in one
query and dropped when any process saves or deletes a route or a function
(functions.changes), or after TTL_S in case that news was lost. When a
route fired is noted in memory and written at most once a second per route
(`flush_fired`), off the request path: SQLite has one writer, and a write
per request was most of a route's cost."""

import threading
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from functions import changes
from triggers import route_paths
from triggers.models import HttpRoute

TTL_S = 10.0
_table: tuple[float, dict[str, list[HttpRoute]]] | None = None
_fired: dict = {}
_fired_lock = threading.Lock()


def cached() -> dict[str, list[HttpRoute]] | None:
    """Routes by method ("ANY" included), or None when not loaded (call
    load() from a thread then)."""
    if _table is not None and _table[0] > time.monotonic():
        return _table[1]
    return None


def load() -> dict[str, list[HttpRoute]]:
    global _table
    found = cached()
    if found is not None:
        return found
    by_method: dict[str, list[HttpRoute]] = {}
    for route in HttpRoute.objects.filter(enabled=True).select_related("function__team"):
        by_method.setdefault(route.method, []).append(route)
    _table = (time.monotonic() + TTL_S, by_method)
    return by_method


def match(table: dict[str, list[HttpRoute]], method: str, path: str):
    """(route, path parameters) of the most specific route, or None."""
    candidates = table.get(method, []) + table.get(route_paths.ANY, [])
    return route_paths.best_match(candidates, method, path)


def note_fired(route: HttpRoute) -> None:
    with _fired_lock:
        _fired[route.pk] = timezone.now()


def flush_fired() -> int:
    """Write the noted fire times (one UPDATE per route); returns how many."""
    with _fired_lock:
        pending = dict(_fired)
        _fired.clear()
    for pk, when in pending.items():
        HttpRoute.objects.filter(pk=pk).update(last_fired_at=when)
    return len(pending)


@changes.on_change
def _dropped(what: str | None) -> None:
    global _table
    if what in (None, "route", "function"):
        _table = None


@receiver(post_save, sender=HttpRoute)
@receiver(post_delete, sender=HttpRoute)
def _changed(sender, instance, **kwargs) -> None:
    changes.announce("route")
