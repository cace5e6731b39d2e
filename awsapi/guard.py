"""The guard every AWS-style JSON API view runs under: SigV4
authentication (awsapi.sigv4), the caller's write permission, the JSON
body, and AwsError -> AWS's error shape (awsapi.errors). Every response
gets a request id, which botocore reads from x-amzn-RequestId."""

import functools
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from awsapi import errors, jsontext, principals, sigv4
from functions.access import can_write
from functions.lambda_resources import rest_calls
from functions.models import ApiKey

log = logging.getLogger(__name__)
View = Callable[..., HttpResponse]
# The deepest Lambda request shape (e.g. DestinationConfig.OnFailure.Destination)
# is 3 levels; anything much deeper is not a request we understand.
BODY_MAX_DEPTH = 32


def api_view(view: View) -> View:
    """Decorator: `view(request, key, *args)` runs with the key that signed
    the request; AwsErrors become AWS-shaped responses."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return guarded(request, lambda key: view(request, key, *args, **kwargs))

    return wrapper


def authenticate(request: HttpRequest) -> ApiKey:
    """The principal that signed the request (an ApiKey, or a function's
    own credentials: awsapi.principals), or the AwsError to answer."""
    try:
        return principals.verify(request)
    except sigv4.SignatureError as e:
        raise errors.signature_error(e.code, e.message) from None
    except RequestDataTooBig:
        raise errors.too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "this server") from None


def guarded(request: HttpRequest, call, *, authenticate_request: bool = True):
    """Run call(key) with the API's authentication and error handling.
    A non-response result (the Invoke door's pending call) passes through."""
    try:
        key = authenticate(request) if authenticate_request else None
        if principals.is_function(key):
            authorize_function(key, request.method, request.path, request.GET.get("Qualifier"))
        response = call(key)
    except errors.AwsError as e:
        response = e.response()
    except Exception:
        # SDKs expect the API's JSON error shape, even for our own bugs.
        log.exception("AWS API %s %s failed", request.method, request.path)
        response = errors.service_error("Stratus failed to handle this request; see its log.").response()
    if not isinstance(response, HttpResponse):
        return response
    return with_request_id(response)


def with_request_id(response: HttpResponse) -> HttpResponse:
    request_id = response.get("X-Amz-Request-Id") or str(uuid.uuid4())
    response["X-Amz-Request-Id"] = request_id
    response["x-amzn-RequestId"] = request_id
    return response


def authorize_function(principal, method: str, path: str, qualifier: str | None = None) -> None:
    """AccessDeniedException unless the function's execution policy allows
    this Lambda REST call (functions.lambda_resources names its action)."""
    calls = rest_calls(method, path, principal.team.account_id, qualifier)
    denial = principals.authorize(principal, calls)
    if denial is not None:
        raise errors.access_denied(denial.message)


def require_write(key: ApiKey) -> None:
    """AccessDeniedException for a read-only member's key (a function's
    own credentials were checked against its policy instead)."""
    if principals.is_function(key):
        return
    if not can_write(key.user, key.team):
        raise errors.access_denied(
            f"{key.user.username} is read-only in the team {key.team.name}; "
            "ask an owner for the member role."
        )


def parse_json(data: bytes | str, what: str = "the body", *, max_depth: int = jsontext.PAYLOAD_MAX_DEPTH):
    """Any JSON value; InvalidRequestContentException (400) for text that
    is not JSON, uses NaN/Infinity, or nests deeper than `max_depth`
    (awsapi.jsontext: the limit is fixed, so the same text gets the same
    answer on every stack)."""
    try:
        return jsontext.loads(data, max_depth=max_depth, what=what)
    except jsontext.JsonError as e:
        raise errors.invalid_content(str(e)) from None


def json_body(request: HttpRequest) -> dict:
    """The request body as a JSON object ({} when empty). AWS's request
    shapes are a few levels deep, so bodies nested deeper than
    BODY_MAX_DEPTH are refused before anything looks at them."""
    if not request.body:
        return {}
    body = parse_json(request.body, max_depth=BODY_MAX_DEPTH)
    if not isinstance(body, dict):
        raise errors.invalid_content("the body must be a JSON object.")
    return body
