"""Lambda layers: publishing, finding and deleting a team's layer versions,
and the one place that resolves and validates a function's `Layers`.

A layer version is a zip stored as a CodeBundle (functions.code: the same
checks and Lambda's limits as function code) and unpacked under /opt of
the functions that list it, in their order, a later layer's files
replacing an earlier one's (invocations.envdirs.place_layers). Its ARN is
`arn:aws:lambda:<region>:<account>:layer:<name>:<version>`; version
numbers count up from 1 per layer and are never given again, even after
DeleteLayerVersion (Layer.last_version).

Rules, from Lambda's developer guide and API reference (CreateFunction,
PublishLayerVersion, DeleteLayerVersion, "Layer paths for each runtime"):
- a function lists at most 5 layer versions, each an existing version of
  its own account (a deleted one cannot be added), never two versions of
  one layer;
- code plus layers, unzipped, take at most 250 MB (262,144,000 bytes);
- a deleted version can no longer be seen or added, but "a copy of the
  version remains in Lambda until no functions refer to it": the row is
  kept (deleted_at) with its content, and functions that list it run on.

Errors are LayerError (a bad value, Lambda's InvalidParameterValueException),
LayerAccessDenied (another account's layer: AccessDeniedException) and
LayerNotFound (ResourceNotFoundException); their messages are Lambda's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from functions import code as codestore
from functions.models import CodeBundle, Function, Layer, LayerVersion, Team

MAX_LAYERS = 5  # Lambda: a function uses at most five layers
MAX_TOTAL_UNZIPPED = codestore.MAX_UNZIPPED  # 262,144,000 bytes: code + layers
NAME_RE = re.compile(r"[a-zA-Z0-9-_]{1,140}")  # PublishLayerVersion's LayerName (1-140)
# LayerVersionArn / LayerName (ARN form), botocore's patterns without the
# partitions Stratus never serves.
VERSION_ARN_RE = re.compile(r"arn:aws:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):([0-9]+)")
LAYER_ARN_RE = re.compile(r"arn:aws:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+)")
DESCRIPTION_MAX = 256
LICENSE_MAX = 512
# botocore's Runtime enum is wider; these are what a layer may declare.
ARCHITECTURES = ("x86_64", "arm64")
COMPATIBLE_RUNTIMES_MAX = 15
# Lambda's PATH and LD_LIBRARY_PATH in every runtime (its "defined
# runtime environment variables"), /opt/bin and /opt/lib for layers; NODE_PATH
# as the Node.js runtimes' bootstrap sets it.
PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)


class LayerError(ValueError):
    """A bad layer value (InvalidParameterValueException)."""


class LayerAccessDenied(LayerError):
    """A layer of another account (AccessDeniedException)."""


class LayerNotFound(LayerError):
    """No such layer version (ResourceNotFoundException)."""


# ARNs -------------------------------------------------------------------------


def layer_arn(account: str, name: str) -> str:
    """`arn:aws:lambda:<region>:<account>:layer:<name>`."""
    return f"arn:aws:lambda:{settings.STRATUS_REGION}:{account}:layer:{name}"


def version_arn(account: str, name: str, version: int) -> str:
    """`arn:aws:lambda:<region>:<account>:layer:<name>:<version>`."""
    return f"{layer_arn(account, name)}:{version}"


def arn_of(lv: LayerVersion) -> str:
    return version_arn(lv.layer.team.account_id, lv.layer.name, lv.version)


def layer_name(team: Team, value) -> str:
    """The layer name a LayerName (a name or a layer ARN of the team's
    account, as the API takes it) means. LayerError for anything else,
    LayerAccessDenied for another account's or region's ARN."""
    if not isinstance(value, str):
        raise LayerError("The layer name must be text.")
    if value.startswith("arn:"):
        found = LAYER_ARN_RE.fullmatch(value)
        if found is None:
            raise LayerError(f"{value} is not a layer ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME).")
        region, account, name = found.groups()
        _own(team, value, region, account)
        return name
    if not NAME_RE.fullmatch(value):
        raise LayerError(
            f"The layer name {value[:80]!r} is not valid: use 1 to 140 letters, digits, hyphens "
            "or underscores."
        )
    return value


def _own(team: Team, arn: str, region: str, account: str) -> None:
    if account != team.account_id or region != settings.STRATUS_REGION:
        raise LayerAccessDenied(
            f"The layer {arn} belongs to another account or region; use layers of your own "
            f"account ({team.account_id}) in {settings.STRATUS_REGION}."
        )


# Publishing -------------------------------------------------------------------


def _text_list(value, what: str, allowed, most: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise LayerError(f"{what} must be a list of names.")
    if len(value) > most:
        raise LayerError(f"{what} lists {len(value)}; at most {most} are allowed.")
    for v in value:
        if v not in allowed:
            raise LayerError(f"{what}: {v!r} is not one of {', '.join(allowed)}.")
    return list(dict.fromkeys(value))


def _short_text(value, what: str, most: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise LayerError(f"{what} must be text without NUL characters.")
    if len(value) > most:
        raise LayerError(f"{what} is {len(value)} characters long; the limit is {most}.")
    return value


def compatible_runtime_names() -> tuple[str, ...]:
    """Runtimes a layer may declare: Lambda's (botocore's Runtime enum),
    read from the model once."""
    global _RUNTIMES
    if _RUNTIMES is None:
        from awsapi import params

        shape = params.operation("lambda", "PublishLayerVersion").input_shape.members["CompatibleRuntimes"]
        _RUNTIMES = tuple(shape.member.enum)
    return _RUNTIMES


_RUNTIMES: tuple[str, ...] | None = None


def publish(
    team: Team,
    name,
    zip_bytes,
    *,
    description=None,
    compatible_runtimes=None,
    compatible_architectures=None,
    license_info=None,
) -> LayerVersion:
    """PublishLayerVersion: a new version of the team's layer `name` (made
    when new), numbered one past the last ever given. The zip is checked
    like function code (functions.code.check_zip: 50 MB zipped, 250 MB
    unzipped, safe paths) and stored once per content hash. LayerError
    stores nothing."""
    name = layer_name(team, name)
    description = _short_text(description, "The description", DESCRIPTION_MAX)
    license_info = _short_text(license_info, "LicenseInfo", LICENSE_MAX)
    runtimes = _text_list(compatible_runtimes, "CompatibleRuntimes", compatible_runtime_names(),
                          COMPATIBLE_RUNTIMES_MAX)
    architectures = _text_list(compatible_architectures, "CompatibleArchitectures", ARCHITECTURES, 2)
    try:
        checked = codestore.check_zip(zip_bytes)
    except codestore.CodeError as e:
        raise LayerError(str(e)) from None
    with transaction.atomic():
        try:
            bundle = codestore.store(checked)
        except codestore.CodeError as e:
            raise LayerError(str(e)) from None
        Layer.objects.get_or_create(team=team, name=name)
        # The row lock orders two publishes of one layer: each gets its own number.
        layer = Layer.objects.select_for_update().get(team=team, name=name)
        layer.last_version += 1
        layer.save(update_fields=["last_version"])
        return LayerVersion.objects.create(
            layer=layer, version=layer.last_version, content=bundle, description=description,
            license_info=license_info, compatible_runtimes=runtimes,
            compatible_architectures=architectures,
        )


# Finding ----------------------------------------------------------------------


def _live(team: Team):
    return LayerVersion.objects.select_related("layer__team", "content").filter(
        layer__team=team, deleted_at__isnull=True
    )


def get_version(team: Team, name, number) -> LayerVersion:
    """GetLayerVersion: a version not deleted, or LayerNotFound."""
    name = layer_name(team, name)
    if isinstance(number, bool) or not isinstance(number, int):
        raise LayerError("VersionNumber must be a whole number.")
    found = _live(team).filter(layer__name=name, version=number).first()
    if found is None:
        raise LayerNotFound("The resource you requested does not exist.")
    return found


def get_by_arn(team: Team, arn) -> LayerVersion:
    """GetLayerVersionByArn."""
    found = VERSION_ARN_RE.fullmatch(arn) if isinstance(arn, str) else None
    if found is None:
        raise LayerError(
            f"{str(arn)[:200]} is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)."
        )
    region, account, name, version = found.groups()
    _own(team, arn, region, account)
    return get_version(team, name, int(version))


def _matches(lv: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    return (runtime is None or runtime in lv.compatible_runtimes) and (
        architecture is None or architecture in lv.compatible_architectures
    )


def list_versions(team: Team, name, *, runtime=None, architecture=None) -> list[LayerVersion]:
    """ListLayerVersions: the layer's versions not deleted, newest first,
    those declaring `runtime` / `architecture` when given. An unknown layer
    has none (Lambda answers an empty list)."""
    name = layer_name(team, name)
    versions = _live(team).filter(layer__name=name).order_by("-version")
    return [lv for lv in versions if _matches(lv, runtime, architecture)]


def list_latest(team: Team, *, runtime=None, architecture=None) -> list[tuple[Layer, LayerVersion]]:
    """ListLayers: (layer, its latest matching version) by name, for every
    layer with a version not deleted that matches."""
    latest: dict[int, LayerVersion] = {}
    for lv in _live(team).order_by("layer__name", "-version"):
        if lv.layer_id not in latest and _matches(lv, runtime, architecture):
            latest[lv.layer_id] = lv
    return sorted(((lv.layer, lv) for lv in latest.values()), key=lambda pair: pair[0].name)


def delete_version(team: Team, name, number) -> bool:
    """DeleteLayerVersion: the version is no longer seen or added; its row
    and content stay for functions that list it. True when it was there;
    deleting again (or a version that never was) is no error: Lambda
    answers 204 alike."""
    name = layer_name(team, name)
    if isinstance(number, bool) or not isinstance(number, int):
        raise LayerError("VersionNumber must be a whole number.")
    done = LayerVersion.objects.filter(
        layer__team=team, layer__name=name, version=number, deleted_at__isnull=True
    ).update(deleted_at=timezone.now())
    return bool(done)


def users(lv: LayerVersion) -> list[str]:
    """Names of the team's functions that list this version."""
    return users_by_arn([lv.layer.team_id]).get(arn_of(lv), [])


def users_by_arn(team_ids) -> dict[str, list[str]]:
    """Layer version ARN -> names of the functions (of these teams) that
    list it, by name."""
    found: dict[str, list[str]] = {}
    rows = Function.objects.filter(team_id__in=team_ids).order_by("name").values_list("name", "layers")
    for name, arns in rows:
        for arn in arns or []:
            found.setdefault(arn, []).append(name)
    return found


# A function's Layers --------------------------------------------------------------


def resolve(team: Team, arns, *, code_unzipped: int = 0) -> list[str]:
    """Validate a function's Layers (CreateFunction,
    UpdateFunctionConfiguration) and return them as stored (ARNs, in
    order). `code_unzipped`: the function code's unzipped bytes, for the
    250 MB total. None or [] is no layers. Raises LayerError (Lambda's
    messages) for more than 5, a value that is no layer version ARN, a
    version that does not exist (or was deleted), two versions of one layer,
    or too large a total; LayerAccessDenied for another account's layer."""
    if arns is None:
        return []
    if not isinstance(arns, (list, tuple)) or not all(isinstance(a, str) for a in arns):
        raise LayerError("Layers must be a list of layer version ARNs.")
    if len(arns) > MAX_LAYERS:
        raise LayerError(f"Cannot reference more than {MAX_LAYERS} layers.")
    versions: list[LayerVersion] = []
    seen: dict[str, int] = {}
    for arn in arns:
        found = VERSION_ARN_RE.fullmatch(arn)
        if found is None:
            raise LayerError(
                f"{arn[:200]} is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)."
            )
        region, account, name, number = found.groups()
        _own(team, arn, region, account)
        lv = _live(team).filter(layer__name=name, version=int(number)).first()
        if lv is None:
            raise LayerError(f"Layer version {arn} does not exist.")
        if name in seen:
            raise LayerError(
                "Two different versions of the same layer are not allowed to be referenced in the same "
                f"function. {layer_arn(account, name)} references version {seen[name]} and version {number}."
                if seen[name] != int(number)
                else f"The layer version {arn} is listed twice."
            )
        seen[name] = int(number)
        versions.append(lv)
    check_total_size(code_unzipped, [lv.content for lv in versions])
    return [arn_of(lv) for lv in versions]


def check_total_size(code_unzipped: int, contents: list[CodeBundle]) -> None:
    """LayerError when code and layers together are over 250 MB unzipped."""
    total = code_unzipped + sum(c.unzipped_size for c in contents)
    if total > MAX_TOTAL_UNZIPPED:
        raise LayerError(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{MAX_TOTAL_UNZIPPED} bytes. The actual size is {total} bytes."
        )


@dataclass
class FunctionLayer:
    """One of a function's layers as it runs: deleted ones included."""

    arn: str
    content: CodeBundle | None  # None: no such version was ever stored

    @property
    def code_size(self) -> int:
        return self.content.size if self.content else 0


def of_function(fn) -> list[FunctionLayer]:
    """A function's (or a resolved version's) layers in order, with their
    content, whether or not the version was deleted since."""
    arns = list(getattr(fn, "layers", None) or [])
    if not arns:
        return []
    wanted = {}
    for arn in arns:
        found = VERSION_ARN_RE.fullmatch(arn)
        if found:
            wanted[arn] = (found.group(3), int(found.group(4)))
    rows = LayerVersion.objects.select_related("layer__team", "content").filter(
        layer__team_id=fn.team_id, layer__name__in={n for n, _ in wanted.values()}
    )
    by_key = {(lv.layer.name, lv.version): lv for lv in rows}
    return [FunctionLayer(arn, getattr(by_key.get(wanted.get(arn)), "content", None)) for arn in arns]


def layers_shape(fn) -> list[dict]:
    """FunctionConfiguration.Layers: [{"Arn", "CodeSize"}] in order (bytes
    of each layer's zip), as Lambda answers."""
    return [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in of_function(fn)]


def content_dirs(fn) -> list[str]:
    """Host folders of a function's layers' extracted files, in the order
    they are unpacked under /opt. A layer whose content is missing is left
    out (logged by the caller's environment as a missing import)."""
    return [str(layer.content.files_dir) for layer in of_function(fn) if layer.content is not None]


def runtime_environment(runtime: str) -> dict[str, str]:
    """The variables Lambda defines for layers in `runtime`'s process:
    PATH (with /opt/bin), LD_LIBRARY_PATH (with /opt/lib) and, for
    Node.js, NODE_PATH (/opt/nodejs/nodeNN/node_modules:/opt/nodejs/
    node_modules:/var/runtime/node_modules:/var/runtime:/var/task, as the
    nodejs runtimes' bootstrap sets it). None is reserved: a function's own
    variable of the same name wins."""
    env = {"PATH": PATH, "LD_LIBRARY_PATH": LD_LIBRARY_PATH}
    found = re.fullmatch(r"nodejs(\d+)\.x", runtime or "")
    if found:
        env["NODE_PATH"] = (
            f"/opt/nodejs/node{found.group(1)}/node_modules:/opt/nodejs/node_modules:"
            "/var/runtime/node_modules:/var/runtime:/var/task"
        )
    return env
