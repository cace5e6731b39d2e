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
from collections.abc import Callable

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from functions import changes, qualifiers
from functions.models import Alias, Function, FunctionVersion, Team

TTL_S = 10.0
_cache: dict[tuple, tuple[float, Function]] = {}
# (function id, revision, qualifier) -> (expiry, Qualified)
_qualified: dict[tuple, tuple[float, "Qualified"]] = {}
_generation = 0


class Qualified:
    """What a qualifier resolves to, ready for every call: a version's
    frozen copy, or an alias's copies of its one or two versions, picked by
    its RoutingConfig (qualifiers.pick, the one weighting rule). Each copy
    is this qualifier's own (its `.qualifier` never changes), so calls in
    flight can share it."""

    def __init__(self, primary: str, copies: dict[str, Function], routing_config: dict | None = None):
        self.primary, self.copies, self.routing_config = primary, copies, routing_config

    def pick(self, chooser: random.Random | None = None) -> Function:
        return self.copies[qualifiers.pick(self.primary, self.routing_config, chooser)]


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
    hit = cached_qualified(fn, qualifier)
    if hit is not None:
        return hit
    seen = _generation
    try:
        found = build_qualified(
            fn, qualifier, lambda name: Alias.objects.filter(function=fn, name=name).first(),
            lambda version: FunctionVersion.objects.filter(function=fn, version=int(version)).first(),
        )
    except qualifiers.QualifierNotFound:
        return None
    if seen == _generation:  # else dropped while we read: maybe stale
        _qualified[(fn.id, fn.revision, qualifier)] = (time.monotonic() + TTL_S, found)
    return found.pick()


def build_qualified(
    fn: Function, qualifier: str,
    alias_of: Callable[[str], Alias | None],
    version_of: Callable[[str], FunctionVersion | None],
) -> Qualified:
    """What `qualifier` (a version number or an alias name) resolves to,
    from the rows alias_of(name) and version_of("3") give (None: no such
    row); QualifierNotFound when one is missing."""
    if qualifiers.is_version(qualifier):
        return Qualified(qualifier, {qualifier: _version(fn, qualifier, qualifier, version_of)})
    alias = alias_of(qualifier)
    if alias is None:
        raise qualifiers.QualifierNotFound(qualifier)
    extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    versions = [alias.function_version, *(str(version) for version in extra)]
    return Qualified(alias.function_version,
                     {version: _version(fn, version, qualifier, version_of) for version in versions},
                     alias.routing_config)


def _version(fn: Function, version: str, qualifier: str, version_of) -> Function:
    if version == qualifiers.LATEST:
        return _own(qualifiers.resolve(fn, None), qualifier)
    row = version_of(version)
    if row is None:
        raise qualifiers.QualifierNotFound(qualifier)
    return _own(qualifiers.frozen(fn, row), qualifier)


def generation() -> int:
    """Bumped each time the copies are dropped: a reader that saw another
    number before it read must not keep what it read (keep())."""
    return _generation


def keep(seen: int, fn: Function, found: dict[str, Qualified]) -> bool:
    """Store a function and its qualifiers' resolutions read elsewhere
    (functions.provisioned_lookup), unless the copies were dropped since
    generation() said `seen`; whether they were stored."""
    if seen != _generation:
        return False
    expiry = time.monotonic() + TTL_S
    _cache[(fn.team_id, fn.name)] = (expiry, fn)
    for qualifier, resolved in found.items():
        _qualified[(fn.id, fn.revision, qualifier)] = (expiry, resolved)
    return True


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
    global _generation
    if what in (None, "function"):
        _generation += 1
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
