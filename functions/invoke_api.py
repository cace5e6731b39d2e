"""Lambda's Invoke operation (POST /2015-03-31/functions/<name>/invocations),
served on the web's event loop (awsapi.asgi) rather than through Django's
request handling: it is the one call made thousands of times a second.

Authentication and the function are looked up in this process's memory
(awsapi.sigv4.verify_cached, functions.lookup.cached) and only a miss goes
to a thread; a sync call then waits on the done listener without holding a
thread (invocations.dispatch.invoke_sync). Lambda's rules: InvocationType
RequestResponse (6 MB payload), Event (1 MB, answers 202) or DryRun (204);
LogType Tail returns the last 4 KB of the log base64-encoded in
X-Amz-Log-Result; a function error is a 200 with X-Amz-Function-Error."""

import base64
import json
import logging
import re
from urllib.parse import unquote

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse

from awsapi import asgi, errors, principals, sigv4
from awsapi.guard import authenticate, authorize_function, parse_json, with_request_id
from awsapi.params import validation_error
from functions import client_context as client_context_mod
from functions import dependencies, lookup
from functions.access import cached_can_write, copied_can_write
from functions.lambda_api import qualified_name
from functions.models import ApiKey, Function
from invocations import call_marks, dispatch, qualified
from invocations.done import Done

log = logging.getLogger(__name__)
PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations/?")
SYNC_PAYLOAD_MAX = 6 * 1024 * 1024  # Lambda: 6 MB sync payload
ASYNC_PAYLOAD_MAX = 1024 * 1024  # Lambda: 1 MB async payload (Event)
LOG_TAIL_BYTES = 4 * 1024
LATEST = "$LATEST"
# The largest body worth reading: the sync limit plus slack, so oversized
# payloads get Lambda's RequestTooLargeException rather than a cut body.
MAX_BODY = SYNC_PAYLOAD_MAX + 1024
# Payloads this small are parsed on the event loop; larger ones in a thread.
PARSE_INLINE_MAX = 64 * 1024


def matches(scope) -> re.Match | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    return PATH.fullmatch(scope["path"])


async def serve(scope, receive, send, match: re.Match) -> None:
    """Answer one Invoke request."""
    body = await asgi.read_body(receive, MAX_BODY)
    if body is None:
        response = errors.too_large(SYNC_PAYLOAD_MAX, "the Invoke operation").response()
    else:
        call_marks.begin()
        request = asgi.django_request(scope, body)
        try:
            # Decoded as a server's path is (a test client may pass %3A on).
            response = await invoke(request, unquote(match["name"]))
        except errors.AwsError as e:
            response = e.response()
        except Exception:
            # SDKs expect the API's JSON error shape, even for our own bugs.
            log.exception("Invoke of %s failed", match["name"])
            response = errors.service_error("Stratus failed to handle this request; see its log.").response()
    await asgi.send_django(send, with_request_id(response))
    call_marks.note("web.sent")
    call_marks.flush(response.get("X-Amz-Request-Id"))


async def invoke(request: HttpRequest, name: str) -> HttpResponse:
    key = sigv4_key(request) or await asgi.in_thread(authenticate, request)
    invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    log_type = request.headers.get("X-Amz-Log-Type") or "None"
    if log_type not in ("None", "Tail"):
        raise validation_error([
            f"Value '{log_type}' at 'logType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [None, Tail]"
        ])
    if invocation_type not in ("RequestResponse", "Event", "DryRun"):
        raise errors.invalid_parameter(
            f"InvocationType {invocation_type!r} is not one of RequestResponse, Event, DryRun."
        )
    # Size first: an oversized payload is refused before anything is stored.
    limit = ASYNC_PAYLOAD_MAX if invocation_type == "Event" else SYNC_PAYLOAD_MAX
    if len(request.body) > limit:
        raise errors.too_large(limit, f"the Invoke operation with InvocationType {invocation_type}")
    # Checked before anything runs: a bad ClientContext changes nothing.
    client_context = client_context_mod.decode(request.headers.get("X-Amz-Client-Context"))
    fn = await _function(request, key, name)
    call_marks.note("web.found")
    if refused := dependencies.refuse_invoke(fn):
        # Lambda: no invocation while Pending (or Failed) - the dependency build.
        raise errors.conflict(refused)
    if principals.is_function(key):
        await asgi.in_thread(authorize_function, key, "POST", request.path, request.GET.get("Qualifier"))
    elif not await _can_write(key):
        # Invoking is lambda:InvokeFunction, a change (AWS's
        # AWSLambda_ReadOnlyAccess lacks it; the console's Test tab is for
        # members): not for a read-only member's key.
        raise errors.access_denied(
            f"{key.user.username} is read-only in the team {key.team.name}: invoking a function "
            "(lambda:InvokeFunction) is for members and owners."
        )
    event = request.body.decode("utf-8", errors="replace") if request.body else "{}"
    if len(request.body) <= PARSE_INLINE_MAX:
        check_payload(request.body)
    else:
        await asgi.in_thread(check_payload, request.body)
    if invocation_type == "DryRun":
        return HttpResponse(status=204, content_type="application/json")
    if invocation_type == "Event":
        inv = await asgi.in_thread(_submit_event, fn, event, client_context)
        if inv is None:
            lookup.forget(fn)
            raise errors.not_found(fn.arn)
        response = HttpResponse(status=202, content_type="application/json")
        response["X-Amz-Request-Id"] = str(inv.request_id)
        return response
    done = await dispatch.invoke_sync(fn, event, source="api", client_context=client_context)
    call_marks.note("web.done")
    return result_response(request, done)


def sigv4_key(request: HttpRequest) -> ApiKey | None:
    """The signing key when it is in memory (None: look it up in a thread;
    always for a function's own credentials)."""
    try:
        return principals.verify_cached(request)
    except sigv4.SignatureError as e:
        raise errors.signature_error(e.code, e.message) from None


async def _function(request: HttpRequest, key: ApiKey, value: str) -> Function:
    """The function to run (target()), from this process's copies when it
    has them, else looked up in a thread; ResourceNotFoundException."""
    name, qualifier, missing = qualified_name(key, value, request.GET.get("Qualifier"))
    fn = lookup.cached(key.team, name)
    if fn is not None and qualifier not in (None, LATEST):
        fn = lookup.cached_qualified(fn, qualifier)
    if fn is not None:
        fn = _as_named(fn, qualifier)
    else:
        fn = await asgi.in_thread(target, key.team, name, qualifier)  # one thread for both look-ups
    if fn is None:
        raise missing
    return fn


def target(team, name: str, qualifier: str | None) -> Function | None:
    """The function a call runs (Invoke, InvokeAsync): itself, or the
    version its qualifier names, an alias picking one by its weights
    (functions.lookup.qualified); None when the function, version or alias
    does not exist."""
    if qualifier in (None, LATEST):
        fn = lookup.function(team, name)
    else:
        fn = lookup.function_qualified(team, name, qualifier)
    return fn and _as_named(fn, qualifier)


def _as_named(fn: Function, qualifier: str | None) -> Function:
    # Lambda's invokedFunctionArn ends with ":$LATEST" when the caller
    # named it; the shared copy stays unqualified (resolved on a copy).
    return qualified.resolve(fn, LATEST) if qualifier == LATEST else fn


async def _can_write(key: ApiKey) -> bool:
    """functions.access.copied_can_write: in memory when this process has
    the role (allowed or not), a thread only to read it the first time."""
    allowed = cached_can_write(key.user, key.team)
    if allowed is None:
        allowed = await asgi.in_thread(copied_can_write, key.user, key.team)
    return allowed


def check_payload(body: bytes) -> None:
    """An event must be UTF-8 JSON text (InvalidRequestContentException)."""
    if not body:
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise errors.invalid_content(f"the payload is not UTF-8 text ({e})") from None
    parse_json(body, "the payload")


def _submit_event(fn: Function, event: str, client_context: str = ""):
    try:
        return dispatch.submit_async(fn, event, source="api", client_context=client_context)
    except IntegrityError:
        # Deleted by another process since lookup's copy.
        return None


def result_response(request: HttpRequest, done: Done) -> HttpResponse:
    """Lambda's answer for a finished sync call."""
    if done.status == "throttled" or (done.status == "cancelled" and done.error):
        message = (done.error or {}).get("errorMessage") or "Rate Exceeded."
        reason = (done.error or {}).get("Reason") or (
            "ReservedFunctionConcurrentInvocationLimitExceeded" if done.status == "throttled"
            else "ConcurrentInvocationLimitExceeded"
        )
        raise errors.too_many_requests(message, reason=reason)
    if done.status == "failed" and (done.error or {}).get("errorType") == "ServiceUnavailable":
        raise errors.service_error(done.error["errorMessage"])
    if done.status == "failed" and (done.error or {}).get("errorType") == "ResourceNotFoundException":
        raise errors.AwsError(404, "ResourceNotFoundException", done.error["errorMessage"])
    if done.status == "succeeded":
        response = HttpResponse(done.result if done.result is not None else "null")
    else:
        error = done.error or {"errorMessage": f"The invocation ended as {done.status}."}
        response = HttpResponse(json.dumps(error))
        response["X-Amz-Function-Error"] = "Unhandled"
    response["Content-Type"] = "application/json"
    response["X-Amz-Executed-Version"] = done.executed_version
    response["X-Amz-Request-Id"] = done.request_id
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        tail = (done.logs_tail or "").encode()[-LOG_TAIL_BYTES:]
        response["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
    return response

