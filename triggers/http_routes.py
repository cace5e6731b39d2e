"""Serving HTTP routes under /http/, as API Gateway's HTTP APIs serve a
Lambda proxy integration (payload format 2.0).

The route is matched in memory (triggers.route_table), its API key and
CORS checked, the function invoked synchronously with the payload 2.0
event, and its answer mapped back, all on the web's event loop: no thread
is held while the function runs, and nothing is written to the database on
the way (the fire time is written off the request path). Route calls are
never retried. Answers, as HTTP APIs give them:

| case | status, body |
|---|---|
| no route | 404 `{"message":"Not Found"}` |
| API key missing / wrong | 401 `{"message":"Unauthorized"}` / 403 `{"message":"Forbidden"}` |
| body over 6 MB (Lambda's sync payload) | 413 `{"message":"Request Entity Too Large"}` |
| failed, timed out, out of memory, throttled (1) | 500 `{"message":"Internal Server Error"}` |
| no answer within 30 s (HTTP APIs' integration timeout) | 503 `{"message":"Service Unavailable"}` |
| the route's version or alias does not exist | 502 `{"message":"Function not found: <qualified ARN>"}` |

(1) or answered something API Gateway cannot map. Answers carry only what
the function set (plus Content-Type and the request id headers): none of
the console's security headers."""

import asyncio
import json
import logging
import uuid

from django.http import HttpResponse

from awsapi import asgi
from functions import lookup
from invocations import dispatch, qualified
from invocations.done import Done
from triggers import cors, http_responses, payloads, route_table
from triggers.http_responses import json_message

log = logging.getLogger(__name__)
PREFIX = "/http"
# Lambda's limit for a synchronous request payload.
MAX_SYNC_BYTES = 6 * 1024 * 1024
# HTTP APIs' maximum integration timeout.
INTEGRATION_TIMEOUT_S = 30.0
_flusher: asyncio.Task | None = None


def matches(scope) -> bool:
    path = scope["path"]
    return scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/"))


async def serve(scope, receive, send) -> None:
    """Answer one request under /http/."""
    _start_flusher()
    body = await asgi.read_body(receive, MAX_SYNC_BYTES)
    request = asgi.django_request(scope, body or b"")
    if body is None:
        response = json_message(413, "Request Entity Too Large")
    else:
        response = await answer(request, scope["path"][len(PREFIX):] or "/", body)
    await asgi.send_django(send, response, head=scope["method"] == "HEAD")


async def answer(request, path: str, body: bytes) -> HttpResponse:
    table = route_table.cached() or await asgi.in_thread(route_table.load)
    if cors.is_preflight(request):
        wanted = request.headers["access-control-request-method"].upper()
        found = route_table.match(table, wanted, path)
        if found and found[0].has_cors:
            return cors.preflight_response(found[0], request)
    found = route_table.match(table, request.method, path)
    if found is None:
        return json_message(404, "Not Found")
    route, params = found
    response = await _invoke(route, params, request, path, body)
    return cors.decorate(route, request, response)


async def _invoke(route, params: dict, request, path: str, body: bytes) -> HttpResponse:
    if route.auth == "api_key":
        presented = request.headers.get("x-api-key")
        if not presented:
            return json_message(401, "Unauthorized")
        if not route.api_key_matches(presented):
            return json_message(403, "Forbidden")
    request_id = uuid.uuid4()
    event = payloads.http_event(
        request, raw_path=path, route_key=route.route_key, path_parameters=params,
        request_id=request_id, account_id=route.function.team.account_id, body=body,
    )
    event_text = json.dumps(event)
    if event_too_large(event_text):
        return json_message(413, "Request Entity Too Large")
    route_table.note_fired(route)
    target = route.function
    if route.qualifier:
        # The alias picks its version per call (from this process's copies,
        # as Invoke's: functions.lookup); a missing one fails the call (502,
        # saying which), never runs $LATEST instead.
        target = lookup.cached_qualified(route.function, route.qualifier) or await asgi.in_thread(
            lookup.qualified, route.function, route.qualifier)
        if target is None:
            error = qualified.not_found_error(route.function, route.qualifier)
            log.warning("route %s not run: %s", route.route_key, error["errorMessage"])
            return _with_request_id(json_message(502, error["errorMessage"]), request_id)
    call = await dispatch.SyncCall.begin(
        target, event_text, source="http", trigger=route.key,
        priority=route.priority, request_id=request_id,
    )
    if isinstance(call, Done):
        done = call
    else:
        waiting = asyncio.ensure_future(call.wait())
        finished, _ = await asyncio.wait((waiting,), timeout=INTEGRATION_TIMEOUT_S)
        if not finished:
            # API Gateway stops waiting; the call goes on and is recorded.
            dispatch.keep_until_done(waiting)
            return _with_request_id(json_message(503, "Service Unavailable"), request_id)
        done = waiting.result()
    return _with_request_id(_outcome(done), request_id)


def event_too_large(event_text: str) -> bool:
    """Whether the event is over Lambda's synchronous payload (the UTF-8
    length is only counted when the characters could be over)."""
    return len(event_text) > MAX_SYNC_BYTES and len(event_text.encode()) > MAX_SYNC_BYTES


def _outcome(done: Done) -> HttpResponse:
    if dispatch.is_not_ready(done):
        # Pending while its dependencies are installed (or Failed): try again later.
        response = json_message(503, f"Service Unavailable: {done.error['errorMessage']}")
        response["Retry-After"] = str(int(dispatch.HOLD_S))
        return response
    return http_responses.from_done(done) or json_message(500, "Internal Server Error")


def _with_request_id(response: HttpResponse, request_id: uuid.UUID) -> HttpResponse:
    response["apigw-requestid"] = str(request_id)
    response["x-stratus-request-id"] = str(request_id)
    return response


def _start_flusher() -> None:
    """Once per event loop: write noted fire times every second."""
    global _flusher
    if _flusher is None or _flusher.done():
        _flusher = asyncio.get_running_loop().create_task(_flush_forever())


async def _flush_forever() -> None:
    while True:
        await asyncio.sleep(1.0)
        try:
            await asgi.in_thread(route_table.flush_fired)
        except Exception:  # noqa: BLE001 - a fire time is not worth a crash
            pass
