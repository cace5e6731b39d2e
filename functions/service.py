"""Creating, changing and deleting functions: the one place that validates
a function's settings, used by the console's forms and by the Lambda API
alike.

Every value is checked by type and range before anything is stored (text
is text, numbers are whole numbers and never booleans, maps are maps), with
Lambda's limits; a rejected change raises FunctionError and leaves stored
data as it was. The Lambda API checks the JSON types against botocore's
model first (awsapi.params); these checks hold for every caller."""

import json
import logging
import platform
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from functions import code as codestore
from functions import layers as layerstore
from functions import code_files, dependencies, handlers
from functions.models import Function, Team

log = logging.getLogger(__name__)

# Lambda: function names are 1-64 letters, digits, hyphens and underscores.
NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
# Lambda's EnvironmentVariableName pattern (two characters at least).
ENV_KEY_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
# Lambda's Handler: at most 128 characters, no whitespace.
HANDLER_RE = re.compile(r"\S+")
HANDLER_MAX = 128
# Lambda's RoleArn pattern; the length is our column's (IAM's own limits,
# a 64-character name under a 512-character path, stay far below it).
ROLE_RE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+", re.ASCII)
ROLE_MAX = 2048
DESCRIPTION_MAX = 256  # Lambda: Description is at most 256 characters.
# Lambda reserves these: they describe the environment to the runtime.
RESERVED_ENV = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}
ENV_LIMIT = 4 * 1024  # Lambda: 4 KB of environment variables in all.
MEMORY_MIN, MEMORY_MAX = 128, 10240  # Lambda: 128 MB to 10,240 MB.
TIMEOUT_MIN, TIMEOUT_MAX = 1, 900  # Lambda: 1 s to 900 s (15 minutes).
SHOWN_MAX = 40  # characters of a bad value quoted in a message


class FunctionError(ValueError):
    """A bad value; `field` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NameTaken(FunctionError):
    """The team has a function of that name already."""


class FunctionGone(FunctionError):
    """The function was deleted while the change was being made."""


class RevisionChanged(FunctionError):
    """The function (or alias) changed since the caller read the RevisionId
    it sent (Lambda's 412 PreconditionFailedException)."""

    def __init__(self, getter: str = "GetFunction"):
        super().__init__("The Revision Id provided does not match the latest Revision Id. "
                         f"Call the {getter} API to retrieve the latest Revision Id.")


def check_revision(expected: str | None, current: uuid.UUID, getter: str = "GetFunction") -> None:
    """RevisionChanged (in Lambda's words, naming the `getter` operation
    that reads the current one) when a RevisionId was sent (`expected`;
    None: not sent) and it is not `current`. A write that must not race
    claims it as well (_claim_revision)."""
    if expected is not None and expected != str(current):
        raise RevisionChanged(getter)


class LayerAccessDenied(FunctionError):
    """A layer of another account (Lambda: AccessDeniedException)."""


class BuildPending(FunctionError):
    """A dependency build is pending: code and configuration changes wait
    for it (Lambda's ResourceConflictException; functions.dependencies)."""


class CodeChanged(FunctionError):
    """The code changed since the caller read it (a stale base): saving
    would throw away someone else's change."""


# Values ---------------------------------------------------------------------


def _kind(value) -> str:
    """What a value is, in a message's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


def _shown(value: str) -> str:
    text = json.dumps(value[:SHOWN_MAX])
    return text[:-1] + '..."' if len(value) > SHOWN_MAX else text


def _text(value, field: str, label: str) -> str:
    """`value` if it is text the database and a process environment can
    hold: a str, without NUL, without unpaired surrogates."""
    if not isinstance(value, str):
        raise FunctionError(f"{label} must be text, not {_kind(value)}.", field)
    if "\x00" in value:
        raise FunctionError(f"{label} must not contain NUL characters.", field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FunctionError(f"{label} is not valid Unicode text (an unpaired surrogate).", field) from None
    return value


def _whole(value, field: str, label: str, low: int, high: int, unit: str) -> int:
    """A whole number from `low` to `high`: an int, never a bool (True is
    1 to Python, not to Lambda), a float or text."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FunctionError(f"{label} must be a whole number of {unit}, not {_kind(value)}.", field)
    if not low <= value <= high:
        raise FunctionError(f"{label} must be between {low} and {high} {unit}, got {value}.", field)
    return value


def clean_name(name) -> str:
    """A function name: 1-64 letters, digits, hyphens, underscores (Lambda),
    matched in full (a trailing newline is not allowed)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise FunctionError(
            "The name must be 1 to 64 letters, digits, hyphens or underscores.", "name"
        )
    return name


def clean_memory(value) -> int:
    """Memory in MB, a whole number from 128 to 10,240 (Lambda)."""
    return _whole(value, "memory_mb", "Memory", MEMORY_MIN, MEMORY_MAX, "MB")


def clean_timeout(value) -> int:
    """The timeout in seconds, a whole number from 1 to 900 (Lambda)."""
    return _whole(value, "timeout_s", "The timeout", TIMEOUT_MIN, TIMEOUT_MAX, "seconds")


def clean_runtime(value) -> str:
    """One of settings.STRATUS_RUNTIMES."""
    value = _text(value, "runtime", "The runtime")
    if value not in settings.STRATUS_RUNTIMES:
        raise FunctionError(
            f"The runtime {_shown(value)} is not supported; use one of: "
            + ", ".join(settings.STRATUS_RUNTIMES) + ".",
            "runtime",
        )
    return value


def clean_environment(value) -> dict:
    """Environment variables: a map of names to text values. Names match
    Lambda's [a-zA-Z]([a-zA-Z0-9_])+ and are not reserved by Lambda; values
    hold no NUL (a process environment cannot); all of them together take
    at most 4 KB (Lambda), measured as their JSON text in UTF-8. None is
    "no variables"."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FunctionError(
            f"Environment variables must be a map of names to text, not {_kind(value)}.", "environment"
        )
    for key, val in value.items():
        if not isinstance(key, str) or not ENV_KEY_RE.fullmatch(key):
            shown = _shown(key) if isinstance(key, str) else repr(key)
            raise FunctionError(
                f"The environment variable name {shown} is not valid: use at least two letters, "
                "digits and underscores, starting with a letter.",
                "environment",
            )
        if key in RESERVED_ENV:
            raise FunctionError(f"The environment variable {key} is reserved by Lambda.", "environment")
        _text(val, "environment", f"The value of {key}")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > ENV_LIMIT:
        raise FunctionError(
            f"Environment variables take {size} bytes; the limit is 4 KB in all.", "environment"
        )
    return dict(value)


def parse_env_lines(text) -> dict:
    """KEY=value lines, as typed in the console (blank lines and # comments
    skipped; the value is everything after the first =). FunctionError for a
    line without = or a name given twice; clean_environment checks the rest."""
    text = _text(text if text is not None else "", "environment", "The environment")
    result: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise FunctionError(f"Line {n} of the environment is not KEY=value.", "environment")
        key, _, val = line.partition("=")
        key = key.strip()
        if key in result:
            raise FunctionError(f"Line {n} of the environment sets {_shown(key)} again.", "environment")
        result[key] = val
    return result


def clean_description(value) -> str:
    """Text of at most 256 characters (Lambda); None is empty."""
    if value is None:
        return ""
    value = _text(value, "description", "The description")
    if len(value) > DESCRIPTION_MAX:
        raise FunctionError(
            f"The description is {len(value)} characters long; the limit is {DESCRIPTION_MAX}.",
            "description",
        )
    return value


def clean_handler(value) -> str:
    """Text of at most 128 characters without whitespace (Lambda's Handler
    pattern, all that Lambda refuses). Whether the code defines it is not
    checked here: Lambda takes such a handler and the invoke fails with
    Runtime.ImportModuleError / Runtime.HandlerNotFound (the runtime's
    bootstrap); the console warns with handler_problem."""
    value = _text(value, "handler", "The handler")
    if not value or len(value) > HANDLER_MAX or not HANDLER_RE.fullmatch(value):
        raise FunctionError(
            f"The handler must look like module.function: at most {HANDLER_MAX} characters, "
            "no spaces.",
            "handler",
        )
    return value


def clean_role(value) -> str:
    """An IAM role ARN (arn:aws:iam::123456789012:role/NAME), matched in
    full with Lambda's pattern; None or "" is no role (the console has none,
    and Stratus does not use it to grant anything)."""
    if value is None or value == "":
        return ""
    value = _text(value, "role", "The role")
    if len(value) > ROLE_MAX or not ROLE_RE.fullmatch(value):
        raise FunctionError(
            f"The role {_shown(value)} is not an IAM role ARN: use "
            "arn:aws:iam::123456789012:role/NAME.",
            "role",
        )
    return value


def clean_layers(team: Team, value, code_unzipped: int) -> list[str]:
    """A function's Layers: layer version ARNs of the team, checked by
    functions.layers.resolve (at most 5, existing, one version per layer,
    code + layers <= 250 MB unzipped). LayerAccessDenied (a FunctionError
    too) for another account's layer."""
    try:
        return layerstore.resolve(team, value, code_unzipped=code_unzipped)
    except layerstore.LayerAccessDenied as e:
        raise LayerAccessDenied(str(e), "layers") from None
    except layerstore.LayerError as e:
        raise FunctionError(str(e), "layers") from None


def _check_size_with_layers(fn: Function, checked: codestore.CheckedZip) -> None:
    """New code must fit beside the function's layers (250 MB unzipped in all)."""
    if not fn.layers:
        return
    contents = [layer.content for layer in layerstore.of_function(fn) if layer.content is not None]
    try:
        layerstore.check_total_size(checked.unzipped_size, contents)
    except layerstore.LayerError as e:
        raise FunctionError(str(e), "code") from None


def _checked_code(zip_bytes) -> codestore.CheckedZip:
    try:
        return codestore.check_zip(zip_bytes)
    except codestore.CodeError as e:
        raise FunctionError(str(e), "code") from None


def handler_problem(fn: Function) -> str | None:
    """Why `fn`'s handler will not load from its stored code (the module is
    not in it, the function not defined, a syntax error), or None: the
    console's warning. Lambda stores such a function all the same; its
    invokes fail with Runtime.ImportModuleError and the like."""
    try:
        with open(dependencies.submitted_code(fn).zip_path, "rb") as f:
            checked = codestore.check_zip(f.read())
        handlers.check(checked, fn.handler, fn.runtime)
    except OSError:
        return "The function's stored code is missing; upload the code again."
    except codestore.CodeError as e:
        return f"{e} Invokes will fail until the code or the handler is fixed."
    return None


def _manifest(checked: codestore.CheckedZip, runtime: str) -> str | None:
    """The manifest to install for this code (functions.dependencies)."""
    try:
        return dependencies.manifest_to_build(checked, runtime)
    except dependencies.ManifestError as e:
        raise FunctionError(str(e), "code") from None


def _refuse_while_building(fn: Function) -> None:
    if message := dependencies.refuse_while_pending(fn):
        raise BuildPending(message, "code")


def _store(checked: codestore.CheckedZip):
    try:
        return codestore.store(checked)
    except codestore.CodeError as e:
        raise FunctionError(str(e), "code") from None


# Lambda's newer configuration fields ---------------------------------------------

EPHEMERAL_MIN, EPHEMERAL_MAX = 512, 10240  # Lambda: /tmp is 512 MB to 10,240 MB.
ARCHITECTURES = ("x86_64", "arm64")  # Lambda's Architecture enum
# What platform.machine() calls each architecture Lambda names.
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
LOG_FORMATS = ("Text", "JSON")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
# Lambda's LogGroup pattern, 1-512 characters.
LOG_GROUP_RE = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
TRACING_MODES = ("Active", "PassThrough")
TAGS_MAX = 50  # Lambda: at most 50 tags per function.
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
# Lambda's TagKey/TagValue pattern: letters, separators (spaces), digits and _.:/=+-@.
TAG_TEXT_RE = re.compile(r"[\w\s.:/=+\-@]*")


def host_architecture() -> str:
    """The Lambda architecture this host runs ("x86_64" or "arm64"), from
    platform.machine(); the machine's own name when Lambda has none for it."""
    machine = platform.machine()
    return _MACHINES.get(machine.lower(), machine)


def clean_architectures(value) -> list[str]:
    """Lambda's Architectures: a list of exactly one of x86_64 and arm64,
    and (a Stratus rule) the one this host runs: its containers run the
    host's own machine code, with no emulation. Creating without them
    takes the host's (x86_64 on an x86-64 machine, Lambda's default)."""
    if not isinstance(value, (list, tuple)) or len(value) != 1:
        raise FunctionError("Architectures must list exactly one architecture: x86_64 or arm64.",
                            "architectures")
    arch = value[0]
    if arch not in ARCHITECTURES:
        shown = _shown(arch) if isinstance(arch, str) else repr(arch)
        raise FunctionError(f"The architecture {shown} is not one of x86_64, arm64.", "architectures")
    host = host_architecture()
    if arch != host:
        raise FunctionError(
            f"This host cannot run {arch} functions: its machine is {platform.machine()} "
            f"(Lambda's {host}). Use Architectures [\"{host}\"].",
            "architectures",
        )
    return [arch]


def clean_ephemeral_storage(value) -> int:
    """EphemeralStorage.Size: the /tmp size in MB, a whole number from 512
    to 10,240 (Lambda)."""
    return _whole(value, "ephemeral_storage_mb", "Ephemeral storage (/tmp)", EPHEMERAL_MIN,
                  EPHEMERAL_MAX, "MB")


def clean_logging_config(value, current: dict | None = None) -> dict:
    """Lambda's LoggingConfig merged over `current` (members given replace
    the stored ones): LogFormat Text or JSON; ApplicationLogLevel
    (TRACE..FATAL) and SystemLogLevel (DEBUG, INFO, WARN) only with JSON,
    as Lambda refuses them with Text (switching to Text drops stored
    levels); LogGroup matching Lambda's pattern. {} is Lambda's default:
    Text, /aws/lambda/<name>."""
    if not isinstance(value, dict):
        raise FunctionError(f"LoggingConfig must be a map, not {_kind(value)}.", "logging_config")
    unknown = set(value) - {"LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup"}
    if unknown:
        raise FunctionError(f"LoggingConfig has no member {sorted(unknown)[0]}.", "logging_config")
    given = {key: val for key, val in value.items() if val not in (None, "")}
    merged = {**(current or {}), **given}
    log_format = merged.get("LogFormat", "Text")
    if log_format not in LOG_FORMATS:
        raise FunctionError(f"LogFormat must be Text or JSON, not {log_format!r}.", "logging_config")
    for key, allowed in (("ApplicationLogLevel", APPLICATION_LOG_LEVELS),
                         ("SystemLogLevel", SYSTEM_LOG_LEVELS)):
        level = merged.get(key)
        if level is None:
            continue
        if level not in allowed:
            raise FunctionError(f"{key} must be one of {', '.join(allowed)}, not {level!r}.",
                                "logging_config")
        if log_format != "JSON":
            if key in given:
                raise FunctionError(
                    f"{key} can be set only when LogFormat is JSON (Lambda's Text format has no "
                    "log levels).", "logging_config")
            del merged[key]
    group = merged.get("LogGroup")
    if group is not None and (not isinstance(group, str) or not LOG_GROUP_RE.fullmatch(group)):
        raise FunctionError(
            "LogGroup must be 1 to 512 letters, digits and . - _ / # characters.", "logging_config")
    return merged


def clean_tracing_mode(value) -> str:
    """TracingConfig.Mode: Active or PassThrough (stored and returned;
    Stratus sends no traces)."""
    if value not in TRACING_MODES:
        shown = _shown(value) if isinstance(value, str) else _kind(value)
        raise FunctionError(f"TracingConfig.Mode must be Active or PassThrough, not {shown}.",
                            "tracing_mode")
    return value


def clean_tags(value, current: dict | None = None) -> dict:
    """Lambda's tags `value` added to `current`: keys 1-128 and values 0-256
    characters of Lambda's pattern, no key starting with "aws:" (AWS
    reserves it), at most 50 in all. FunctionError (field "tags")."""
    if not isinstance(value, dict):
        raise FunctionError(f"Tags must be a map of keys to text, not {_kind(value)}.", "tags")
    for key, val in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= TAG_KEY_MAX or not TAG_TEXT_RE.fullmatch(key):
            raise FunctionError(
                f"The tag key {_shown(str(key))} is not valid: use 1 to {TAG_KEY_MAX} letters, digits, "
                "spaces and _ . : / = + - @.", "tags")
        if key.lower().startswith("aws:"):
            raise FunctionError(f"The tag key {_shown(key)} starts with aws:, which AWS reserves.", "tags")
        if not isinstance(val, str) or len(val) > TAG_VALUE_MAX or not TAG_TEXT_RE.fullmatch(val):
            raise FunctionError(
                f"The value of tag {_shown(key)} is not valid: use at most {TAG_VALUE_MAX} letters, "
                "digits, spaces and _ . : / = + - @.", "tags")
    merged = {**(current or {}), **value}
    if len(merged) > TAGS_MAX:
        raise FunctionError(
            f"A function can have at most {TAGS_MAX} tags; this would make {len(merged)}.", "tags")
    return merged


# Changes --------------------------------------------------------------------


def create_function(
    team: Team,
    *,
    name,
    zip_bytes,
    handler,
    runtime="python3.11",
    memory_mb=128,
    timeout_s=3,
    environment=None,
    description="",
    role="",
    layers=None,
    architectures=None,
    ephemeral_storage_mb=EPHEMERAL_MIN,
    logging_config=None,
    tracing_mode="PassThrough",
    tags=None,
) -> Function:
    """A new function in `team`: every setting checked (clean_*), then the
    code (a valid zip; whether it defines the handler is the invoke's
    concern, as in Lambda: see handler_problem), then stored with
    its code bundle in one transaction. FunctionError (or NameTaken) stores
    nothing."""
    name = clean_name(name)
    fields = dict(
        runtime=clean_runtime(runtime),
        handler=clean_handler(handler),
        memory_mb=clean_memory(memory_mb),
        timeout_s=clean_timeout(timeout_s),
        environment=clean_environment(environment),
        description=clean_description(description),
        role=clean_role(role),
        # Lambda's default is x86_64; a host of another machine defaults to its own.
        architectures=clean_architectures([host_architecture()] if architectures is None else architectures),
        ephemeral_storage_mb=clean_ephemeral_storage(ephemeral_storage_mb),
        logging_config=clean_logging_config(logging_config or {}),
        tracing_mode=clean_tracing_mode(tracing_mode),
        tags=clean_tags(tags or {}),
    )
    checked = _checked_code(zip_bytes)
    fields["layers"] = clean_layers(team, layers, checked.unzipped_size)
    manifest = _manifest(checked, fields["runtime"])
    if Function.objects.filter(team=team, name=name).exists():
        raise NameTaken(f"A function named {name} already exists.", "name")
    try:
        with transaction.atomic():
            bundle = _store(checked)
            fn = Function.objects.create(
                team=team,
                name=name,
                code=bundle,
                editable_file=codestore.single_file_name(checked),
                **fields,
            )
            if manifest:
                # Pending until its dependencies are installed (or the same
                # code's finished build is reused: Active at once).
                dependencies.submit(fn, bundle, manifest, creating=True)
                fn.save(update_fields=dependencies.SUBMIT_FIELDS)
            return fn
    except IntegrityError:
        # Created by someone else since the check above. The bundle's files
        # stay (complete, content-addressed): the next upload of the same
        # code reuses them.
        raise NameTaken(f"A function named {name} already exists.", "name") from None


def _save(fn: Function, fields: list[str]) -> None:
    """Save `fields` of a function that must still exist: a plain save()
    of a row deleted meanwhile would insert it again."""
    try:
        # A savepoint: the failed save must not break the caller's transaction.
        with transaction.atomic():
            fn.save(update_fields=fields)
    except DatabaseError:
        if not Function.objects.filter(pk=fn.pk).exists():
            raise FunctionGone(f"The function {fn.name} was deleted meanwhile.") from None
        raise


def _claim_revision(fn: Function, expected) -> None:
    """Inside a write's transaction: when the caller sent a RevisionId
    (`expected`), a conditional UPDATE that must change exactly one row,
    so of two writes sent with the same RevisionId only one wins and the
    other gets RevisionChanged (its transaction, and so its change, undone)."""
    if expected is None:
        return
    try:
        expected = uuid.UUID(str(expected))
    except ValueError:
        raise RevisionChanged() from None
    if Function.objects.filter(pk=fn.pk, revision=expected).update(revision=uuid.uuid4()) != 1:
        raise RevisionChanged()


def update_code(fn: Function, zip_bytes, architectures=None, expected_revision=None) -> Function:
    """New code for a function: checked as a zip, then stored and switched
    to in one transaction (a new revision). Code that needs its
    dependencies installed (functions.dependencies) is stored and a build
    queued instead: LastUpdateStatus InProgress, the previous code runs
    until the build switches it. BuildPending while a build is pending.
    `architectures` (Lambda's UpdateFunctionCode takes them with the code):
    None leaves them alone. `expected_revision`: Lambda's RevisionId,
    RevisionChanged when stale."""
    arch = clean_architectures(architectures) if architectures is not None else None
    checked = _checked_code(zip_bytes)
    _refuse_while_building(fn)
    _check_size_with_layers(fn, checked)
    manifest = _manifest(checked, fn.runtime)
    with transaction.atomic():
        _claim_revision(fn, expected_revision)
        bundle = _store(checked)
        if arch is not None:
            fn.architectures = arch
            _save(fn, ["architectures"])
        _switch_code(fn, bundle, checked, manifest)
    return fn


def _switch_code(fn: Function, bundle, checked: codestore.CheckedZip, manifest: str | None) -> None:
    """Switch to `bundle`, or wait for its dependency build (inside the
    caller's transaction)."""
    fn.touch_revision()
    if manifest:
        dependencies.submit(fn, bundle, manifest, creating=False)
        _save(fn, dependencies.SUBMIT_FIELDS)
        return
    fn.code = bundle
    fn.editable_file = codestore.single_file_name(checked)
    _save(fn, ["code", "editable_file", "revision", "updated_at", *dependencies.code_switched(fn)])


def handler_files(handler: str, runtime: str = "python3.11") -> set[str]:
    """The files that can hold the handler's code, per runtime
    (functions.handlers)."""
    return handlers.handler_files(handler, runtime)


def update_code_files(
    fn: Function, *, base_sha256: str, edits=None, adds=None, deletes=()
) -> Function:
    """Change files of a function's code, as the console's editor does:
    `edits` (path -> new text) replace files, `adds` (path -> text) add
    files, `deletes` (paths) remove files; every other file is kept byte
    for byte with its mode (functions.code_files.rewrite). The result is a
    NEW bundle, checked like an upload (functions.code.check_zip: paths,
    duplicates, Lambda's sizes) and switched to as a new revision.

    `base_sha256` is the code hash the editor was opened on: when the code
    changed since (a save or an upload by someone else), CodeChanged and
    nothing is stored. FunctionError (field "code" or "path") for a bad
    change: a binary or too big file edited, a path outside the code
    folder, a file that exists already, the handler's module deleted (set
    another handler first). Edits that break the handler are stored, as
    Lambda does; handler_problem says so."""
    _refuse_while_building(fn)
    # The editor edits the code as it was uploaded, not a build's result.
    submitted = dependencies.submitted_code(fn)
    if submitted.sha256 != base_sha256:
        raise CodeChanged(
            "The code changed since you opened it (someone saved or uploaded new code). "
            "Nothing was saved; your text is still in the editor: copy it, reload the page "
            "and apply your change to the current code.",
            "code",
        )
    protected = sorted(handler_files(fn.handler, fn.runtime) & set(deletes or ()))
    if protected and handlers.is_custom(fn.runtime):
        raise FunctionError("bootstrap is what the custom runtime starts; it cannot be deleted.", "path")
    if protected:
        raise FunctionError(
            f"{protected[0]} holds the handler's module ({fn.handler}); it cannot be deleted. "
            "Set another handler in Configuration first.",
            "path",
        )
    try:
        with open(submitted.zip_path, "rb") as f:
            base = f.read()
    except OSError:
        raise FunctionError("The function's stored code is missing; upload the code again.", "code") from None
    try:
        data = code_files.rewrite(base, edits=edits, adds=adds, deletes=deletes)
    except codestore.CodeError as e:
        raise FunctionError(str(e), "code") from None
    checked = _checked_code(data)
    _check_size_with_layers(fn, checked)
    manifest = _manifest(checked, fn.runtime)
    with transaction.atomic():
        bundle = _store(checked)
        # A conditional UPDATE that must change exactly one row: of two saves
        # on the same base, only one wins; the other learns the code changed.
        claimed = Function.objects.filter(
            pk=fn.pk, code_id=fn.code_id, last_build_id=fn.last_build_id, revision=fn.revision,
        ).update(updated_at=timezone.now())
        if claimed != 1:
            if not Function.objects.filter(pk=fn.pk).exists():
                raise FunctionGone(f"The function {fn.name} was deleted meanwhile.")
            raise CodeChanged(
                "The code changed while you saved (someone else saved first). Nothing was saved; "
                "your text is still in the editor: copy it, reload the page and apply it again.",
                "code",
            )
        # save() as well: post_save drops every process's copy of the function.
        _switch_code(fn, bundle, checked, manifest)
    return fn


CLEANERS = {
    "runtime": clean_runtime,
    "handler": clean_handler,
    "memory_mb": clean_memory,
    "timeout_s": clean_timeout,
    "environment": clean_environment,
    "description": clean_description,
    "role": clean_role,
    "architectures": clean_architectures,  # the console's; Lambda's API sets them with the code
    "ephemeral_storage_mb": clean_ephemeral_storage,
    "logging_config": clean_logging_config,
    "tracing_mode": clean_tracing_mode,
}


def update_configuration(fn: Function, expected_revision=None, **changes) -> Function:
    """Change settings (keys of CLEANERS, and `layers`: layer version ARNs,
    clean_layers; a None value leaves that setting alone). Every change is
    checked first; then all are saved, or none. `expected_revision`:
    Lambda's RevisionId, RevisionChanged when stale."""
    layers = changes.pop("layers", None)
    unknown = set(changes) - CLEANERS.keys()
    if unknown:
        raise TypeError(f"update_configuration() got unknown settings: {', '.join(sorted(unknown))}")
    cleaned = {
        # LoggingConfig's members given replace the stored ones (Lambda).
        key: (clean_logging_config(value, fn.logging_config) if key == "logging_config"
              else CLEANERS[key](value))
        for key, value in changes.items() if value is not None
    }
    _refuse_while_building(fn)
    if layers is not None:
        # A change of layers is a new revision: fresh environments get the new /opt.
        cleaned["layers"] = clean_layers(fn.team, layers, fn.code.unzipped_size)
    rebuild = _rebuild_for_runtime(fn, cleaned.get("runtime"))
    with transaction.atomic():
        _claim_revision(fn, expected_revision)
        for key, value in cleaned.items():
            setattr(fn, key, value)
        fn.touch_revision()
        # A successful update after a failed build: Successful (Lambda's
        # LastUpdateStatus is the last update's, and this one worked).
        _save(fn, [*cleaned, "revision", "updated_at", *dependencies.configuration_updated(fn)])
        if rebuild is not None:
            # Packages are built for one Python/Node.js version: a new
            # runtime installs them again (the old ones run meanwhile).
            dependencies.submit(fn, rebuild[0], rebuild[1], creating=False)
            _save(fn, dependencies.SUBMIT_FIELDS)
    return fn


def tag_function(fn: Function, tags) -> Function:
    """Add or replace tags (clean_tags), saved at once; tags are no part of
    the function's revision (Lambda's RevisionId does not change)."""
    fn.tags = clean_tags(tags, fn.tags)
    _save(fn, ["tags"])
    return fn


def set_tags(fn: Function, tags) -> Function:
    """Replace the whole set of tags (the console's editor), clean_tags' rules."""
    fn.tags = clean_tags(tags)
    _save(fn, ["tags"])
    return fn


def untag_function(fn: Function, keys) -> Function:
    """Remove the tags of `keys` (absent ones are ignored, as Lambda does)."""
    if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
        raise FunctionError("TagKeys must be a list of tag keys.", "tags")
    fn.tags = {key: val for key, val in (fn.tags or {}).items() if key not in set(keys)}
    _save(fn, ["tags"])
    return fn


def _rebuild_for_runtime(fn: Function, runtime: str | None):
    """(the uploaded code, its manifest) when a change to `runtime` needs
    its dependencies installed again, else None."""
    if runtime is None or runtime == fn.runtime:
        return None
    submitted = dependencies.submitted_code(fn)
    try:
        with open(submitted.zip_path, "rb") as f:
            checked = codestore.check_zip(f.read())
    except (OSError, codestore.CodeError):
        return None
    manifest = _manifest(checked, runtime)
    return (submitted, manifest) if manifest else None


# Deleting -------------------------------------------------------------------


@dataclass
class Deleted:
    """What deleting a function did with its pending async events: how many
    were cancelled, and how many of those were sent to the on-failure
    destination `destination` ("" when none is configured;
    `destination_exists` False when it names something gone)."""

    name: str
    cancelled: int = 0
    delivered: int = 0
    destination: str = ""
    destination_exists: bool = False

    def summary(self) -> str:
        """One sentence for the console and the log."""
        text = f"Deleted {self.name}."
        if not self.cancelled:
            return text
        events = "1 pending async event was" if self.cancelled == 1 else (
            f"{self.cancelled} pending async events were"
        )
        text += f" {events} cancelled without running"
        if self.delivered == self.cancelled:
            return f"{text}; sent to the on-failure destination {self.destination}."
        if self.delivered:
            return f"{text}; {self.delivered} sent to the on-failure destination {self.destination}."
        if not self.destination:
            return f"{text} (no on-failure destination was configured)."
        if not self.destination_exists:
            return f"{text}; the on-failure destination {self.destination} no longer exists."
        return f"{text}."


DELETED_ERROR_TYPE = "Stratus.FunctionDeleted"


def _destination_exists(fn: Function, arn: str) -> bool:
    from invocations import destinations

    try:
        return destinations.resolve(fn.team, destinations.parse(fn.team, arn)) is not None
    except destinations.DestinationError:
        return False


def delete_function(fn: Function) -> Deleted:
    """Delete a function and what belongs to it, and account for its
    pending (queued) async events first, which would otherwise vanish with
    it: each is cancelled (a worker can no longer claim it), its finish
    hooks run (invocations.hooks), and an async event that Lambda's
    delivery rules cover is sent to the function's on-failure destination
    as Lambda's invocation record (invocations.delivery.destination_record)
    with requestContext.condition "FunctionDeleted" and the reason in
    responsePayload. Rows already running are left to their worker. All in
    one transaction: if anything fails, nothing is deleted."""
    from invocations import delivery, destinations, hooks
    from invocations.models import Invocation

    result = Deleted(fn.name)
    with transaction.atomic():
        # Lock the row first: a concurrent insert of an invocation for this
        # function waits on it (its foreign key) and then fails, instead of
        # slipping in after the pending events were counted.
        Function.objects.select_for_update().filter(pk=fn.pk).first()
        config = delivery.config_for(fn)
        result.destination = config.on_failure
        result.destination_exists = bool(config.on_failure) and _destination_exists(fn, config.on_failure)
        now = timezone.now()
        marker = f"deleted:{uuid.uuid4()}"
        message = (
            f"The function {fn.name} was deleted before this event ran; the event was "
            "cancelled and will not run."
        )
        error = {"errorType": DELETED_ERROR_TYPE, "errorMessage": message}
        # One conditional UPDATE: a row a worker claims at the same moment
        # is either cancelled here or running there, never both.
        result.cancelled = Invocation.objects.filter(function=fn, status="queued").update(
            status="cancelled", finished_at=now, error=error, claimed_by=marker,
        )
        pending = list(
            Invocation.objects.filter(function=fn, claimed_by=marker).select_related("function__team")
        )
        usable = {config.on_failure: result.destination_exists}
        targets: dict[str, str] = {}  # per invoked qualifier
        for inv in pending:
            hooks.run_finished(inv)
            if inv.invocation_type != "Event" or inv.source == "queue":
                # Sync rows have a caller to tell; queue batches go back to
                # their queue when the visibility timeout ends.
                continue
            # The on-failure destination of the qualifier it was invoked
            # with (an alias's own config; invocations.delivery.config_of).
            qualifier = delivery.invoked_qualifier(inv)
            if qualifier not in targets:
                targets[qualifier] = delivery.config_of(inv).on_failure
            target = targets[qualifier]
            if target not in usable:
                usable[target] = bool(target) and _destination_exists(fn, target)
            if not usable[target]:
                continue
            record = delivery.destination_record(inv)
            record["requestContext"]["condition"] = "FunctionDeleted"
            record["responsePayload"] = error
            destinations.send(
                fn.team, target, record,
                source_request_id=inv.request_id, priority=inv.priority,
            )
            result.delivered += 1
        fn.delete()
    if result.cancelled:
        log.warning("function %s (%s): %s", fn.name, fn.pk, result.summary())
    return result
