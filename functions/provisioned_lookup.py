"""Provisioned aliases and versions resolved before their first call, in
every web process.

Lambda's promise for provisioned concurrency is that the first call is as
quick as a warm one. A warm call finds its function and its qualifier's
resolution in this process's memory (functions.lookup); the first call on a
new alias would read the function, the alias and its version(s) in a thread
first. So a thread here keeps every provisioned configuration's function
and qualifier in lookup's copies: it reads them (four queries for all
configurations) when a function, version, alias or configuration changes
(functions.changes: "function", "provisioned", or anything after a
reconnect) and every REFRESH_S, so the copies never reach their TTL. The
teams' concurrency terms (invocations.concurrency.terms, dropped on the same
changes) are read with them."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from functions import changes, lookup, qualifiers
from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig
from invocations import concurrency

log = logging.getLogger(__name__)
REFRESH_S = lookup.TTL_S / 2
_wake = threading.Event()
_started = False

# PutProvisionedConcurrencyConfig (a save) and its deletion wake every web
# process's preload; the upkeep's status updates (queryset.update) do not.
changes.announce_saves(ProvisionedConcurrencyConfig, "provisioned")


def start() -> None:
    """Start this process's preloading thread (once; not when the setting
    STRATUS_PRELOAD_PROVISIONED is off, as in the unit tests)."""
    global _started
    if _started or not settings.STRATUS_PRELOAD_PROVISIONED:
        return
    _started = True
    changes.on_change(_changed)
    threading.Thread(target=_serve, name="provisioned-lookup", daemon=True).start()


def _changed(what: str | None) -> None:
    if what in (None, "function", "provisioned"):
        _wake.set()


def _serve() -> None:
    while True:
        _wake.wait(REFRESH_S)
        _wake.clear()
        try:
            close_old_connections()
            preload()
        except Exception as e:  # noqa: BLE001 - the next round tries again; calls read rows meanwhile
            log.warning("could not preload provisioned qualifiers: %s", e)


def configured() -> tuple[list[tuple], dict, set]:
    """What the provisioned configurations keep warm, for this module and
    the worker's (invocations.provisioned_versions): every configuration as
    (function id, qualifier); the aliases they name, {(function id, name):
    Alias}; and the published versions they run, {(function id, version
    number)}: a version's own, an alias's version and its additional
    version. One query, two when a configuration names an alias."""
    configs = list(ProvisionedConcurrencyConfig.objects.values_list("function_id", "qualifier"))
    return (configs, *versions_of(configs))


def versions_of(configs: list[tuple]) -> tuple[dict, set]:
    """configured()'s aliases and versions for `configs`, (function id,
    qualifier) pairs already read (invocations.provisioning reads the whole
    rows): no query, one when a configuration names an alias."""
    wanted = {(fid, int(q)) for fid, q in configs if qualifiers.is_version(q)}
    names = [q for _, q in configs if not qualifiers.is_version(q)]
    aliases: dict = {}
    if names:
        named = set(configs)
        aliases = {(a.function_id, a.name): a for a in Alias.objects.filter(
            function_id__in={fid for fid, _ in configs}, name__in=names) if (a.function_id, a.name) in named}
    for alias in aliases.values():
        extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        for version in (alias.function_version, *extra):
            if qualifiers.is_version(str(version)):
                wanted.add((alias.function_id, int(version)))
    return aliases, wanted


def preload() -> int:
    """Put every provisioned configuration's function and qualifier into
    lookup's copies (four queries in all: configured()'s, the functions
    and the versions); returns how many qualifiers were stored (0 when the
    copies were dropped meanwhile: the next round reads again)."""
    seen = lookup.generation()
    configs, aliases, wanted = configured()
    if not configs:
        return 0
    function_ids = {function_id for function_id, _ in configs}
    functions = {fn.id: fn for fn in Function.objects.select_related("team").filter(id__in=function_ids)}
    versions = {(v.function_id, str(v.version)): v for v in FunctionVersion.objects.filter(
        function_id__in={fid for fid, _ in wanted}, version__in={n for _, n in wanted})}
    found: dict = {}
    for function_id, qualifier in configs:
        fn = functions.get(function_id)
        if fn is None:
            continue
        try:
            found.setdefault(function_id, {})[qualifier] = lookup.build_qualified(
                fn, qualifier, lambda name, fid=function_id: aliases.get((fid, name)),
                lambda version, fid=function_id: versions.get((fid, version)),
            )
        except qualifiers.QualifierNotFound:
            continue
    stored = 0
    for function_id, resolved in found.items():
        if lookup.keep(seen, functions[function_id], resolved):
            stored += len(resolved)
    # A call also needs its team's concurrency terms (dropped on every
    # function change, as the copies are): read now rather than by the call,
    # and read again every round (fresh), so they never reach their
    # TERMS_TTL_S: a first call long after READY found them expired and read
    # them in a thread (about 1 ms).
    for team_id in {fn.team_id for fn in functions.values() if fn.reserved_concurrency is None}:
        concurrency.terms(team_id, fresh=True)
    return stored
