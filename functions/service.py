"""Creating and changing functions: the one place that validates a function's
settings, used by the console's forms and by the Lambda API alike."""

import json
import re

from django.conf import settings
from django.db import IntegrityError, transaction

from functions import code as codestore
from functions.models import Function, Team

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ENV_KEY_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
# Lambda reserves these: they describe the environment to the runtime.
RESERVED_ENV = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}
ENV_LIMIT = 4 * 1024
MEMORY_MIN, MEMORY_MAX = 128, 10240
TIMEOUT_MIN, TIMEOUT_MAX = 1, 900


class FunctionError(ValueError):
    """A bad value; `field` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NameTaken(FunctionError):
    pass


def clean_name(name) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FunctionError(
            "The name must be 1 to 64 letters, digits, hyphens or underscores.", "name"
        )
    return name


def clean_memory(value) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise FunctionError("Memory must be a whole number of MB.", "memory_mb") from None
    if not MEMORY_MIN <= value <= MEMORY_MAX:
        raise FunctionError(
            f"Memory must be between {MEMORY_MIN} and {MEMORY_MAX} MB, got {value}.", "memory_mb"
        )
    return value


def clean_timeout(value) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise FunctionError("The timeout must be a whole number of seconds.", "timeout_s") from None
    if not TIMEOUT_MIN <= value <= TIMEOUT_MAX:
        raise FunctionError(
            f"The timeout must be between {TIMEOUT_MIN} and {TIMEOUT_MAX} seconds, got {value}.",
            "timeout_s",
        )
    return value


def clean_runtime(value) -> str:
    if value not in settings.STRATUS_RUNTIMES:
        raise FunctionError(
            f"The runtime {value!r} is not supported; use one of: "
            + ", ".join(settings.STRATUS_RUNTIMES) + ".",
            "runtime",
        )
    return value


def clean_environment(value) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise FunctionError("Environment variables must be a map of names to strings.", "environment")
    for key, val in value.items():
        if not isinstance(key, str) or not ENV_KEY_RE.match(key):
            raise FunctionError(
                f"The environment variable name {key!r} is not valid: use letters, digits "
                "and underscores, starting with a letter.",
                "environment",
            )
        if key in RESERVED_ENV:
            raise FunctionError(f"The environment variable {key} is reserved.", "environment")
        if not isinstance(val, str):
            raise FunctionError(f"The value of {key} must be a string.", "environment")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > ENV_LIMIT:
        raise FunctionError(
            f"Environment variables take {size} bytes; the limit is 4 KB in all.", "environment"
        )
    return dict(value)


def parse_env_lines(text: str) -> dict:
    """KEY=value lines, as typed in the console."""
    result = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise FunctionError(f"Line {n} of the environment is not KEY=value.", "environment")
        key, _, val = line.partition("=")
        result[key.strip()] = val
    return result


def clean_description(value) -> str:
    value = value or ""
    if len(value) > 256:
        raise FunctionError("The description is longer than 256 characters.", "description")
    return value


def clean_handler(value) -> str:
    if not isinstance(value, str) or not value or len(value) > 128 or any(c.isspace() for c in value):
        raise FunctionError("The handler must look like module.function.", "handler")
    return value


def _checked_code(zip_bytes: bytes, handler: str) -> codestore.CheckedZip:
    try:
        checked = codestore.check_zip(zip_bytes)
        codestore.check_handler(checked, handler)
    except codestore.CodeError as e:
        raise FunctionError(str(e), "code") from None
    return checked


def create_function(
    team: Team,
    *,
    name: str,
    zip_bytes: bytes,
    handler: str,
    runtime: str = "python3.11",
    memory_mb=128,
    timeout_s=3,
    environment=None,
    description: str = "",
    role: str = "",
) -> Function:
    name = clean_name(name)
    fields = dict(
        runtime=clean_runtime(runtime),
        handler=clean_handler(handler),
        memory_mb=clean_memory(memory_mb),
        timeout_s=clean_timeout(timeout_s),
        environment=clean_environment(environment),
        description=clean_description(description),
        role=role or "",
    )
    checked = _checked_code(zip_bytes, fields["handler"])
    if Function.objects.filter(team=team, name=name).exists():
        raise NameTaken(f"A function named {name} already exists.", "name")
    bundle = codestore.store(checked)
    try:
        with transaction.atomic():
            return Function.objects.create(
                team=team,
                name=name,
                code=bundle,
                editable_file=codestore.single_file_name(checked),
                **fields,
            )
    except IntegrityError:
        raise NameTaken(f"A function named {name} already exists.", "name") from None


def update_code(fn: Function, zip_bytes: bytes) -> Function:
    checked = _checked_code(zip_bytes, fn.handler)
    bundle = codestore.store(checked)
    with transaction.atomic():
        fn.code = bundle
        fn.editable_file = codestore.single_file_name(checked)
        fn.touch_revision()
        fn.save()
    return fn


def update_configuration(fn: Function, **changes) -> Function:
    """Validate every change first; save all of them or none."""
    cleaners = {
        "runtime": clean_runtime,
        "handler": clean_handler,
        "memory_mb": clean_memory,
        "timeout_s": clean_timeout,
        "environment": clean_environment,
        "description": clean_description,
        "role": lambda v: v or "",
    }
    cleaned = {}
    for key, value in changes.items():
        if value is None:
            continue
        cleaned[key] = cleaners[key](value)
    if "handler" in cleaned and cleaned["handler"] != fn.handler:
        with open(fn.code.zip_path, "rb") as f:
            _checked_code(f.read(), cleaned["handler"])
    with transaction.atomic():
        for key, value in cleaned.items():
            setattr(fn, key, value)
        fn.touch_revision()
        fn.save()
    return fn
