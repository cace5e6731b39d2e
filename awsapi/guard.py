"""What the doors outside awsapi.door share with it: SigV4 authentication
(awsapi.sigv4) for Lambda's Invoke door, the guard of messaging's JSON API
views (authentication, write permission, AwsError -> the Lambda API's error
shape from awsapi.errors), and JSON bodies with their limits. Every
response gets a request id, which botocore reads from x-amzn-RequestId."""

import logging
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from awsapi import errors, jsontext, principals, sigv4
from functions.access import can_write
from functions.lambda_resources import rest_calls
from functions.models import ApiKey

log = logging.getLogger(__name__)
# The deepest Lambda request shape (e.g. DestinationConfig.OnFailure.Destination)
# is 3 levels; anything much deeper is not a request we understand.
BODY_MAX_DEPTH = 32


def authenticate(request: HttpRequest) -> ApiKey:
    """The principal that signed the request (an ApiKey, or a function's
    own credentials: awsapi.principals), or the AwsError to answer."""
    try:
        return principals.verify(request)
    except sigv4.SignatureError as e:
        raise errors.signature_error(e.code, e.message) from None
    except RequestDataTooBig:
        raise errors.too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "this server") from None


def guarded(request: HttpRequest, call) -> HttpResponse:
    """Run call(key) with the API's authentication and error handling."""
    try:
        key = authenticate(request)
        if principals.is_function(key):
            authorize_function(key, request.method, request.path, request.GET.get("Qualifier"))
        response = call(key)
    except errors.AwsError as e:
        response = e.response()
    except Exception:
        # SDKs expect the API's JSON error shape, even for our own bugs.
        log.exception("AWS API %s %s failed", request.method, request.path)
        response = errors.service_error("Stratus failed to handle this request; see its log.").response()
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
    """The request body as a JSON object (json_object)."""
    return json_object(request.body)


def json_object(data: bytes) -> dict:
    """A request body as a JSON object ({} when empty); else
    InvalidRequestContentException. AWS's request shapes are a few levels
    deep, so bodies nested deeper than BODY_MAX_DEPTH are refused before
    anything looks at them."""
    if not data:
        return {}
    body = parse_json(data, max_depth=BODY_MAX_DEPTH)
    if not isinstance(body, dict):
        raise errors.invalid_content("the body must be a JSON object.")
    return body
