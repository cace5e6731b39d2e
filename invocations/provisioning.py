"""Provisioned concurrency on the nodes: for every configuration
(functions.models.ProvisionedConcurrencyConfig, made by
PutProvisionedConcurrencyConfig) N environments of its version kept
initialised (specialised: the code placed, the handler imported), in total
across the nodes.

Run by every node's upkeep (invocations.node_upkeep) each second:
1. what is wanted: per configuration, its version's environments (an
   alias's split between its two versions by RoutingConfig weight), keyed
   `<config id>:<version>` (Environment.provisioned_for);
2. this node's environments nobody wants any more (the configuration went
   or asks for fewer) are removed once idle (a busy one is removed after
   its call);
3. missing ones are started here, one node at a time per key (a Redis lock):
   a pre-warmed generic environment specialised for the version, else a
   new container; each goes to its version's idle set with a score past
   PROVISIONED_SCORE, so a call takes it before any on-demand environment
   (invocations.pool.lease) and reports no init duration, and the reaper
   leaves it alone; calls beyond N spill over to on-demand environments;
4. each configuration's AllocatedProvisionedConcurrentExecutions and
   Status (IN_PROGRESS, READY, or FAILED with a StatusReason when its
   environments cannot be started, or its version is Failed: published
   with Publish=True during a dependency build that failed, so it can
   never run) are written when they change. A version still Pending (its
   build runs) gets no environments and keeps the configuration
   IN_PROGRESS; once Active it is provisioned as any other.

Environments count once, whichever node holds them (their rows are in the
shared database)."""

from __future__ import annotations

import logging
from collections import defaultdict

from django.conf import settings
from django.utils import timezone

from functions import provisioned_lookup, qualifiers
from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig
from invocations import nodes, pool, redis_link
from invocations.env_keys import idle_key
from invocations.models import Environment

log = logging.getLogger(__name__)
LOCK_S = 120  # longer than starting a few environments takes


def key_of(config: ProvisionedConcurrencyConfig, version: str) -> str:
    return f"{config.pk}:{version}"


def split(
    fn: Function, config: ProvisionedConcurrencyConfig, aliases: dict | None = None,
) -> list[tuple[str, int]]:
    """(version, environments) of a configuration: a version's all on it;
    an alias's on its version, and with RoutingConfig the additional
    version's weight of them on that one (rounded). [] when the alias is
    gone or points to $LATEST (the API refuses that; a later UpdateAlias
    cannot make it so either). `aliases`: {(function id, name): Alias}
    read already (functions.provisioned_lookup.versions_of); else a query."""
    if qualifiers.is_version(config.qualifier):
        return [(config.qualifier, config.requested)]
    if aliases is not None:
        alias = aliases.get((fn.id, config.qualifier))
    else:
        alias = Alias.objects.filter(function=fn, name=config.qualifier).first()
    if alias is None or alias.function_version == qualifiers.LATEST:
        return []
    extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    shares = [(alias.function_version, config.requested)]
    for version, weight in extra.items():
        moved = round(config.requested * float(weight))
        shares = [(alias.function_version, config.requested - moved), (str(version), moved)]
    return [(version, count) for version, count in shares if count > 0]


def wanted() -> dict[str, tuple[ProvisionedConcurrencyConfig, Function, int]]:
    """key -> (configuration, the version to run as, how many). Three
    queries at most whatever the number of configurations (the upkeep
    asks every second): the configurations with their functions, the
    aliases they name, the versions they run."""
    return survey()[0]


def ready_now(fn: Function, config: ProvisionedConcurrencyConfig, alias: Alias) -> int:
    """How many of a configuration's environments are initialised for what
    `alias` routes to now (its `split`): the ones an upkeep round counts as
    allocated. One query. Used when an alias moves (functions.provisioned.
    alias_moved): the old version's environments do not count."""
    shares = split(fn, config, {(fn.id, config.qualifier): alias})
    if not shares:
        return 0
    keys = {key_of(config, version): count for version, count in shares}
    counts: dict[str, int] = defaultdict(int)
    for key in Environment.objects.filter(provisioned_for__in=keys).values_list("provisioned_for", flat=True):
        counts[key] += 1
    return sum(min(count, counts[key]) for key, count in keys.items())


def version_failed_reason(version: FunctionVersion) -> str:
    """A configuration's StatusReason when its version is Failed (its
    dependency build failed: functions.dependencies.finish)."""
    code = f" ({version.state_reason_code})" if version.state_reason_code else ""
    return (f"Version {version.version} is in the Failed state{code} and cannot be provisioned: "
            f"{version.state_reason or 'its creation failed.'} Publish a new version.")


def survey() -> tuple[dict, dict[int, tuple[ProvisionedConcurrencyConfig, str, str]]]:
    """(`wanted`'s answer, the configurations waiting on a version that is
    not Active: {config id: (configuration, Status, StatusReason)},
    IN_PROGRESS while it is Pending, FAILED with `version_failed_reason`
    once it is Failed). Same three queries as `wanted`."""
    configs = list(ProvisionedConcurrencyConfig.objects.select_related("function__team", "function__code"))
    aliases, numbers = provisioned_lookup.versions_of([(c.function_id, c.qualifier) for c in configs])
    versions = {(v.function_id, str(v.version)): v for v in FunctionVersion.objects.filter(
        function_id__in={fid for fid, _ in numbers}, version__in={n for _, n in numbers})} if numbers else {}
    found = {}
    waiting: dict[int, tuple[ProvisionedConcurrencyConfig, str, str]] = {}
    for config in configs:
        fn = config.function
        for version, count in split(fn, config, aliases):
            row = versions.get((fn.id, version))
            if row is None:  # deleted meanwhile (qualifiers.resolve's QualifierNotFound)
                continue
            if row.state != "Active":  # its dependency build is pending (or failed): nothing to run
                if row.state == "Failed":
                    waiting[config.pk] = (config, "FAILED", version_failed_reason(row))
                else:
                    waiting.setdefault(config.pk, (config, "IN_PROGRESS", ""))
                continue
            resolved = qualifiers.frozen(fn, row)
            resolved.qualifier = config.qualifier
            found[key_of(config, version)] = (config, resolved, count)
    return found, waiting


def upkeep() -> int:
    """One round of the node's upkeep; returns how many environments it
    started or removed."""
    want, waiting = survey()
    rows = list(Environment.objects.exclude(provisioned_for="").values(
        "id", "node", "provisioned_for", "revision"))
    if not want and not rows and not waiting:
        return 0
    here = nodes.node()
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_key[row["provisioned_for"]].append(row)
    changed = 0
    for key, envs in by_key.items():
        surplus = len(envs) - (want[key][2] if key in want else 0)
        for row in list(envs):
            if surplus <= 0:
                break
            if row["node"] == here and _take_back(row):
                pool.discard(row["id"], "removed: its provisioned concurrency is no longer configured")
                envs.remove(row)
                surplus -= 1
                changed += 1
    failures: dict[int, str] = {}
    # Said before starting anything: initialising takes seconds, and until
    # then a configuration whose environments are missing (an alias just
    # moved to another version, a raised count) is IN_PROGRESS with what
    # is ready now, not the READY of the last round.
    _write_status(want, by_key, failures, waiting, before_starting=True)
    for key, (config, fn, count) in want.items():
        missing = count - len(by_key.get(key, []))
        if missing <= 0 or not _lock(key):
            continue
        try:
            for _ in range(missing):
                by_key[key].append({"id": _start_one(fn, key)})
                changed += 1
                # Each one serves calls as soon as it is idle: Available says so.
                _write_status(want, by_key, failures, waiting, before_starting=True)
        except Exception as e:  # noqa: BLE001 - said in the configuration's StatusReason
            log.warning("provisioned concurrency for %s:%s: %s", fn.name, config.qualifier, e)
            failures[config.pk] = f"Could not initialise an environment: {e}"
        finally:
            _unlock(key)
    _write_status(want, by_key, failures, waiting)
    return changed


def _take_back(row: dict) -> bool:
    """Whether an idle environment was taken out of its idle set (then it
    is ours to remove; a busy one comes back after its call)."""
    key = idle_key(row["revision"])
    return bool(redis_link.quietly(lambda c: c.zrem(key, row["id"]), "provisioned environment"))


def _start_one(fn: Function, key: str) -> str:
    generic = pool.take_generic(fn.runtime)
    held = pool.specialise(generic, fn, provisioned=True) if generic is not None else None
    if held is None:
        held = pool.start(fn, provisioned=True)
    Environment.objects.filter(id=held.env_id).update(provisioned_for=key)
    pool.release(held)
    return held.env_id


def _lock_key(key: str) -> str:
    return f"{settings.STRATUS_INSTANCE}:provlock:{key}"


def _lock(key: str) -> bool:
    # One node tops a key up at a time, so together they start N, not N per node.
    return bool(redis_link.quietly(lambda c: c.set(_lock_key(key), nodes.node(), nx=True, ex=LOCK_S),
                                   "provisioned lock"))


def _unlock(key: str) -> None:
    redis_link.quietly(lambda c: c.delete(_lock_key(key)), "provisioned lock")


def _write_status(want: dict, by_key: dict, failures: dict[int, str], waiting: dict | None = None,
                  before_starting: bool = False) -> None:
    """Each configuration's allocated count and Status: READY when all are
    allocated, else IN_PROGRESS; FAILED with the reason when environments
    could not start (`failures`) or a version it names is Failed
    (`waiting`, from `survey`: such a configuration may have no key in
    `want` at all). `before_starting`: written while this round still
    starts environments, so a configuration FAILED by an earlier round stays
    FAILED (this round tries again) rather than flickering IN_PROGRESS.

    A row changed since `survey` read it (UpdateAlias marked it
    IN_PROGRESS for the alias's new version: functions.provisioned.
    alias_moved; PutProvisionedConcurrencyConfig changed the count) is not
    overwritten from this round's older view: the update matches the
    `requested` and `updated_at` it read. What is written is kept on the
    configuration object, so the round's next write compares with it."""
    allocated: dict[int, int] = defaultdict(int)
    configs = {}
    for pk, (config, _status, _reason) in (waiting or {}).items():
        configs[pk] = config
    for key, (config, _fn, count) in want.items():
        configs[config.pk] = config
        allocated[config.pk] += min(count, len(by_key.get(key, [])))
    for pk, config in configs.items():
        status, reason = ("READY", "") if allocated[pk] >= config.requested else ("IN_PROGRESS", "")
        if before_starting and status != "READY" and config.status == "FAILED":
            status, reason = "FAILED", config.status_reason
        if pk in failures:
            status, reason = "FAILED", failures[pk]
        if waiting and pk in waiting and waiting[pk][1] == "FAILED":
            status, reason = "FAILED", waiting[pk][2]
        if (config.allocated, config.status, config.status_reason) != (allocated[pk], status, reason):
            now = timezone.now()
            if ProvisionedConcurrencyConfig.objects.filter(
                pk=pk, requested=config.requested, updated_at=config.updated_at,
            ).update(allocated=allocated[pk], status=status, status_reason=reason, updated_at=now):
                config.allocated, config.status, config.status_reason = allocated[pk], status, reason
                config.updated_at = now
