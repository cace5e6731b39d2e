"""The AWS Lambda REST API (2015-03-31), as boto3 and the AWS CLI call it.

Every call is signed with SigV4 by an ApiKey, and the key's team scopes
everything: another team's function is "not found", like another account's.
Validation lives in functions.service; these views translate shapes and
errors only. Only $LATEST exists, so any other qualifier is "not found"."""

import base64
import binascii
from collections.abc import Callable

from django.core import signing
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from awsapi import arns, errors
from awsapi.guard import api_view, json_body, require_write
from functions import lambda_shapes as shapes
from functions import service
from functions.models import ApiKey, CodeBundle, Function

LIST_DEFAULT, LIST_MAX = 50, 10000
# Like an S3 presigned URL for the code, which is what Lambda hands out.
CODE_URL_MAX_AGE_S = 600
CODE_URL_SALT = "stratus.lambda-code"
LATEST = "$LATEST"


# Helpers -----------------------------------------------------------------


def function_name(request: HttpRequest, key: ApiKey, value: str) -> tuple[str, errors.AwsError]:
    """The bare name a FunctionName means in the key's team, and the error to
    raise when there is no such function; another account or a version
    other than $LATEST is "not found" at once."""
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
    """Environment.Variables, or None when the request leaves it alone."""
    if "Environment" not in body:
        return None
    env = body["Environment"]
    if env is None:
        return {}
    if not isinstance(env, dict):
        raise errors.invalid_parameter("Environment must be an object with Variables.")
    return env.get("Variables") or {}


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


def _service_call(call: Callable[[], Function]) -> Function:
    try:
        return call()
    except service.NameTaken as e:
        raise errors.conflict(str(e)) from None
    except service.FunctionError as e:
        raise errors.invalid_parameter(str(e)) from None


def _not_supported(request: HttpRequest) -> errors.AwsError:
    return errors.unknown_operation(request.method, request.path)


# Operations --------------------------------------------------------------


def list_functions(request: HttpRequest, key: ApiKey) -> HttpResponse:
    raw_max = request.GET.get("MaxItems")
    try:
        max_items = int(raw_max) if raw_max else LIST_DEFAULT
    except ValueError:
        max_items = 0
    if not 1 <= max_items <= LIST_MAX:
        raise errors.invalid_parameter(f"MaxItems must be a number from 1 to {LIST_MAX}.")
    # The marker is the last name returned: names are unique in a team and
    # the list is ordered by name, so a page never repeats or skips.
    functions = Function.objects.select_related("team", "code").filter(team=key.team)
    if marker := request.GET.get("Marker"):
        functions = functions.filter(name__gt=marker)
    page = list(functions.order_by("name")[: max_items + 1])
    body: dict = {"Functions": [shapes.function_configuration(fn) for fn in page[:max_items]]}
    if len(page) > max_items:
        body["NextMarker"] = page[max_items - 1].name
    return JsonResponse(body)


def create_function(request: HttpRequest, key: ApiKey) -> HttpResponse:
    require_write(key)
    body = json_body(request)
    _reject_unsupported(body)
    zip_bytes = _zip_bytes(body.get("Code"))
    fn = _service_call(
        lambda: service.create_function(
            key.team,
            name=body.get("FunctionName"),
            zip_bytes=zip_bytes,
            handler=body.get("Handler"),
            runtime=body.get("Runtime") or "python3.11",
            memory_mb=body.get("MemorySize", 128),
            timeout_s=body.get("Timeout", 3),
            environment=_environment(body),
            description=body.get("Description") or "",
            role=body.get("Role") or "",
        )
    )
    return _configuration(fn, status=201)


def get_function(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    fn = _get_function(request, key, function_name)
    token = signing.dumps({"sha": fn.code.sha256, "name": fn.name}, salt=CODE_URL_SALT)
    location = request.build_absolute_uri(reverse("lambda-code", args=[token]))
    return JsonResponse(shapes.get_function(fn, location))


def get_function_configuration(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    return _configuration(_get_function(request, key, function_name))


def update_function_code(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    fn = _get_function(request, key, function_name)
    require_write(key)
    body = json_body(request)
    _reject_unsupported(body)
    _check_revision(fn, body)
    zip_bytes = _zip_bytes(body)
    return _configuration(_service_call(lambda: service.update_code(fn, zip_bytes)))


def update_function_configuration(
    request: HttpRequest, key: ApiKey, function_name: str
) -> HttpResponse:
    fn = _get_function(request, key, function_name)
    require_write(key)
    body = json_body(request)
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
    return _configuration(_service_call(lambda: service.update_configuration(fn, **changes)))


def delete_function(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    fn = _get_function(request, key, function_name)
    require_write(key)
    fn.delete()
    return HttpResponse(status=204)


# Routes: one view per path, dispatching on the method ---------------------


@api_view
def functions_view(request: HttpRequest, key: ApiKey) -> HttpResponse:
    if request.method == "GET":
        return list_functions(request, key)
    if request.method == "POST":
        return create_function(request, key)
    raise _not_supported(request)


@api_view
def function_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    if request.method == "GET":
        return get_function(request, key, function_name)
    if request.method == "DELETE":
        return delete_function(request, key, function_name)
    raise _not_supported(request)


@api_view
def configuration_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    if request.method == "GET":
        return get_function_configuration(request, key, function_name)
    if request.method == "PUT":
        return update_function_configuration(request, key, function_name)
    raise _not_supported(request)


@api_view
def code_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    if request.method == "PUT":
        return update_function_code(request, key, function_name)
    raise _not_supported(request)


@csrf_exempt
def unknown_view(request: HttpRequest, rest: str = "") -> HttpResponse:
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
