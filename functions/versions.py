"""Publishing versions and keeping aliases: Lambda's rules in one place,
used by the Lambda API (PublishVersion, Create/Update/DeleteAlias) and the
console's Versions tab alike.

Errors are functions.service's FunctionError subclasses carrying the
Lambda error `code` the API answers with (InvalidParameterValueException
for a plain FunctionError); a refused change leaves stored data as it was.
Rules from Lambda's API reference (PublishVersion, CreateAlias,
AliasRoutingConfiguration)."""

from __future__ import annotations

import math
import uuid

from django.db import transaction
from django.utils import timezone

from functions import qualifiers, service
from functions.models import Alias, Function, FunctionVersion
from functions.service import FunctionError

ALIAS_NAME_MAX = 128
# Lambda's AdditionalVersionWeights: at most one entry (two versions in all).
ROUTING_MAX = 1


class NotFound(FunctionError):
    """No such version or alias (ResourceNotFoundException, 404)."""

    code = "ResourceNotFoundException"


class Conflict(FunctionError):
    """An alias of that name exists, or the function cannot be published
    now (ResourceConflictException, 409)."""

    code = "ResourceConflictException"


class RevisionChanged(FunctionError):
    """RevisionId is not the current one (PreconditionFailedException, 412)."""

    code = "PreconditionFailedException"


# Versions -------------------------------------------------------------------


def _same_as(fn: Function, version: FunctionVersion) -> bool:
    """Whether publishing `fn` now would freeze what `version` froze: the
    code and every frozen setting but the (version's own) description."""
    return all(
        getattr(fn, name) == getattr(version, name)
        for name in qualifiers.FROZEN
        if name != "description"
    )


def publish_version(
    fn: Function, description: str | None = None, code_sha256: str | None = None,
    revision_id: str | None = None,
) -> FunctionVersion:
    """PublishVersion: $LATEST's code and configuration frozen as version
    `fn.last_version + 1` (numbers are never reused, even after a version
    is deleted). If nothing changed since the newest existing version, that
    version is returned and no number is used (Lambda). `description`
    (<= 256 characters) overrides the function's own; None copies it.
    `code_sha256` (base64 of the zip's SHA-256, as CodeSha256 reads) must be
    $LATEST's (InvalidParameterValueException); `revision_id` must be
    $LATEST's RevisionId (RevisionChanged, 412). A function whose code is
    being built (State Pending / LastUpdateStatus InProgress) cannot be
    published (Conflict, 409)."""
    if description is not None:
        description = service.clean_description(description)
    # Lock the function's row: two publishes at once must not both take
    # the same number, nor one freeze half of a concurrent update.
    with transaction.atomic():
        try:
            locked = Function.objects.select_for_update().select_related("code").get(pk=fn.pk)
        except Function.DoesNotExist:
            raise service.FunctionGone(f"The function {fn.name} was deleted meanwhile.") from None
        if revision_id is not None and str(locked.revision) != str(revision_id):
            raise RevisionChanged(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                "revision_id",
            )
        if code_sha256 is not None and code_sha256 != locked.code.sha256_b64:
            raise FunctionError(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({locked.code.sha256_b64}). Please try again with the CodeSHA256 in $LATEST.",
                "code_sha256",
            )
        if locked.state == "Pending" or locked.last_update_status == "InProgress":
            raise Conflict(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {locked.arn}",
            )
        newest = locked.versions.order_by("-version").first()
        if newest is not None and _same_as(locked, newest):
            return newest
        number = locked.last_version + 1
        version = FunctionVersion(
            function=locked,
            version=number,
            description=locked.description if description is None else description,
            revision=uuid.uuid4(),
            created_at=timezone.now(),
        )
        for name in qualifiers.FROZEN:
            if name != "description":
                setattr(version, name, getattr(locked, name))
        version.save()
        Function.objects.filter(pk=locked.pk).update(last_version=number)
        fn.last_version = number
    return version


def get_version(fn: Function, number) -> FunctionVersion:
    """Version `number` (an int or its digits) of `fn`; NotFound if none."""
    text = str(number)
    row = None
    if qualifiers.is_version(text):
        row = FunctionVersion.objects.filter(function=fn, version=int(text)).first()
    if row is None:
        raise NotFound(f"Function not found: {fn.arn}:{text}", "version")
    return row


def delete_version(fn: Function, number) -> None:
    """DeleteFunction with a version Qualifier: refused while an alias
    routes to it (ResourceConflictException, as Lambda)."""
    with transaction.atomic():
        version = get_version(fn, number)
        number = str(version.version)
        users = [a.name for a in Alias.objects.filter(function=fn) if number in _alias_versions(a)]
        if users:
            raise Conflict(
                f"Unable to delete version because the following aliases reference it: {users}",
                "version",
            )
        version.delete()


# Aliases --------------------------------------------------------------------

UNQUALIFIED = "(unqualified)"


def qualifier_choices(fn: Function | None) -> list[tuple[str, str]]:
    """For the console's selects of what a trigger runs: ("", "(unqualified)")
    then the function's aliases and its versions, newest first."""
    if fn is None:
        return [("", UNQUALIFIED)]
    aliases = [(a.name, f"alias {a.name} (version {a.function_version})") for a in fn.aliases.all()]
    numbers = fn.versions.order_by("-version").values_list("version", flat=True)
    return [("", UNQUALIFIED), *aliases, *((str(n), f"version {n}") for n in numbers)]



def _alias_versions(alias: Alias) -> set[str]:
    extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    return {alias.function_version, *map(str, extra)}


def clean_alias_name(value) -> str:
    """Lambda's alias name: 1-128 letters, digits, hyphens and underscores,
    not all digits (a number names a version)."""
    value = service._text(value, "name", "The alias name")
    if not qualifiers.ALIAS_RE.fullmatch(value):
        raise FunctionError(
            f"The alias name {service._shown(value)} is not valid: use 1-{ALIAS_NAME_MAX} letters, "
            "digits, hyphens or underscores, not only digits (a number names a version).",
            "name",
        )
    return value


def _clean_version(fn: Function, value, field: str = "function_version") -> str:
    """A version an alias may point at: "$LATEST" or a published one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = service._text(value, field, "The version")
    value = value.strip()
    if value == qualifiers.LATEST:
        return value
    if not qualifiers.is_version(value):
        raise FunctionError(
            f"The version {service._shown(value)} is not a version: use $LATEST or a published "
            "version's number.",
            field,
        )
    if not FunctionVersion.objects.filter(function=fn, version=int(value)).exists():
        raise NotFound(f"Function not found: {fn.arn}:{value}", field)
    return value


def clean_routing_config(fn: Function, primary: str, routing_config) -> dict:
    """Lambda's AliasRoutingConfiguration: {"AdditionalVersionWeights":
    {"2": 0.25}} with at most one entry, a published version (not $LATEST,
    not the alias's own version) weighted 0.0-1.0 (a float: the share of
    calls it gets). None or {} is no routing; a weight of 0 keeps the entry
    (Lambda does too)."""
    if routing_config in (None, {}):
        return {}
    if not isinstance(routing_config, dict) or set(routing_config) - {"AdditionalVersionWeights"}:
        raise FunctionError(
            'RoutingConfig must be {"AdditionalVersionWeights": {"VERSION": WEIGHT}}.', "routing_config",
        )
    weights = routing_config.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise FunctionError("AdditionalVersionWeights must map a version to a weight.", "routing_config")
    if len(weights) > ROUTING_MAX:
        raise FunctionError(
            f"Number of items in AdditionalVersionWeights cannot be greater than {ROUTING_MAX}.",
            "routing_config",
        )
    cleaned = {}
    for version, weight in weights.items():
        if version == qualifiers.LATEST:
            raise FunctionError(
                "$LATEST is not supported for an alias pointing to more than 1 version.",
                "routing_version",
            )
        version = _clean_version(fn, version, "routing_version")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise FunctionError(
                f"The weight of version {version} must be a number from 0.0 to 1.0.", "routing_weight",
            )
        if not 0.0 <= float(weight) <= 1.0:
            raise FunctionError(
                f"The weight of version {version} must be from 0.0 to 1.0, got {weight}.", "routing_weight",
            )
        if version == primary:
            raise FunctionError(
                f"Version {version} is the alias's own version: route a share of calls to a "
                "different version.",
                "routing_version",
            )
        cleaned[version] = float(weight)
    if cleaned and primary == qualifiers.LATEST:
        raise FunctionError(
            "$LATEST is not supported for an alias pointing to more than 1 version.", "function_version",
        )
    return {"AdditionalVersionWeights": cleaned} if cleaned else {}


def get_alias(fn: Function, name) -> Alias:
    """The alias `name` of `fn`; NotFound if there is none."""
    alias = Alias.objects.filter(function=fn, name=name).first() if isinstance(name, str) else None
    if alias is None:
        raise NotFound(f"Alias not found: {fn.arn}:{name}", "name")
    return alias


def create_alias(
    fn: Function, name, function_version, description=None, routing_config=None,
) -> Alias:
    """CreateAlias: `name` for `function_version` ("$LATEST" or a published
    number), optionally splitting calls with one other version by
    `routing_config`. Conflict (409) if the name is taken, NotFound if a
    version does not exist, FunctionError for a bad value."""
    name = clean_alias_name(name)
    description = service.clean_description(description)
    with transaction.atomic():
        Function.objects.select_for_update().filter(pk=fn.pk).first()
        primary = _clean_version(fn, function_version)
        routing = clean_routing_config(fn, primary, routing_config)
        if Alias.objects.filter(function=fn, name=name).exists():
            raise Conflict(f"Alias already exists: {fn.arn}:{name}", "name")
        now = timezone.now()
        return Alias.objects.create(
            function=fn, name=name, function_version=primary, description=description,
            routing_config=routing, revision=uuid.uuid4(), created_at=now, updated_at=now,
        )


def update_alias(
    fn: Function, name, function_version=None, description=None, routing_config=None,
    revision_id: str | None = None,
) -> Alias:
    """UpdateAlias: each argument given (not None) changes; routing_config
    {} removes the routing. The routing is checked against the resulting
    version. `revision_id`, if given, must be the alias's RevisionId
    (RevisionChanged, 412). All or nothing."""
    with transaction.atomic():
        alias = get_alias(fn, name)
        alias = Alias.objects.select_for_update().get(pk=alias.pk)
        if revision_id is not None and str(alias.revision) != str(revision_id):
            raise RevisionChanged(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                "revision_id",
            )
        primary = alias.function_version if function_version is None else _clean_version(fn, function_version)
        routing = alias.routing_config if routing_config is None else routing_config
        routing = clean_routing_config(fn, primary, routing)
        if description is not None:
            alias.description = service.clean_description(description)
        alias.function_version = primary
        alias.routing_config = routing
        alias.revision = uuid.uuid4()
        alias.updated_at = timezone.now()
        alias.save()
        return alias


def delete_alias(fn: Function, name) -> None:
    """DeleteAlias; NotFound if there is no such alias."""
    with transaction.atomic():
        get_alias(fn, name).delete()
