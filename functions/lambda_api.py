"""The AWS Lambda REST API (2015-03-31), as boto3 and the AWS CLI call it.

Every call is signed with SigV4 by an ApiKey, and the key's team scopes
everything: another team's function is "not found", like another account's.
Validation lives in functions.service; these views translate shapes and
errors only. Only $LATEST exists, so any other qualifier is "not found"."""

import base64
import binascii
import re
from collections.abc import Callable

from django.core import signing
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from awsapi import arns, errors, params
from awsapi.guard import api_view, json_body, require_write
from functions import lambda_shapes as shapes
from functions import service
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


def function_name(request: HttpRequest, key: ApiKey, value: str) -> tuple[str, errors.AwsError]:
    """The bare name a FunctionName means in the key's team, and the error to
    raise when there is no such function; another account or a version
    other than $LATEST is "not found" at once. A value that is no function
    name at all (Lambda's pattern, matched in full) is a ValidationException."""
    if not isinstance(value, str) or len(value) > FUNCTION_NAME_MAX or not FUNCTION_NAME_RE.fullmatch(value):
        raise params.validation_error([
            f"Value '{params.shown(value)}' at 'functionName' failed to satisfy constraint: Member "
            f"must be a function name, a partial ARN or a function ARN of at most {FUNCTION_NAME_MAX} "
            "characters (letters, digits, hyphens and underscores in the name)"
        ])
    try:
        account, name, qualifier = arns.split_function_name(value)
    except arns.ArnError as e:
        raise errors.invalid_parameter(str(e)) from None
    qualifier = request.GET.get("Qualifier") or qualifier
    own = key.team.account_id
    missing = errors.not_found(arns.function_arn(account or own, name, qualifier))
    if account not in (None, own) or qualifier not in (None, LATEST):
        raise missing
    return name, missing


def _get_function(request: HttpRequest, key: ApiKey, value: str) -> Function:
    name, missing = function_name(request, key, value)
    fn = Function.objects.select_related("team", "code").filter(team=key.team, name=name).first()
    if fn is None:
        raise missing
    return fn


def _body(request: HttpRequest, operation: str) -> dict:
    """The JSON body of a Lambda operation, checked against its input shape
    in botocore's model (types, required members, enums, lengths, ranges,
    patterns: ValidationException)."""
    body = json_body(request)
    params.check_body(SERVICE, operation, body)
    return body


def _given(body: dict, key: str, default=None):
    """A member's value; null counts as not given, as in AWS's parsers."""
    value = body.get(key)
    return default if value is None else value


def _zip_bytes(code) -> bytes:
    if not isinstance(code, dict) or not code.get("ZipFile"):
        raise errors.invalid_parameter(
            "Code.ZipFile is required: send the code as a zip file "
            "(S3 and container-image code are not supported)."
        )
    try:
        return base64.b64decode(code["ZipFile"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise errors.invalid_parameter("Code.ZipFile is not valid base64.") from None


def _environment(body: dict):
    """Environment.Variables, or None when the request leaves it alone
    (absent or null); an Environment without Variables clears them."""
    env = body.get("Environment")
    if env is None:
        return None
    if not isinstance(env, dict):
        raise errors.invalid_parameter("Environment must be an object with Variables.")
    return _given(env, "Variables", {})


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


def _reject_unsupported(body: dict) -> None:
    if body.get("Publish"):
        raise errors.invalid_parameter("Publishing versions is not supported; omit Publish.")
    if body.get("DryRun"):
        raise errors.invalid_parameter("DryRun is not supported for code updates; omit it.")
    if body.get("PackageType", "Zip") != "Zip":
        raise errors.invalid_parameter("Only Zip functions are supported; PackageType must be Zip.")


def _check_revision(fn: Function, body: dict) -> None:
    revision = body.get("RevisionId")
    if revision is not None and revision != str(fn.revision):
        raise errors.precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction API to retrieve the latest Revision Id."
        )


def _configuration(fn: Function, status: int = 200) -> JsonResponse:
    return JsonResponse(shapes.function_configuration(fn), status=status)


def _service_call(call: Callable[[], Function], arn: str = "") -> Function:
    """functions.service's errors in Lambda's words: 409 for a taken name,
    404 for a function deleted meanwhile, InvalidParameterValueException
    for any other bad value."""
    try:
        return call()
    except service.NameTaken as e:
        raise errors.conflict(str(e)) from None
    except service.FunctionGone:
        raise errors.not_found(arn) from None
    except service.FunctionError as e:
        raise errors.invalid_parameter(str(e)) from None


def _not_supported(request: HttpRequest) -> errors.AwsError:
    return errors.unknown_operation(request.method, request.path)


# Operations --------------------------------------------------------------


def list_functions(request: HttpRequest, key: ApiKey) -> HttpResponse:
    """ListFunctions: MaxItems 1-10000 (default 50), Marker = the last name
    of the previous page."""
    query = params.check_query(SERVICE, "ListFunctions", request.GET)
    max_items = query.get("MaxItems", LIST_DEFAULT)
    if not 1 <= max_items <= LIST_MAX:
        raise errors.invalid_parameter(f"MaxItems must be a number from 1 to {LIST_MAX}.")
    # The marker is the last name returned: names are unique in a team and
    # the list is ordered by name, so a page never repeats or skips.
    functions = Function.objects.select_related("team", "code").filter(team=key.team)
    if marker := query.get("Marker"):
        functions = functions.filter(name__gt=marker)
    page = list(functions.order_by("name")[: max_items + 1])
    body: dict = {"Functions": [shapes.function_configuration(fn) for fn in page[:max_items]]}
    if len(page) > max_items:
        body["NextMarker"] = page[max_items - 1].name
    return JsonResponse(body)


def create_function(request: HttpRequest, key: ApiKey) -> HttpResponse:
    """CreateFunction from a zip (Code.ZipFile); 201 with the configuration."""
    require_write(key)
    body = _body(request, "CreateFunction")
    _reject_unsupported(body)
    zip_bytes = _zip_bytes(body.get("Code"))
    fn = _service_call(
        lambda: service.create_function(
            key.team,
            name=_new_name(key, body.get("FunctionName")),
            zip_bytes=zip_bytes,
            handler=body.get("Handler"),
            runtime=_given(body, "Runtime", "python3.11"),
            memory_mb=_given(body, "MemorySize", 128),
            timeout_s=_given(body, "Timeout", 3),
            environment=_environment(body),
            description=_given(body, "Description", ""),
            role=_given(body, "Role", ""),
        )
    )
    return _configuration(fn, status=201)


def get_function(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """GetFunction: the configuration, a short-lived code URL, and the
    reserved concurrency when there is one."""
    fn = _get_function(request, key, function_name)
    token = signing.dumps({"sha": fn.code.sha256, "name": fn.name}, salt=CODE_URL_SALT)
    location = request.build_absolute_uri(reverse("lambda-code", args=[token]))
    return JsonResponse(shapes.get_function(fn, location))


def get_function_configuration(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """GetFunctionConfiguration."""
    return _configuration(_get_function(request, key, function_name))


def update_function_code(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """UpdateFunctionCode from ZipFile (base64 in the JSON body); RevisionId,
    when given, must be the current one (412 otherwise)."""
    fn = _get_function(request, key, function_name)
    require_write(key)
    body = _body(request, "UpdateFunctionCode")
    _reject_unsupported(body)
    _check_revision(fn, body)
    zip_bytes = _zip_bytes(body)
    return _configuration(_service_call(lambda: service.update_code(fn, zip_bytes), fn.arn))


def update_function_configuration(
    request: HttpRequest, key: ApiKey, function_name: str
) -> HttpResponse:
    """UpdateFunctionConfiguration: the members given (null is not given)
    change, all or none."""
    fn = _get_function(request, key, function_name)
    require_write(key)
    body = _body(request, "UpdateFunctionConfiguration")
    _check_revision(fn, body)
    changes = {
        "runtime": body.get("Runtime"),
        "handler": body.get("Handler"),
        "memory_mb": body.get("MemorySize"),
        "timeout_s": body.get("Timeout"),
        "environment": _environment(body),
        "description": body.get("Description"),
        "role": body.get("Role"),
    }
    return _configuration(
        _service_call(lambda: service.update_configuration(fn, **changes), fn.arn)
    )


def delete_function(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """DeleteFunction: its pending async events are cancelled and sent to
    its on-failure destination first (functions.service.delete_function)."""
    fn = _get_function(request, key, function_name)
    require_write(key)
    service.delete_function(fn)
    return HttpResponse(status=204)


# Routes: one view per path, dispatching on the method ---------------------


@api_view
def functions_view(request: HttpRequest, key: ApiKey) -> HttpResponse:
    """/functions: ListFunctions (GET), CreateFunction (POST)."""
    if request.method == "GET":
        return list_functions(request, key)
    if request.method == "POST":
        return create_function(request, key)
    raise _not_supported(request)


@api_view
def function_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """/functions/NAME: GetFunction (GET), DeleteFunction (DELETE)."""
    if request.method == "GET":
        return get_function(request, key, function_name)
    if request.method == "DELETE":
        return delete_function(request, key, function_name)
    raise _not_supported(request)


@api_view
def configuration_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """/functions/NAME/configuration: Get (GET) and Update (PUT)."""
    if request.method == "GET":
        return get_function_configuration(request, key, function_name)
    if request.method == "PUT":
        return update_function_configuration(request, key, function_name)
    raise _not_supported(request)


@api_view
def code_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """/functions/NAME/code: UpdateFunctionCode (PUT)."""
    if request.method == "PUT":
        return update_function_code(request, key, function_name)
    raise _not_supported(request)


@csrf_exempt
def unknown_view(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under the API: UnknownOperationException (404)."""
    return _not_supported(request).response()


def code_download(request: HttpRequest, token: str) -> HttpResponse:
    """GetFunction's Code.Location: the token is the authority (signed and
    short-lived, like an S3 presigned URL), so plain curl can fetch it."""
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
