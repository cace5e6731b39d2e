"""Publishing versions and naming them with aliases: Lambda's rules, shared
by the Lambda API (functions.lambda_versions_api) and the console.

A version is the function's code and configuration frozen as they were
(functions.models.FunctionVersion); its number is the function's
`last_version` + 1 and is never reused, even after the version is deleted.
An alias names a version (or $LATEST) and may send a share of its calls to
one more published version (RoutingConfig.AdditionalVersionWeights, weight
0.0-1.0).

Errors are `awsapi.errors.AwsError`s in Lambda's codes and words
(InvalidParameterValueException, ResourceNotFoundException,
ResourceConflictException, PreconditionFailedException); a refused call
stores nothing. Sources of the rules: the Lambda API reference
(PublishVersion, CreateAlias, UpdateAlias, AliasRoutingConfiguration,
DeleteFunction) and the Lambda developer guide's "Lambda function aliases"
(weighted aliases: two published versions at most, not $LATEST)."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from awsapi import arns, errors
from functions import dependencies, provisioned, qualifiers, service
from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig

LATEST = qualifiers.LATEST
DESCRIPTION_MAX = 256
# The fields compared to tell whether $LATEST changed since the last
# version (its Description is the version's own, set at publish).
COMPARED = tuple(name for name in qualifiers.FROZEN if name != "description")


def version_arn(fn: Function, qualifier: str | None) -> str:
    return arns.function_arn(fn.team.account_id, fn.name, qualifier)


def _busy(fn: Function) -> None:
    """Lambda refuses to publish while the function is being created or
    updated (a dependency build: functions.models.Function.state), and
    when its create failed (State Failed: it has no code that runs, and a
    version would freeze the code without its packages)."""
    if getattr(fn, "state", "Active") == "Failed":
        raise errors.conflict(dependencies.refuse_invoke(fn))
    if getattr(fn, "state", "Active") == "Pending" or getattr(fn, "last_update_status", "") == "InProgress":
        raise errors.conflict(
            "The operation cannot be performed at this time. An update is in progress for resource: "
            f"{fn.arn}"
        )


def _description(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > DESCRIPTION_MAX:
        raise errors.invalid_parameter(f"Description must be text of at most {DESCRIPTION_MAX} characters.")
    return value


def publish(fn: Function, *, description: str | None = None, code_sha256: str | None = None,
            revision_id: str | None = None, with_build: bool = False) -> tuple[FunctionVersion, bool]:
    """PublishVersion: (the version, whether it is new). `code_sha256`
    (Lambda's base64 CodeSha256) and `revision_id` (the function's
    RevisionId), when given, must be $LATEST's: InvalidParameterValueException
    and PreconditionFailedException (412) otherwise. When neither the code
    nor the configuration changed since the last version, that version is
    returned and nothing is published (Lambda does the same). Without a
    `description` the version takes the function's (Lambda: it overrides
    the description in the function configuration).

    `with_build` (Publish=True on the CreateFunction / UpdateFunctionCode
    that submitted a dependency build, inside that call's transaction): a
    function waiting on its build publishes the submitted code as a version
    of State Pending (functions.dependencies.pending_version), which the
    build's end makes Active with the built code, or Failed. Otherwise a
    pending build is ResourceConflictException, as Lambda."""
    description = None if description is None else _description(description)
    if not (with_build and dependencies.build_pending(fn)):
        _busy(fn)
    with transaction.atomic():
        # Locked: two publishes at once must not take the same number.
        current = Function.objects.select_for_update().select_related("code", "team").get(pk=fn.pk)
        _check_revision(revision_id, current.revision)
        # The CodeSha256 $LATEST shows: the upload, not a dependency build's bundle.
        latest_sha256 = dependencies.submitted_code(current).sha256_b64
        if code_sha256 is not None and code_sha256 != latest_sha256:
            raise errors.invalid_parameter(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        frozen = {name: getattr(current, name) for name in COMPARED}
        # Waiting on a build: the version is the submitted code, pending.
        pending = dependencies.pending_version(current) if with_build else {}
        frozen.update(pending.pop("frozen", {}))
        last = FunctionVersion.objects.filter(function=current).order_by("-version").first()
        if (last is not None and last.state == "Active"
                and all(frozen[n] == getattr(last, n) for n in COMPARED)):
            return last, False
        number = current.last_version + 1
        version = FunctionVersion.objects.create(
            function=current, version=number,
            description=current.description if description is None else description,
            **frozen, **pending,
            revision=uuid.uuid4(), created_at=timezone.now(),
        )
        Function.objects.filter(pk=current.pk).update(last_version=number)
        fn.last_version = number
    return version, True


def _check_revision(revision_id: str | None, current: uuid.UUID, getter: str = "GetFunction") -> None:
    """service.check_revision as PreconditionFailedException (412)."""
    try:
        service.check_revision(revision_id, current, getter)
    except service.RevisionChanged as e:
        raise errors.precondition_failed(str(e)) from None


def get_version(fn: Function, number: str) -> FunctionVersion:
    row = FunctionVersion.objects.filter(function=fn, version=int(number)).first() if qualifiers.is_version(
        number) else None
    if row is None:
        raise errors.not_found(version_arn(fn, number))
    return row


def delete_version(fn: Function, number: str) -> None:
    """DeleteFunction with a version Qualifier: that version goes (its
    number is not given again). ResourceConflictException while an alias
    sends calls to it, as Lambda; its provisioned concurrency goes with it."""
    with transaction.atomic():
        Function.objects.select_for_update().filter(pk=fn.pk).first()
        row = get_version(fn, number)
        using = sorted(a.name for a in Alias.objects.filter(function=fn) if number in routes_of(a))
        if using:
            raise errors.conflict(
                f"Unable to delete version because the following aliases reference it: {using}"
            )
        ProvisionedConcurrencyConfig.objects.filter(function=fn, qualifier=number).delete()
        row.delete()


# Aliases -------------------------------------------------------------------


def routes_of(alias: Alias) -> set[str]:
    """The versions an alias sends calls to."""
    return {alias.function_version, *(alias.routing_config or {}).get("AdditionalVersionWeights", {})}


def alias_arn(fn: Function, name: str) -> str:
    return version_arn(fn, name)


def get_alias(fn: Function, name: str) -> Alias:
    alias = Alias.objects.filter(function=fn, name=name).first()
    if alias is None:
        raise errors.resource_not_found(f"Cannot find alias arn: {alias_arn(fn, name)}")
    return alias


def _check_name(name) -> str:
    if not isinstance(name, str) or not qualifiers.ALIAS_RE.fullmatch(name):
        raise errors.invalid_parameter(
            f"Alias name {name!r} is not valid: 1-128 letters, digits, hyphens and underscores, "
            "not only digits (a version number)."
        )
    if name == LATEST:
        raise errors.invalid_parameter("$LATEST is not an alias name.")
    return name


def _check_version(fn: Function, version) -> str:
    """A FunctionVersion an alias may name: $LATEST or an existing version."""
    if version == LATEST:
        return LATEST
    if not isinstance(version, str) or not qualifiers.is_version(version):
        raise errors.invalid_parameter(f"FunctionVersion {version!r} is not $LATEST or a version number.")
    if not FunctionVersion.objects.filter(function=fn, version=int(version)).exists():
        raise errors.not_found(version_arn(fn, version))
    return version


def check_routing(fn: Function, primary: str, routing_config) -> dict:
    """RoutingConfig as stored: {} or {"AdditionalVersionWeights": {"2":
    0.25}}. Lambda's rules: at most one additional version; a published
    version (not $LATEST, not the alias's own version), which exists; a
    weight from 0.0 to 1.0; the alias's own version must be published too."""
    if not routing_config:
        return {}
    if not isinstance(routing_config, dict):
        raise errors.invalid_parameter("RoutingConfig must be an object with AdditionalVersionWeights.")
    weights = routing_config.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise errors.invalid_parameter("AdditionalVersionWeights must map a version to a weight.")
    if not weights:
        return {}
    if len(weights) > 1:
        raise errors.invalid_parameter(
            "Number of items in AdditionalVersionWeights cannot be greater than 1: an alias routes to "
            "two versions at most."
        )
    (version, weight), = weights.items()
    if primary == LATEST or version == LATEST:
        raise errors.invalid_parameter(
            "$LATEST is not supported for an alias pointing to more than 1 version: route between "
            "published versions."
        )
    if not qualifiers.is_version(str(version)):
        raise errors.invalid_parameter(f"AdditionalVersionWeights key {version!r} is not a version number.")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= float(weight) <= 1.0:
        raise errors.invalid_parameter(f"The weight of version {version} must be a number from 0.0 to 1.0.")
    if str(version) == primary:
        raise errors.invalid_parameter(
            f"Version {version} is the alias's FunctionVersion already: name another version in "
            "AdditionalVersionWeights."
        )
    _check_version(fn, str(version))
    return {"AdditionalVersionWeights": {str(version): float(weight)}}


def create_alias(fn: Function, *, name, function_version, description=None, routing_config=None) -> Alias:
    """CreateAlias; ResourceConflictException when the name is taken."""
    name = _check_name(name)
    description = _description(description)
    with transaction.atomic():
        Function.objects.select_for_update().filter(pk=fn.pk).first()
        version = _check_version(fn, function_version)
        routing = check_routing(fn, version, routing_config)
        if Alias.objects.filter(function=fn, name=name).exists():
            raise errors.conflict(f"Alias already exists: {alias_arn(fn, name)}")
        now = timezone.now()
        return Alias.objects.create(
            function=fn, name=name, function_version=version, description=description,
            routing_config=routing, revision=uuid.uuid4(), created_at=now, updated_at=now,
        )


def update_alias(fn: Function, name: str, *, function_version=None, description=None,
                 routing_config=None, revision_id: str | None = None) -> Alias:
    """UpdateAlias: the members given change (RoutingConfig given as {}
    clears the split). RevisionId, when given, must be the alias's own
    (PreconditionFailedException otherwise)."""
    with transaction.atomic():
        Function.objects.select_for_update().filter(pk=fn.pk).first()
        alias = get_alias(fn, name)
        _check_revision(revision_id, alias.revision, "GetAlias")
        version = alias.function_version
        if function_version is not None:
            version = _check_version(fn, function_version)
        routing = alias.routing_config if routing_config is None else routing_config
        routing = check_routing(fn, version, routing)
        kept_warm = ProvisionedConcurrencyConfig.objects.filter(function=fn, qualifier=name)
        if version == LATEST and kept_warm.exists():
            raise errors.conflict(
                f"Alias {name} has provisioned concurrency: it cannot point to $LATEST "
                "(an unpublished version)."
            )
        moved = (alias.function_version, alias.routing_config or {}) != (version, routing or {})
        alias.function_version = version
        alias.routing_config = routing
        if description is not None:
            alias.description = _description(description)
        alias.revision = uuid.uuid4()
        alias.updated_at = timezone.now()
        alias.save()
        if moved:
            # Its provisioned concurrency is IN_PROGRESS until the new
            # version's environments are initialised (not READY on the old ones).
            provisioned.alias_moved(fn, alias)
        return alias


def delete_alias(fn: Function, name: str) -> None:
    """DeleteAlias (its provisioned concurrency goes with it);
    ResourceNotFoundException when there is no such alias."""
    with transaction.atomic():
        get_alias(fn, name)
        ProvisionedConcurrencyConfig.objects.filter(function=fn, qualifier=name).delete()
        Alias.objects.filter(function=fn, name=name).delete()
