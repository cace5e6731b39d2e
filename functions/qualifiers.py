"""What a qualifier names: $LATEST, a published version or an alias.

Lambda runs a qualified call against the version's frozen code and
configuration; an alias picks one of its (at most two) versions by
RoutingConfig weight at each call. Everything that runs a function
(Invoke, triggers, event source mappings, destinations) resolves the
qualifier here and hands the engine the Function this returns: for a
version it is an unsaved copy carrying the version's configuration and
revision, so the engine keys warm environments per version without
knowing versions exist."""

from __future__ import annotations

import copy
import random
import re

from functions.models import Alias, Function, FunctionVersion

LATEST = "$LATEST"
VERSION_RE = re.compile(r"[1-9][0-9]{0,9}")
# Lambda's alias name: (?!^[0-9]+$)([a-zA-Z0-9-_]+), 1-128 characters.
ALIAS_RE = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")
# The fields a version freezes (Function's and FunctionVersion's names).
FROZEN = (
    "runtime", "handler", "code_id", "memory_mb", "timeout_s", "environment", "role",
    "execution_policy", "architectures", "ephemeral_storage_mb", "logging_config",
    "tracing_mode", "layers", "description",
)

# A version's LastUpdateStatus follows its State (it is created once).
VERSION_UPDATE_STATUS = {"Pending": "InProgress", "Active": "Successful", "Failed": "Failed"}


class QualifierNotFound(LookupError):
    """No such version or alias of the function (Lambda:
    ResourceNotFoundException naming the qualified ARN)."""


def is_version(qualifier: str) -> bool:
    return bool(VERSION_RE.fullmatch(qualifier))


def missing_text(function_name: str, qualifier: str) -> str:
    """What a QualifierNotFound means, for people: "alias 'live' of function
    f does not exist" or "version 3 of function f does not exist" (the
    console and the dead letters say why an event never ran with it)."""
    if is_version(qualifier):
        return f"version {qualifier} of function {function_name} does not exist"
    return f"alias '{qualifier}' of function {function_name} does not exist"


def frozen(fn: Function, version: FunctionVersion) -> Function:
    """An unsaved copy of `fn` as `version` froze it. Saving it is refused
    (save() raises), so no code path can write a version's configuration
    back over $LATEST."""
    copied = copy.copy(fn)
    copied._state = copy.copy(fn._state)
    # A cache of its own first: the related objects the copy loads (its
    # code bundle) must never land in `fn`'s cache, nor setting code_id
    # below drop `fn`'s.
    copied._state.fields_cache = dict(fn._state.fields_cache)
    copied._state.fields_cache.pop("code", None)
    for name in FROZEN:
        setattr(copied, name, getattr(version, name))
    if "code" in version._state.fields_cache:
        copied.code = version.code
    # A version has its own State, whatever $LATEST is doing (a build pending
    # on $LATEST is not the version's): Active, or Pending / Failed when it
    # was published waiting for its code's dependency build
    # (functions.dependencies.finish ends it).
    state = getattr(version, "state", "") or "Active"
    copied.state = state
    copied.state_reason = version.state_reason if state != "Active" else ""
    copied.state_reason_code = version.state_reason_code if state != "Active" else ""
    copied.last_update_status = VERSION_UPDATE_STATUS.get(state, "Successful")
    copied.last_update_status_reason = copied.state_reason
    copied.last_update_status_reason_code = copied.state_reason_code
    copied.revision = version.revision
    copied.updated_at = version.created_at
    copied.executed_version = str(version.version)
    copied.save = _refuse_save
    return copied


def _refuse_save(*args, **kwargs):
    raise TypeError("a published version is immutable: save the function, not its version copy")


def resolve(fn: Function, qualifier: str | None, chooser: random.Random | None = None) -> Function:
    """`fn` as `qualifier` names it, with `.executed_version` ("$LATEST" or
    "3") and `.qualifier` (what was asked: None, "$LATEST", "3" or an alias
    name). None and "$LATEST" give `fn` itself. An alias picks its version,
    or with RoutingConfig its additional version with that weight (0.0-1.0).
    QualifierNotFound when the version or alias does not exist."""
    if qualifier in (None, "", LATEST):
        fn.executed_version = LATEST
        fn.qualifier = qualifier or None
        return fn
    version = alias_version(fn, qualifier, chooser) if not is_version(qualifier) else qualifier
    if version == LATEST:
        fn.executed_version = LATEST
        fn.qualifier = qualifier
        return fn
    row = FunctionVersion.objects.filter(function=fn, version=int(version)).first()
    if row is None:
        raise QualifierNotFound(qualifier)
    resolved = frozen(fn, row)
    resolved.qualifier = qualifier
    return resolved


def for_reading(fn: Function, qualifier: str | None) -> Function:
    """What GetFunction / GetFunctionConfiguration show for `qualifier`:
    as `resolve`, but an alias gives its own FunctionVersion (no weighted
    pick), with `.qualifier` the alias's name. QualifierNotFound as resolve."""
    if qualifier in (None, "", LATEST) or is_version(qualifier):
        return resolve(fn, qualifier)
    alias = Alias.objects.filter(function=fn, name=qualifier).first()
    if alias is None:
        raise QualifierNotFound(qualifier)
    found = resolve(fn, alias.function_version)
    if found is fn:
        found = copy.copy(fn)
    found.qualifier = qualifier
    return found


def invoked_arn(fn: Function) -> str:
    """The ARN a call named (Lambda's invokedFunctionArn): qualified with
    the version or alias it was asked for, bare when it named none."""
    qualifier = fn.qualifier
    return f"{fn.arn}:{qualifier}" if qualifier else fn.arn


def alias_version(fn: Function, name: str, chooser: random.Random | None = None) -> str:
    """The version an alias sends this call to ("3" or "$LATEST")."""
    alias = Alias.objects.filter(function=fn, name=name).first()
    if alias is None:
        raise QualifierNotFound(name)
    return pick(alias.function_version, alias.routing_config, chooser)


def pick(primary: str, routing_config: dict | None, chooser: random.Random | None = None) -> str:
    """One call's version: each AdditionalVersionWeights entry with its
    weight, the primary version with the rest (Lambda: weighted alias)."""
    extra = (routing_config or {}).get("AdditionalVersionWeights") or {}
    draw = (chooser or random).random()
    for version, weight in extra.items():
        if draw < float(weight):
            return str(version)
        draw -= float(weight)
    return primary
