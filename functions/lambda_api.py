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
translate shapes and errors only. Only $LATEST exists, so any other
qualifier is "not found"."""

import re
from collections.abc import Callable

from django.core import signing
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse

from awsapi import arns, errors, params, services
from functions import lambda_shapes as shapes
from functions import dependencies, service
from functions.models import ApiKey, CodeBundle, Function

LIST_DEFAULT, LIST_MAX = 50, 10000
# Like an S3 presigned URL for the code, which is what Lambda hands out.
CODE_URL_MAX_AGE_S = 600
CODE_URL_SALT = "stratus.lambda-code"
LATEST = "$LATEST"
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
    """The bare name a FunctionName (and the Qualifier of the query string,
    which wins over one in the name) means in the key's team, and the error
    to raise when there is no such function; another account or a version
    other than $LATEST is "not found" at once. A value that is no function
    name at all (Lambda's pattern, matched in full) is a ValidationException."""
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
    qualifier = qualifier or named_qualifier
    own = key.team.account_id
    missing = errors.not_found(arns.function_arn(account or own, name, qualifier))
    if account not in (None, own) or qualifier not in (None, LATEST):
        raise missing
    return name, missing


def get_function_of(key: ApiKey, parameters: dict) -> Function:
    """The function an operation's FunctionName (and Qualifier) names in the
    key's team, or ResourceNotFoundException."""
    name, missing = function_name(key, parameters["FunctionName"], parameters.get("Qualifier"))
    fn = Function.objects.select_related("team", "code", "last_build__source").filter(
        team=key.team, name=name).first()
    if fn is None:
        raise missing
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
    if account not in (None, key.team.account_id):
        raise errors.invalid_parameter(
            f"The function ARN {value} belongs to another account; create functions in your own "
            f"({key.team.account_id})."
        )
    if qualifier is not None:
        raise errors.invalid_parameter("CreateFunction takes a function name without a qualifier.")
    return name


def _reject_unsupported(parameters: dict) -> None:
    if parameters.get("Publish"):
        raise errors.invalid_parameter("Publishing versions is not supported; omit Publish.")
    if parameters.get("DryRun"):
        raise errors.invalid_parameter("DryRun is not supported for code updates; omit it.")
    if parameters.get("PackageType", "Zip") != "Zip":
        raise errors.invalid_parameter("Only Zip functions are supported; PackageType must be Zip.")


def _check_revision(fn: Function, parameters: dict) -> None:
    revision = parameters.get("RevisionId")
    if revision is not None and revision != str(fn.revision):
        raise errors.precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction API to retrieve the latest Revision Id."
        )


# Lambda's own model bounds where botocore's published model is wider
# (Timeout there goes to 5400, MemorySize to 32768): Lambda checks them as
# model constraints, answering ValidationException in the model's words.
_BOUNDS = (("Timeout", "timeout", service.TIMEOUT_MIN, service.TIMEOUT_MAX),
           ("MemorySize", "memorySize", service.MEMORY_MIN, service.MEMORY_MAX))


def _check_bounds(parameters: dict) -> None:
    """ValidationException for a Timeout outside 1-900 or a MemorySize
    outside 128-10240, every problem listed, as Lambda answers:
    "1 validation error detected: Value '901' at 'timeout' failed to satisfy
    constraint: Member must have value less than or equal to 900"."""
    problems = []
    for member, where, low, high in _BOUNDS:
        value = parameters.get(member)
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


def _service_call(call: Callable[[], Function], arn: str = "") -> Function:
    """functions.service's errors in Lambda's words: 409 for a taken name,
    404 for a function deleted meanwhile, InvalidParameterValueException
    for any other bad value."""
    try:
        return call()
    except (service.NameTaken, service.BuildPending) as e:
        raise errors.conflict(str(e)) from None
    except service.FunctionGone:
        raise errors.not_found(arn) from None
    except service.LayerAccessDenied as e:
        raise errors.access_denied(str(e)) from None
    except service.FunctionError as e:
        raise errors.invalid_parameter(str(e)) from None


# Operations --------------------------------------------------------------


def list_functions(context: services.Context, parameters: dict) -> dict:
    """ListFunctions: MaxItems 1-10000 (default 50), Marker = the last name
    of the previous page; NextMarker when there is more."""
    max_items = parameters.get("MaxItems", LIST_DEFAULT)
    if not 1 <= max_items <= LIST_MAX:
        raise errors.invalid_parameter(f"MaxItems must be a number from 1 to {LIST_MAX}.")
    # The marker is the last name returned: names are unique in a team and
    # the list is ordered by name, so a page never repeats or skips.
    functions = Function.objects.select_related("team", "code", "last_build__source").filter(
        team=context.team)
    if marker := parameters.get("Marker"):
        functions = functions.filter(name__gt=marker)
    page = list(functions.order_by("name")[: max_items + 1])
    output: dict = {"Functions": [shapes.function_configuration(fn) for fn in page[:max_items]]}
    if len(page) > max_items:
        output["NextMarker"] = page[max_items - 1].name
    return output


def create_function(context: services.Context, parameters: dict) -> services.Reply:
    """CreateFunction from a zip (Code.ZipFile); 201 with the configuration.
    Errors: ResourceConflictException (409) for a taken name,
    InvalidParameterValueException for what functions.service refuses."""
    _check_bounds(parameters)
    _reject_unsupported(parameters)
    zip_bytes = _zip_bytes(parameters.get("Code"))
    fn = _service_call(
        lambda: service.create_function(
            context.team,
            name=_new_name(context.key, parameters.get("FunctionName")),
            zip_bytes=zip_bytes,
            handler=parameters.get("Handler"),
            runtime=parameters.get("Runtime", "python3.11"),
            memory_mb=parameters.get("MemorySize", 128),
            timeout_s=parameters.get("Timeout", 3),
            environment=_environment(parameters),
            description=parameters.get("Description", ""),
            role=parameters.get("Role", ""),
            layers=parameters.get("Layers"),
        )
    )
    return services.Reply(shapes.function_configuration(fn), status=201)


def get_function(context: services.Context, parameters: dict) -> dict:
    """GetFunction: the configuration, a short-lived code URL on this
    server, and the reserved concurrency when there is one."""
    fn = get_function_of(context.key, parameters)
    # The code as uploaded, as Lambda hands it out (not a dependency build's result).
    sha = dependencies.submitted_code(fn).sha256
    token = signing.dumps({"sha": sha, "name": fn.name}, salt=CODE_URL_SALT)
    location = context.endpoint + reverse("lambda-code", args=[token])
    return shapes.get_function(fn, location)


def get_function_configuration(context: services.Context, parameters: dict) -> dict:
    """GetFunctionConfiguration."""
    return shapes.function_configuration(get_function_of(context.key, parameters))


def update_function_code(context: services.Context, parameters: dict) -> dict:
    """UpdateFunctionCode from ZipFile; RevisionId, when given, must be the
    current one (412 PreconditionFailedException otherwise)."""
    fn = get_function_of(context.key, parameters)
    _reject_unsupported(parameters)
    _check_revision(fn, parameters)
    zip_bytes = _zip_bytes(parameters)
    return shapes.function_configuration(_service_call(lambda: service.update_code(fn, zip_bytes), fn.arn))


def update_function_configuration(context: services.Context, parameters: dict) -> dict:
    """UpdateFunctionConfiguration: the members given (null is not given)
    change, all or none."""
    _check_bounds(parameters)
    fn = get_function_of(context.key, parameters)
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
    }
    return shapes.function_configuration(
        _service_call(lambda: service.update_configuration(fn, **changes), fn.arn)
    )


def delete_function(context: services.Context, parameters: dict) -> services.Reply:
    """DeleteFunction (204, as Lambda answers): its pending async events are
    cancelled and sent to its on-failure destination first
    (functions.service.delete_function)."""
    service.delete_function(get_function_of(context.key, parameters))
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
        return errors.AwsError(404, "ResourceNotFoundException", "The code is gone.").response()
    return FileResponse(
        open(bundle.zip_path, "rb"), as_attachment=True, filename=f"{data['name']}.zip"
    )
