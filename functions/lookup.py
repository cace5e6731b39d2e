"""The function an Invoke names, kept per web process, and the version an
alias or version qualifier resolves to (functions.qualifiers).

Invoke is the one call made many times a second, and looking the function
up was a fifth of the web's work for it. Copies are dropped when any
process saves or deletes a function (functions.changes) and live at most
TTL_S in case that news was lost. The worker never uses them: it checks the
revision it is given against its own copy."""

import copy
import random
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from functions import changes, qualifiers
from functions.models import Alias, Function, FunctionVersion, Team

TTL_S = 10.0
_cache: dict[tuple, tuple[float, Function]] = {}
# (function id, revision, qualifier) -> (expiry, Qualified)
_qualified: dict[tuple, tuple[float, "Qualified"]] = {}


class Qualified:
    """What a qualifier resolves to, ready for every call: a version's
    frozen copy, or an alias's one or two (with the additional version's
    weight). Each copy is this qualifier's own (its `.qualifier` never
    changes), so calls in flight can share it."""

    def __init__(self, primary: Function, extra: Function | None = None, weight: float = 0.0):
        self.primary, self.extra, self.weight = primary, extra, weight

    def pick(self, chooser: random.Random | None = None) -> Function:
        if self.extra is not None and (chooser or random).random() < self.weight:
            return self.extra
        return self.primary


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


def cached_qualified(fn: Function, qualifier: str) -> Function | None:
    """The version `qualifier` sends this call to (an alias picks by weight),
    from memory; None: call qualified() from a thread."""
    hit = _qualified.get((fn.id, fn.revision, qualifier))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1].pick()
    return None


def qualified(fn: Function, qualifier: str) -> Function | None:
    """As qualifiers.resolve (a version's frozen copy, an alias's pick),
    kept TTL_S or until a version or alias changes; None when the version
    or alias does not exist."""
    hit = _qualified.get((fn.id, fn.revision, qualifier))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1].pick()
    try:
        if qualifiers.is_version(qualifier):
            found = Qualified(_own(qualifiers.resolve(fn, qualifier), qualifier))
        else:
            alias = Alias.objects.filter(function=fn, name=qualifier).first()
            if alias is None:
                raise qualifiers.QualifierNotFound(qualifier)
            extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
            primary = _own(qualifiers.resolve(fn, alias.function_version), qualifier)
            found = Qualified(primary)
            for version, weight in extra.items():
                other = _own(qualifiers.resolve(fn, str(version)), qualifier)
                found = Qualified(primary, other, float(weight))
    except qualifiers.QualifierNotFound:
        return None
    _qualified[(fn.id, fn.revision, qualifier)] = (time.monotonic() + TTL_S, found)
    return found.pick()


def function_qualified(team: Team, name: str, qualifier: str) -> Function | None:
    """function() then qualified(): the version `name:qualifier` runs, or None."""
    fn = function(team, name)
    return None if fn is None else qualified(fn, qualifier)


def _own(resolved: Function, qualifier: str) -> Function:
    if resolved.executed_version == qualifiers.LATEST:
        # resolve() gives $LATEST as the shared function itself.
        resolved = copy.copy(resolved)
        resolved.executed_version = qualifiers.LATEST
    resolved.qualifier = qualifier
    return resolved


@changes.on_change
def _dropped(what: str | None) -> None:
    if what in (None, "function"):
        _cache.clear()
        _qualified.clear()


changes.announce_saves(FunctionVersion, "function")
changes.announce_saves(Alias, "function")


@receiver(post_save, sender=Function)
@receiver(post_delete, sender=Function)
def _changed(sender, instance: Function, **kwargs) -> None:
    changes.announce("function")


def forget(fn: Function) -> None:
    _cache.pop((fn.team_id, fn.name), None)
