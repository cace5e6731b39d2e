"""The function an Invoke names, kept per web process.

Invoke is the one call made many times a second, and looking the function
up was a fifth of the web's work for it. Copies are dropped when any
process saves or deletes a function (functions.changes) and live at most
TTL_S in case that news was lost. The worker never uses them: it checks the
revision it is given against its own copy."""

import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from functions import changes
from functions.models import Function, Team

TTL_S = 10.0
_cache: dict[tuple, tuple[float, Function]] = {}


def cached(team: Team, name: str) -> Function | None:
    """The copy, or None when there is none (call function() from a thread)."""
    hit = _cache.get((team.id, name))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def function(team: Team, name: str) -> Function | None:
    """The team's function of that name (its code bundle is read only if
    something uses it), or None."""
    found = cached(team, name)
    if found is not None:
        return found
    fn = Function.objects.filter(team=team, name=name).first()
    if fn is None:
        _cache.pop((team.id, name), None)
        return None
    fn.team = team
    _cache[(team.id, name)] = (time.monotonic() + TTL_S, fn)
    return fn


@changes.on_change
def _dropped(what: str | None) -> None:
    if what in (None, "function"):
        _cache.clear()


@receiver(post_save, sender=Function)
@receiver(post_delete, sender=Function)
def _changed(sender, instance: Function, **kwargs) -> None:
    changes.announce("function")


def forget(fn: Function) -> None:
    _cache.pop((fn.team_id, fn.name), None)
