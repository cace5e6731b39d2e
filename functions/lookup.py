"""The function an Invoke names, kept for a second per web process.

Invoke is the one call made many times a second, and looking the function
up was a fifth of the web's work for it. The copy is dropped at once when
this process saves or deletes the function (the signals below; every
change to a function is a save), and lives at most TTL_S, so another web process's
change is seen within a second. The worker never uses it: it reads the
function's current revision with the invocation row itself."""

import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from console import fastsql
from functions.models import Function, Team

TTL_S = 1.0
_cache: dict[tuple, tuple[float, Function]] = {}


def function(team: Team, name: str) -> Function | None:
    key = (team.id, name)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    fn = fastsql.get(Function, {"team": team.id, "name": name})
    if fn is None:
        _cache.pop(key, None)
        return None
    fn.team = team
    _cache[key] = (now + TTL_S, fn)
    return fn


def forget(fn: Function) -> None:
    _cache.pop((fn.team_id, fn.name), None)


@receiver(post_save, sender=Function)
@receiver(post_delete, sender=Function)
def _changed(sender, instance: Function, **kwargs) -> None:
    forget(instance)
