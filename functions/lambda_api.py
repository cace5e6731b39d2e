"""The AWS Lambda REST API (2015-03-31): the operations on functions, as
boto3 and the AWS CLI call them, served by the AWS front door
(awsapi.door; registered by functions.lambda_door).

Each handler is `handler(context, params) -> dict`: `params` is the
operation's input in boto3's names, parsed by the door with botocore's
model after `lambda_door.check_input` checked the request as it came; the
dict is the output, which the door serialises. Errors are `awsapi.errors`
AwsErrors named after Lambda's codes. The key's team scopes everything:
another team's function is "not found", like another account's.
Validation of settings lives in functions.service; these handlers
translate shapes and errors only. A qualifier (the Qualifier member, or
`name:qualifier` / a qualified ARN) names $LATEST, a published version or
an alias (functions.qualifiers); one that does not exist is "not found",
naming the qualified ARN. Versions and aliases have their own operations
(functions.lambda_versions_api)."""

import re
from collections.abc import Callable

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse

from awsapi import arns, errors, params, services
from functions import lambda_shapes as shapes
from functions import dependencies, lambda_paging, qualifiers, service, versions
from functions.models import ApiKey, CodeBundle, Function, FunctionVersion

# Like an S3 presigned URL for the code, which is what Lambda hands out.
CODE_URL_MAX_AGE_S = 600
CODE_URL_SALT = "stratus.lambda-code"
LATEST = qualifiers.LATEST
SERVICE = "lambda"
# botocore's NamespacedFunctionName (the widest FunctionName of the model),
# kept here so Invoke's door need not load the model: a name, a partial or
# a full ARN, at most 256 characters, matched in full.
FUNCTION_NAME_MAX = 256
FUNCTION_NAME_RE = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?",
    re.ASCII,
)


# Helpers -----------------------------------------------------------------


def function_name(key: ApiKey, value: str, qualifier: str | None = None) -> tuple[str, errors.AwsError]:
    """The bare name a FunctionName (and the Qualifier member, which may
    repeat a qualifier in the name but not contradict it) means in the key's
    team, and the error to raise when there is no such function (or
    qualifier: it names the qualified ARN); another account is "not found"
    at once. A value that is no function name at all (Lambda's pattern,
    matched in full) is a ValidationException; a Qualifier other than the
    name's is InvalidParameterValueException, as Lambda answers.
    `qualified_name` also gives the qualifier."""
    name, _qualifier, missing = qualified_name(key, value, qualifier)
    return name, missing


def qualified_name(
    key: ApiKey, value: str, qualifier: str | None = None
) -> tuple[str, str | None, errors.AwsError]:
    """(name, qualifier or None, the not-found error) of a FunctionName and
    Qualifier, as `function_name`."""
    if not isinstance(value, str) or len(value) > FUNCTION_NAME_MAX or not FUNCTION_NAME_RE.fullmatch(value):
        raise params.validation_error([
            f"Value '{params.shown(value)}' at 'functionName' failed to satisfy constraint: Member "
            f"must be a function name, a partial ARN or a function ARN of at most {FUNCTION_NAME_MAX} "
            "characters (letters, digits, hyphens and underscores in the name)"
        ])
    try:
        account, name, named_qualifier = arns.split_function_name(value)
    except arns.ArnError as e:
        raise errors.invalid_parameter(str(e)) from None
    if region := arns.foreign_region(value):
        raise region_unreachable(region)
    if qualifier and named_qualifier and qualifier != named_qualifier:
        # Lambda's words: "ver:1" with Qualifier "2" runs neither.
        raise errors.invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    qualifier = qualifier or named_qualifier
    own = key.team.account_id
    missing = errors.not_found(arns.function_arn(account or own, name, qualifier))
    if account not in (None, own):
        raise missing
    return name, qualifier or None, missing


def region_unreachable(region: str) -> errors.AwsError:
    """ResourceNotFoundException for a function ARN of another region,
    in Lambda's words: an endpoint serves its own region's functions only,
    and Stratus serves one region (STRATUS_REGION)."""
    return errors.resource_not_found(
        f"Functions from '{region}' are not reachable in this region ('{settings.STRATUS_REGION}')"
    )


def function_and_qualifier_of(key: ApiKey, parameters: dict) -> tuple[Function, str | None]:
    """The function itself ($LATEST's row) and the qualifier named in
    FunctionName or Qualifier (unresolved: for operations that keep a
    setting per qualifier, such as function URLs); the errors of
    `qualified_name`, ResourceNotFoundException without such a function."""
    name, qualifier, missing = qualified_name(key, parameters["FunctionName"], parameters.get("Qualifier"))
    fn = Function.objects.select_related("team", "code").filter(team=key.team, name=name).first()
    if fn is None:
        raise missing
    return fn, qualifier


def get_function_of(key: ApiKey, parameters: dict) -> Function:
    """The function an operation's FunctionName (and Qualifier) names in the
    key's team, or ResourceNotFoundException: itself for no qualifier or
    $LATEST, else an unsavable copy as the version (or the alias's version)
    froze it (functions.qualifiers.for_reading; `.qualifier` says which)."""
    name, qualifier, missing = qualified_name(key, parameters["FunctionName"], parameters.get("Qualifier"))
    fn = Function.objects.select_related("team", "code", "last_build__source").filter(
        team=key.team, name=name).first()
    if fn is None:
        raise missing
    try:
        return qualifiers.for_reading(fn, qualifier)
    except qualifiers.QualifierNotFound:
        raise missing from None


def latest_function_of(key: ApiKey, parameters: dict, operation: str) -> Function:
    """get_function_of for the operations on the function itself ($LATEST:
    its updates, its versions and aliases): a version or alias qualifier is
    InvalidParameterValueException (a version is immutable)."""
    fn = get_function_of(key, parameters)
    if fn.qualifier not in (None, LATEST):
        raise errors.invalid_parameter(
            f"{operation} takes the function's name without a qualifier ({fn.qualifier} given): "
            "it acts on the function itself ($LATEST), and published versions cannot change."
        )
    return fn


def _zip_bytes(code) -> bytes:
    if not isinstance(code, dict) or not code.get("ZipFile"):
        raise errors.invalid_parameter(
            "Code.ZipFile is required: send the code as a zip file "
            "(S3 and container-image code are not supported)."
        )
    return code["ZipFile"]


def _environment(parameters: dict):
    """Environment.Variables, or None when the request leaves it alone
    (absent or null); an Environment without Variables clears them."""
    env = parameters.get("Environment")
    if env is None:
        return None
    return env.get("Variables") or {}


def _new_name(key: ApiKey, value) -> str:
    """CreateFunction's FunctionName: a name, or an ARN of the key's own
    account without a qualifier (Lambda accepts both)."""
    try:
        account, name, qualifier = arns.split_function_name(value)
    except (arns.ArnError, AttributeError):
        return value  # service.clean_name says what is wrong with it
    if region := arns.foreign_region(value):
        raise errors.invalid_parameter(
            f"The function ARN {value} is in region {region}; this endpoint creates functions in "
            f"{settings.STRATUS_REGION} only."
        )
    if account not in (None, key.team.account_id):
        raise errors.invalid_parameter(
            f"The function ARN {value} belongs to another account; create functions in your own "
            f"({key.team.account_id})."
        )
    if qualifier is not None:
        raise errors.invalid_parameter("CreateFunction takes a function name without a qualifier.")
    return name


def _require_runtime_and_handler(parameters: dict) -> None:
    """InvalidParameterValueException when a Zip CreateFunction leaves out
    Runtime or Handler: the model marks neither required (an Image
    function needs neither), but Lambda's CreateFunction documents both as
    mandatory for a .zip deployment package (custom runtimes included) and
    refuses the call in these words. A JSON null is an absent member (the
    door's parser drops it)."""
    missing = [member for member in ("Runtime", "Handler") if member not in parameters]
    if missing:
        raise errors.invalid_parameter(
            "Runtime and Handler are mandatory parameters for functions created with deployment "
            f"packages ({' and '.join(missing)} missing)."
        )


def _reject_unsupported(parameters: dict) -> None:
    if parameters.get("DryRun"):
        raise errors.invalid_parameter("DryRun is not supported for code updates; omit it.")
    if parameters.get("PackageType", "Zip") != "Zip":
        raise errors.invalid_parameter("Only Zip functions are supported; PackageType must be Zip.")


def _check_revision(fn: Function, parameters: dict) -> None:
    """412 at once for a RevisionId that is not the function's as read; the
    write itself claims it again (functions.service: a conditional UPDATE),
    so of two writes racing with the same RevisionId only one is made."""
    _service_call(lambda: service.check_revision(parameters.get("RevisionId"), fn.revision), fn.arn)


# Lambda's own model bounds where botocore's published model is wider
# (Timeout there goes to 5400, MemorySize to 32768): Lambda checks them as
# model constraints, answering ValidationException in the model's words.
_BOUNDS = (("Timeout", "timeout", service.TIMEOUT_MIN, service.TIMEOUT_MAX),
           ("MemorySize", "memorySize", service.MEMORY_MIN, service.MEMORY_MAX))
# EphemeralStorage.Size: the model allows 32768 (for AcceleratorConfig);
# a Zip function's /tmp is 512-10240 MB.
_NESTED_BOUNDS = (("EphemeralStorage", "Size", "ephemeralStorage.size", service.EPHEMERAL_MIN,
                   service.EPHEMERAL_MAX),)
# The same ranges by the path a message names, for the door's model check
# (functions.lambda_door.check_input -> awsapi.params.check_body), so a
# value over the model's own max (MemorySize 99999) is told Lambda's limit
# too, not the model's.
LIMITS = {where: (low, high) for *_, where, low, high in _BOUNDS + _NESTED_BOUNDS}


def _check_bounds(parameters: dict) -> None:
    """ValidationException for a Timeout outside 1-900, a MemorySize
    outside 128-10240 or an EphemeralStorage.Size outside 512-10240, every
    problem listed, as Lambda answers:
    "1 validation error detected: Value '901' at 'timeout' failed to satisfy
    constraint: Member must have value less than or equal to 900"."""
    problems = []
    checked = [(where, low, high, parameters.get(member)) for member, where, low, high in _BOUNDS]
    checked += [(where, low, high, parameters[outer].get(inner))
                for outer, inner, where, low, high in _NESTED_BOUNDS
                if isinstance(parameters.get(outer), dict)]
    for where, low, high, value in checked:
        if isinstance(value, bool) or not isinstance(value, int):
            continue  # the model's type check (awsapi.params) has said so
        if value > high:
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {high}")
        elif value < low:
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: "
                            f"Member must have value greater than or equal to {low}")
    if problems:
        raise params.validation_error(problems)


def _new_settings(parameters: dict) -> dict:
    """Architectures, EphemeralStorage, LoggingConfig and TracingConfig in
    functions.service's names; members not given are left out (Create's
    defaults, Update's "leave alone")."""
    found = {
        "architectures": parameters.get("Architectures"),
        "ephemeral_storage_mb": (parameters.get("EphemeralStorage") or {}).get("Size"),
        "logging_config": parameters.get("LoggingConfig"),
        "tracing_mode": (parameters.get("TracingConfig") or {}).get("Mode"),
    }
    return {key: value for key, value in found.items() if value is not None}


def _service_call(call: Callable[[], Function], arn: str = "") -> Function:
    """functions.service's errors in Lambda's words: 409 for a taken name,
    404 for a function deleted meanwhile, InvalidParameterValueException
    for any other bad value."""
    try:
        return call()
    except (service.NameTaken, service.BuildPending) as e:
        raise errors.conflict(str(e)) from None
    except service.RevisionChanged as e:
        raise errors.precondition_failed(str(e)) from None
    except service.FunctionGone:
        raise errors.not_found(arn) from None
    except service.LayerAccessDenied as e:
        raise errors.access_denied(str(e)) from None
    except service.FunctionError as e:
        raise errors.invalid_parameter(str(e)) from None


# Operations --------------------------------------------------------------


def list_functions(context: services.Context, parameters: dict) -> dict:
    """ListFunctions: MaxItems 1-10000 (default 50), Marker = a NextMarker
    of a previous page (opaque: functions.lambda_paging.opaque_marker;
    any other text is InvalidParameterValueException); NextMarker when
    there is more. FunctionVersion ALL lists each function's published
    versions after its $LATEST; a marker of the one listing is refused by
    the other."""
    max_items = lambda_paging.max_items(parameters)
    every_version = parameters.get("FunctionVersion") == "ALL"
    after = None
    if marker := parameters.get("Marker"):  # an empty one is none, as before
        after = _list_position(marker, every_version)
    functions = Function.objects.select_related("team", "code", "last_build__source").filter(
        team=context.team)
    if every_version:
        return _list_with_versions(functions, after, max_items)
    # The marker carries the last name returned: names are unique in a team
    # and the list is ordered by name, so a page never repeats or skips,
    # even when that function has been deleted since.
    if after is not None:
        functions = functions.filter(name__gt=after[0])
    return lambda_paging.page("Functions", functions.order_by("name"), max_items,
                              shapes.function_configuration,
                              lambda fn: lambda_paging.opaque_marker("ListFunctions", {"name": fn.name}))


def _list_position(marker: str, every_version: bool) -> tuple[str, int]:
    """(name, version: 0 for $LATEST) of the entry a ListFunctions marker
    resumes after; InvalidParameterValueException for a marker this
    listing (with or without FunctionVersion ALL) did not give."""
    position = lambda_paging.marker_position("ListFunctions", marker)
    name, version = position.get("name"), position.get("version")
    if not isinstance(name, str) or (version is not None) != every_version:
        raise errors.invalid_parameter(
            "Invalid Marker for ListFunctions: it is not from a listing "
            f"{'with' if every_version else 'without'} FunctionVersion ALL."
        )
    if every_version and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise errors.invalid_parameter("Invalid Marker for ListFunctions.")
    return name, version or 0


def _list_with_versions(functions, after: tuple[str, int] | None, max_items: int) -> dict:
    """ListFunctions with FunctionVersion ALL: by name, each function's
    $LATEST then its versions by number, MaxItems entries in all. `after`:
    the (name, version) of the previous page's last entry, version 0 for a
    $LATEST."""
    after_version = 0
    if after:
        # The marker's function resumes after that entry (its $LATEST is
        # before any of its versions), then the next names.
        functions = functions.filter(name__gte=after[0])
        after_version = after[1]
    # Each function after the marker's gives one entry at least, so
    # max_items + 1 of them suffice; the marker's own function may give none
    # (its $LATEST and versions already listed), hence one more with a marker.
    page_functions = list(functions.order_by("name")[: max_items + 1 + bool(after)])
    rows: dict[int, list] = {}
    for row in FunctionVersion.objects.filter(function__in=page_functions).order_by("version"):
        rows.setdefault(row.function_id, []).append(row)
    entries: list[tuple[Function, FunctionVersion | None]] = []
    for fn in page_functions:
        resumed = after and fn.name == after[0]
        if not resumed:
            entries.append((fn, None))
        entries += [(fn, row) for row in rows.get(fn.pk, []) if not resumed or row.version > after_version]
        if len(entries) > max_items:
            break
    return lambda_paging.page(
        "Functions", entries, max_items, lambda entry: shapes.function_configuration(version_of(*entry)),
        lambda entry: lambda_paging.opaque_marker(
            "ListFunctions", {"name": entry[0].name, "version": entry[1].version if entry[1] else 0}),
    )


def version_of(fn: Function, row: FunctionVersion | None) -> Function:
    """$LATEST (None) or version `row` of `fn`, qualified (its ARN ends ":3")."""
    if row is None:
        return fn
    copied = qualifiers.frozen(fn, row)
    copied.qualifier = str(row.version)
    return copied


def create_function(context: services.Context, parameters: dict) -> services.Reply:
    """CreateFunction from a zip (Code.ZipFile); 201 with the configuration.
    Errors: ResourceConflictException (409) for a taken name,
    InvalidParameterValueException for what functions.service refuses."""
    _check_bounds(parameters)
    _reject_unsupported(parameters)
    _require_runtime_and_handler(parameters)
    zip_bytes = _zip_bytes(parameters.get("Code"))
    fn, answer = _changed_and_published(parameters, lambda: _service_call(
        lambda: service.create_function(
            context.team,
            name=_new_name(context.key, parameters.get("FunctionName")),
            zip_bytes=zip_bytes,
            handler=parameters.get("Handler"),
            runtime=parameters["Runtime"],
            memory_mb=parameters.get("MemorySize", 128),
            timeout_s=parameters.get("Timeout", 3),
            environment=_environment(parameters),
            description=parameters.get("Description", ""),
            role=parameters.get("Role", ""),
            layers=parameters.get("Layers"),
            **_new_settings(parameters),
            tags=parameters.get("Tags") or {},
        )
    ))
    return services.Reply(shapes.function_configuration(answer), status=201)


def _changed_and_published(parameters: dict, change: Callable[[], Function]) -> tuple[Function, Function]:
    """Run `change` (a create or a code update) and, with Publish=True,
    publish a version, in one transaction: a refused publish undoes the
    change (bad input stores nothing). Returns (the function, what to
    answer: the version's configuration with Publish, else $LATEST's).
    Code waiting on a dependency build is published as a Pending version
    (functions.versions.publish with_build), Active once built."""
    with transaction.atomic():
        fn = change()
        if not parameters.get("Publish"):
            return fn, fn
        version, _new = versions.publish(fn, with_build=True)
    return fn, version_of(fn, version)


def get_function(context: services.Context, parameters: dict) -> dict:
    """GetFunction: the configuration, a short-lived code URL on this
    server, and the reserved concurrency when there is one."""
    fn = get_function_of(context.key, parameters)
    # The code as uploaded, as Lambda hands it out (not a dependency build's result).
    return shapes.get_function(fn, code_location(context, dependencies.submitted_code(fn).sha256, fn.name))


def get_function_configuration(context: services.Context, parameters: dict) -> dict:
    """GetFunctionConfiguration."""
    return shapes.function_configuration(get_function_of(context.key, parameters))


def update_function_code(context: services.Context, parameters: dict) -> dict:
    """UpdateFunctionCode from ZipFile; RevisionId, when given, must be the
    current one (412 PreconditionFailedException otherwise)."""
    fn = latest_function_of(context.key, parameters, "UpdateFunctionCode")
    _reject_unsupported(parameters)
    _check_revision(fn, parameters)
    zip_bytes = _zip_bytes(parameters)
    architectures = parameters.get("Architectures")
    _updated, answer = _changed_and_published(parameters, lambda: _service_call(lambda: service.update_code(
        fn, zip_bytes, architectures, expected_revision=parameters.get("RevisionId")), fn.arn))
    return shapes.function_configuration(answer)


def update_function_configuration(context: services.Context, parameters: dict) -> dict:
    """UpdateFunctionConfiguration: the members given (null is not given)
    change, all or none."""
    _check_bounds(parameters)
    fn = latest_function_of(context.key, parameters, "UpdateFunctionConfiguration")
    _check_revision(fn, parameters)
    changes = {
        "runtime": parameters.get("Runtime"),
        "handler": parameters.get("Handler"),
        "memory_mb": parameters.get("MemorySize"),
        "timeout_s": parameters.get("Timeout"),
        "environment": _environment(parameters),
        "description": parameters.get("Description"),
        "role": parameters.get("Role"),
        "layers": parameters.get("Layers"),
        # Architectures are UpdateFunctionCode's (not in this operation's model).
        **{k: v for k, v in _new_settings(parameters).items() if k != "architectures"},
    }
    return shapes.function_configuration(
        _service_call(lambda: service.update_configuration(
            fn, expected_revision=parameters.get("RevisionId"), **changes), fn.arn)
    )


def delete_function(context: services.Context, parameters: dict) -> services.Reply:
    """DeleteFunction (204, as Lambda answers): its pending async events are
    cancelled and sent to its on-failure destination first
    (functions.service.delete_function). With a version Qualifier only
    that version goes (functions.versions.delete_version); $LATEST or an
    alias as the Qualifier is refused, as Lambda does."""
    fn = get_function_of(context.key, parameters)
    qualifier = fn.qualifier
    if qualifier is None:
        service.delete_function(fn)
    elif qualifier == LATEST:
        raise errors.invalid_parameter("$LATEST version cannot be deleted without deleting the function.")
    elif not qualifiers.is_version(qualifier):
        raise errors.invalid_parameter(
            f"Deletion of aliases is not supported by DeleteFunction ({qualifier} is an alias): "
            "use DeleteAlias."
        )
    else:
        versions.delete_version(fn, qualifier)
    return services.Reply({}, status=204)


HANDLERS = {
    "ListFunctions": list_functions,
    "CreateFunction": create_function,
    "GetFunction": get_function,
    "GetFunctionConfiguration": get_function_configuration,
    "UpdateFunctionCode": update_function_code,
    "UpdateFunctionConfiguration": update_function_configuration,
    "DeleteFunction": delete_function,
}
READS = {"ListFunctions", "GetFunction", "GetFunctionConfiguration"}


# Not an AWS operation ----------------------------------------------------


def code_location(context: services.Context, sha256: str, name: str) -> str:
    """A short-lived URL on this server (code_download) for the zip stored
    as `sha256` (hex), downloaded as `name`.zip: GetFunction's and
    GetLayerVersion's Location (Lambda's is a presigned S3 URL)."""
    token = signing.dumps({"sha": sha256, "name": name}, salt=CODE_URL_SALT)
    return context.endpoint + reverse("lambda-code", args=[token])


def code_download(request: HttpRequest, token: str) -> HttpResponse:
    """GetFunction's Code.Location (a Django view): the token is the
    authority (signed and short-lived, like an S3 presigned URL), so plain
    curl can fetch it."""
    try:
        data = signing.loads(token, salt=CODE_URL_SALT, max_age=CODE_URL_MAX_AGE_S)
    except signing.SignatureExpired:
        return errors.access_denied("This code URL has expired; call GetFunction again.").response()
    except signing.BadSignature:
        return errors.access_denied("This code URL is not valid.").response()
    bundle = CodeBundle.objects.filter(sha256=data["sha"]).first()
    if bundle is None or not bundle.zip_path.exists():
        return errors.resource_not_found("The code is gone.").response()
    return FileResponse(
        open(bundle.zip_path, "rb"), as_attachment=True, filename=f"{data['name']}.zip"
    )
