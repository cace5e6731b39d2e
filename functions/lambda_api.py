"""The AWS Lambda REST API (2015-03-31), as boto3 and the AWS CLI call it.

Every call is signed with SigV4 by an ApiKey, and the key's team scopes
everything: another team's function is "not found", like another account's.
Validation lives in functions.service; these views translate shapes and
errors only. Only $LATEST exists, so any other qualifier is "not found"."""

import base64
import binascii
import functools
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.core import signing
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from console import fastsql
from functions import lambda_errors as errors
from functions import lambda_shapes as shapes
from functions import lookup, service, sigv4
from functions.access import can_write
from functions.models import ApiKey, CodeBundle, Function
from invocations import waiting
from invocations.models import Invocation

SYNC_PAYLOAD_MAX = 6 * 1024 * 1024
ASYNC_PAYLOAD_MAX = 1024 * 1024
LOG_TAIL_BYTES = 4 * 1024
LIST_DEFAULT, LIST_MAX = 50, 10000
# Like an S3 presigned URL for the code, which is what Lambda hands out.
CODE_URL_MAX_AGE_S = 600
CODE_URL_SALT = "stratus.lambda-code"
LATEST = "$LATEST"

log = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def lambda_view(view: View) -> View:
    """Authenticate by SigV4, turn LambdaErrors into AWS-shaped responses and
    give every response a request id (botocore reads x-amzn-RequestId)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return guarded(request, lambda key: view(request, key, *args, **kwargs))

    return wrapper


def guarded(request: HttpRequest, call, *, authenticate: bool = True):
    """Run call(key) with the API's authentication and error handling."""
    try:
        key = None
        if authenticate:
            try:
                key = sigv4.verify(request)
            except sigv4.SignatureError as e:
                raise errors.signature_error(e.code, e.message) from None
            except RequestDataTooBig:
                raise errors.too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "this server") from None
        response = call(key)
    except errors.LambdaError as e:
        response = e.response()
    except Exception:
        # SDKs expect the API's JSON error shape, even for our own bugs.
        log.exception("Lambda API %s %s failed", request.method, request.path)
        response = errors.service_error("Stratus failed to handle this request; see its log.").response()
    if isinstance(response, PendingInvoke):
        return response
    request_id = response.get("X-Amz-Request-Id") or str(uuid.uuid4())
    response["X-Amz-Request-Id"] = request_id
    response["x-amzn-RequestId"] = request_id
    return response


# Helpers -----------------------------------------------------------------


def _arn(account_id: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{settings.STRATUS_REGION}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _split_function_name(value: str) -> tuple[str | None, str, str | None]:
    """(account, name, qualifier) from a name, `name:qualifier`, a partial
    ARN `123456789012:function:name[:q]` or a full ARN."""
    parts = value.split(":")
    if parts[0] == "arn" and len(parts) in (7, 8) and parts[2] == "lambda" and parts[5] == "function":
        return parts[4], parts[6], (parts[7] if len(parts) == 8 else None)
    if len(parts) in (3, 4) and parts[1] == "function":
        return parts[0], parts[2], (parts[3] if len(parts) == 4 else None)
    if len(parts) in (1, 2):
        return None, parts[0], (parts[1] if len(parts) == 2 else None)
    raise errors.invalid_parameter(
        f"FunctionName {value!r} is not a function name, a partial ARN "
        "(123456789012:function:NAME) or a function ARN."
    )


def _function_name(request: HttpRequest, key: ApiKey, function_name: str) -> tuple[str, errors.LambdaError]:
    """The bare name the call means in the key's team, and the error to
    raise when there is no such function; another account or a version
    other than $LATEST is "not found" at once."""
    account, name, qualifier = _split_function_name(function_name)
    qualifier = request.GET.get("Qualifier") or qualifier
    own = key.team.account_id
    missing = errors.not_found(_arn(account or own, name, qualifier))
    if account not in (None, own) or qualifier not in (None, LATEST):
        raise missing
    return name, missing


def _get_function(request: HttpRequest, key: ApiKey, function_name: str) -> Function:
    name, missing = _function_name(request, key, function_name)
    fn = Function.objects.select_related("team", "code").filter(team=key.team, name=name).first()
    if fn is None:
        raise missing
    return fn


def _invoked_function(request: HttpRequest, key: ApiKey, function_name: str) -> Function:
    """_get_function for Invoke, from functions.lookup's copy of the row
    (the code bundle is read only if something uses it)."""
    name, missing = _function_name(request, key, function_name)
    fn = lookup.function(key.team, name)
    if fn is None:
        raise missing
    return fn


def require_write(key: ApiKey) -> None:
    if not can_write(key.user, key.team):
        raise errors.access_denied(
            f"{key.user.username} is read-only in the team {key.team.name}; "
            "ask an owner for the member role."
        )


def json_body(request: HttpRequest) -> dict:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.invalid_content(str(e)) from None
    if not isinstance(body, dict):
        raise errors.invalid_content("the body must be a JSON object.")
    return body


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


def _not_supported(request: HttpRequest) -> errors.LambdaError:
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


@dataclass
class PendingInvoke:
    """A sync invocation that is queued; the caller waits, then asks for
    complete_invoke() (console/fastpath.py)."""

    request_id: uuid.UUID
    wait_s: float


def invoke(
    request: HttpRequest, key: ApiKey, function_name: str, *, request_id=None, wait: bool = True
) -> HttpResponse | PendingInvoke:
    invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type not in ("RequestResponse", "Event", "DryRun"):
        raise errors.invalid_parameter(
            f"InvocationType {invocation_type!r} is not one of RequestResponse, Event, DryRun."
        )
    # Size first: an oversized payload is refused before anything is stored.
    limit = ASYNC_PAYLOAD_MAX if invocation_type == "Event" else SYNC_PAYLOAD_MAX
    if len(request.body) > limit:
        raise errors.too_large(limit, f"the Invoke operation with InvocationType {invocation_type}")
    fn = _invoked_function(request, key, function_name)
    try:
        event = request.body.decode() or "{}"
        json.loads(event)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.invalid_content(f"Could not parse payload into json: {e}") from None

    if invocation_type == "DryRun":
        return HttpResponse(status=204)
    try:
        return _submit(request, fn, event, invocation_type, request_id, wait)
    except IntegrityError:
        # Deleted by another web process since functions.lookup's copy.
        lookup.forget(fn)
        raise errors.not_found(fn.arn) from None


def _submit(request, fn: Function, event: str, invocation_type: str, request_id, wait: bool):
    if invocation_type == "Event":
        inv = Invocation.submit(fn, event, invocation_type="Event", source="api", request_id=request_id)
        response = HttpResponse(status=202)
        response["X-Amz-Request-Id"] = str(inv.request_id)
        return response
    if not wait:
        inv = waiting.submit_sync(fn, event, source="api", request_id=request_id)
        if not inv.is_finished:
            return PendingInvoke(inv.request_id, fn.timeout_s + waiting.GRACE_S)
    else:
        inv = waiting.invoke_and_wait(fn, event, source="api")
    return invoke_result(request, inv)


def invoke_result(request: HttpRequest, inv: Invocation) -> HttpResponse:
    if inv.status == "throttled":
        raise errors.too_many_requests((inv.error or {}).get("errorMessage") or "Rate Exceeded.")
    if inv.status not in ("succeeded", "failed", "timed_out", "out_of_memory"):
        raise errors.service_error(
            f"The invocation {inv.request_id} ended as {inv.status!r} without a result; "
            "check that a worker is running."
        )
    if inv.status == "succeeded":
        response = HttpResponse(inv.result if inv.result is not None else "null")
    else:
        error = inv.error or {"errorMessage": f"The invocation ended as {inv.status}."}
        response = HttpResponse(json.dumps(error))
        response["X-Amz-Function-Error"] = "Unhandled"
    response["Content-Type"] = "application/json"
    response["X-Amz-Executed-Version"] = LATEST
    response["X-Amz-Request-Id"] = str(inv.request_id)
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        tail = (inv.logs or "").encode()[-LOG_TAIL_BYTES:]
        response["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
    return response


def begin_invoke(request: HttpRequest, function_name: str, request_id: str):
    """The fast path's first half: authenticate, validate, submit."""
    return guarded(
        request,
        lambda key: invoke(request, key, function_name, request_id=uuid.UUID(request_id), wait=False),
    )


def complete_invoke(request: HttpRequest, pending: PendingInvoke) -> HttpResponse:
    """The fast path's second half, once the worker said the row is done."""
    return guarded(
        request,
        lambda _key: invoke_result(request, fastsql.get(Invocation, {"request_id": pending.request_id})),
        authenticate=False,
    )


def finished_invoke(request: HttpRequest, request_id, done: dict) -> HttpResponse:
    """complete_invoke() from the outcome the worker published with its
    done message (invocations.live.done_message), without reading the row."""
    # Only what invoke_result reads: a model instance would compute every
    # field's default, which cost more than the rest of this answer.
    inv = SimpleNamespace(
        request_id=request_id, status=done["status"], result=done["result"],
        error=done["error"], logs=done["logs_tail"],
    )
    return guarded(request, lambda _key: invoke_result(request, inv), authenticate=False)


# Routes: one view per path, dispatching on the method ---------------------


@lambda_view
def functions_view(request: HttpRequest, key: ApiKey) -> HttpResponse:
    if request.method == "GET":
        return list_functions(request, key)
    if request.method == "POST":
        return create_function(request, key)
    raise _not_supported(request)


@lambda_view
def function_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    if request.method == "GET":
        return get_function(request, key, function_name)
    if request.method == "DELETE":
        return delete_function(request, key, function_name)
    raise _not_supported(request)


@lambda_view
def configuration_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    if request.method == "GET":
        return get_function_configuration(request, key, function_name)
    if request.method == "PUT":
        return update_function_configuration(request, key, function_name)
    raise _not_supported(request)


@lambda_view
def code_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    if request.method == "PUT":
        return update_function_code(request, key, function_name)
    raise _not_supported(request)


@lambda_view
def invocations_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    if request.method == "POST":
        return invoke(request, key, function_name)
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
        return errors.LambdaError(404, "ResourceNotFoundException", "The code is gone.").response()
    return FileResponse(
        open(bundle.zip_path, "rb"), as_attachment=True, filename=f"{data['name']}.zip"
    )
