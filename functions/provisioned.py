"""Provisioned concurrency configurations: Lambda's rules for
PutProvisionedConcurrencyConfig and friends (the Lambda API reference and
the developer guide's "Configuring provisioned concurrency").

A configuration names a published version or an alias of the function
(never $LATEST, nor an alias that points to $LATEST); the environments it
keeps initialised are the node upkeep's work (invocations.provisioning),
which moves Status from IN_PROGRESS to READY (or FAILED with a
StatusReason) and counts AllocatedProvisionedConcurrentExecutions.

Concurrency, as Lambda counts it: provisioned concurrency is taken out of
the function's reserved concurrency when it has one (the configurations'
total may not exceed it), else out of the team's (the account's) pool,
which must keep its unreserved minimum (invocations.concurrency)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from awsapi import errors
from functions import qualifiers
from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig, Team
from invocations import concurrency, provisioning

MAX_REQUESTED = 1000  # this installation's bound (Lambda's is the account's limit)


def not_found() -> errors.AwsError:
    return errors.AwsError(404, "ProvisionedConcurrencyConfigNotFoundException",
                           "No Provisioned Concurrency Config found for this function")


def target_version(fn: Function, qualifier: str) -> str:
    """The published version a qualifier names (an alias's own version);
    ResourceNotFoundException naming the qualified ARN when none, and
    InvalidParameterValueException for $LATEST (or an alias on it)."""
    if qualifier in ("", qualifiers.LATEST):
        raise errors.invalid_parameter(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        )
    missing = errors.not_found(f"{fn.arn}:{qualifier}")
    if qualifiers.is_version(qualifier):
        if not FunctionVersion.objects.filter(function=fn, version=int(qualifier)).exists():
            raise missing
        return qualifier
    alias = Alias.objects.filter(function=fn, name=qualifier).first()
    if alias is None:
        raise missing
    if alias.function_version == qualifiers.LATEST:
        raise errors.invalid_parameter(
            f"Provisioned Concurrency Configs cannot be applied to unpublished function versions "
            f"(alias {qualifier} points to $LATEST)."
        )
    return alias.function_version


def _clean_count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REQUESTED:
        raise errors.invalid_parameter(
            f"ProvisionedConcurrentExecutions must be a whole number from 1 to {MAX_REQUESTED}."
        )
    return value


def put(fn: Function, qualifier: str, requested) -> ProvisionedConcurrencyConfig:
    """PutProvisionedConcurrencyConfig: the configuration (new, or changed:
    Status back to IN_PROGRESS until the upkeep has them all)."""
    requested = _clean_count(requested)
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=fn.team_id)
        current = Function.objects.select_for_update().get(pk=fn.pk)
        version = target_version(current, qualifier)
        _no_overlap(current, qualifier, version)
        others = ProvisionedConcurrencyConfig.objects.filter(function=current).exclude(qualifier=qualifier)
        own_total = (others.aggregate(n=Sum("requested"))["n"] or 0) + requested
        if current.reserved_concurrency is not None:
            if own_total > current.reserved_concurrency:
                raise errors.invalid_parameter(
                    "Requested Provisioned Concurrency should not be greater than the "
                    f"reservedConcurrentExecution for function ({current.reserved_concurrency})."
                )
        else:
            _check_team(team, current, own_total)
        config, created = ProvisionedConcurrencyConfig.objects.get_or_create(
            function=current, qualifier=qualifier,
            defaults={"requested": requested, "status": "IN_PROGRESS", "updated_at": timezone.now()},
        )
        if not created:
            config.requested = requested
            config.status = "IN_PROGRESS" if config.allocated < requested else "READY"
            config.status_reason = ""
            config.updated_at = timezone.now()
            config.save()
    return config


def alias_moved(fn: Function, alias: Alias) -> ProvisionedConcurrencyConfig | None:
    """After UpdateAlias changed what `alias` routes to (its version or its
    RoutingConfig), inside that transaction: the alias's configuration, if
    any, counts only the environments initialised for the new versions
    (invocations.provisioning.ready_now) and is IN_PROGRESS until all N
    are, as Lambda's is while it provisions the new version (the developer
    guide's "Configuring provisioned concurrency"; the API reference's
    AllocatedProvisionedConcurrentExecutions fluctuates during a weighted
    alias's shift). The save announces "provisioned" once committed, which
    wakes every node's upkeep at once (invocations.node_upkeep) to start
    them; nothing here waits for them. None when the alias has no
    configuration."""
    config = ProvisionedConcurrencyConfig.objects.select_for_update().filter(
        function=fn, qualifier=alias.name).first()
    if config is None:
        return None
    ready = provisioning.ready_now(fn, config, alias)
    status = "READY" if ready >= config.requested else "IN_PROGRESS"
    # Saved even when nothing shows a change: the new updated_at keeps an
    # upkeep round that looked before the move from writing its view
    # (provisioning._write_status), and the save wakes the upkeep.
    config.allocated, config.status, config.status_reason = ready, status, ""
    config.updated_at = timezone.now()
    config.save()
    return config


def _no_overlap(fn: Function, qualifier: str, version: str) -> None:
    """Lambda: an alias and the version it points to cannot both have
    provisioned concurrency."""
    configured = set(ProvisionedConcurrencyConfig.objects.filter(function=fn).exclude(
        qualifier=qualifier).values_list("qualifier", flat=True))
    if qualifiers.is_version(qualifier):
        clash = sorted(a for a in Alias.objects.filter(function=fn, function_version=qualifier,
                                                      name__in=configured).values_list("name", flat=True))
    else:
        clash = [version] if version in configured else []
    if clash:
        raise errors.conflict(
            f"Alias and version {version} cannot both have provisioned concurrency: "
            f"{clash[0]} has it already. Delete that configuration first."
        )


def _check_team(team: Team, fn: Function, own_total: int) -> None:
    """Without a reservation the configurations come out of the team's
    pool, which keeps its unreserved minimum, as reservations do."""
    others = (ProvisionedConcurrencyConfig.objects.filter(
        function__team=team, function__reserved_concurrency__isnull=True).exclude(function=fn)
        .aggregate(n=Sum("requested"))["n"] or 0)
    taken = concurrency.reserved_total(team) + others
    try:
        concurrency.check_reservation(concurrency.team_limit(team), taken, own_total)
    except concurrency.ReservedConcurrencyError as e:
        raise errors.invalid_parameter(f"Provisioned concurrency of {own_total} for {fn.name}: {e}") from None


def _named(fn: Function, qualifier: str) -> None:
    """ResourceNotFoundException (the qualified ARN) for a version or
    alias that does not exist."""
    if qualifiers.is_version(qualifier):
        exists = FunctionVersion.objects.filter(function=fn, version=int(qualifier)).exists()
    elif qualifier in ("", qualifiers.LATEST):
        exists = True
    else:
        exists = Alias.objects.filter(function=fn, name=qualifier).exists()
    if not exists:
        raise errors.not_found(f"{fn.arn}:{qualifier}")


def get(fn: Function, qualifier: str) -> ProvisionedConcurrencyConfig:
    """GetProvisionedConcurrencyConfig; ProvisionedConcurrencyConfigNotFoundException
    when the version or alias has none."""
    config = ProvisionedConcurrencyConfig.objects.filter(function=fn, qualifier=qualifier).first()
    if config is None:
        _named(fn, qualifier)
        raise not_found()
    return config


def delete(fn: Function, qualifier: str) -> None:
    """DeleteProvisionedConcurrencyConfig; its environments are removed by
    the upkeep (invocations.provisioning)."""
    if not ProvisionedConcurrencyConfig.objects.filter(function=fn, qualifier=qualifier).delete()[0]:
        _named(fn, qualifier)
        raise not_found()
