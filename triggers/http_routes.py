"""Serving HTTP routes under /http/: find the route, check its API key,
answer CORS preflights, invoke the function synchronously with a payload
2.0 event, and map its answer back. Route invocations are never retried."""

import json
import uuid

from django.http import HttpRequest, HttpResponse

from invocations.waiting import invoke_and_wait
from triggers import cors, http_responses, payloads, route_paths
from triggers.http_responses import json_message
from triggers.models import HttpRoute

PREFIX = "/http"
# Lambda's limit for a synchronous request payload.
MAX_SYNC_BYTES = 6 * 1024 * 1024


def find_route(method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
    routes = HttpRoute.objects.filter(enabled=True).select_related("function__team")
    return route_paths.best_match(routes, method, path)


def _too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_SYNC_BYTES
    except ValueError:
        return False


def _with_request_id(response: HttpResponse, request_id: uuid.UUID) -> HttpResponse:
    response["apigw-requestid"] = str(request_id)
    response["x-stratus-request-id"] = str(request_id)
    return response


def serve(request: HttpRequest, path: str) -> HttpResponse:
    path = path or "/"
    if cors.is_preflight(request):
        wanted = request.headers["access-control-request-method"].upper()
        found = find_route(wanted, path)
        if found and found[0].has_cors:
            return cors.preflight_response(found[0], request)
    found = find_route(request.method, path)
    if found is None:
        return json_message(404, "Not Found")
    route, params = found
    response = _answer(route, params, request, path)
    if request.method == "HEAD":
        response.content = b""
    return cors.decorate(route, request, response)


def _answer(route: HttpRoute, params: dict, request: HttpRequest, path: str) -> HttpResponse:
    if route.auth == "api_key":
        presented = request.headers.get("x-api-key")
        if not presented:
            return json_message(401, "Unauthorized")
        if not route.api_key_matches(presented):
            return json_message(403, "Forbidden")
    if _too_large(request):
        return json_message(413, "Request Entity Too Large")
    request_id = uuid.uuid4()
    event = payloads.http_event(
        request,
        raw_path=path,
        route_key=route.route_key,
        path_parameters=params,
        request_id=request_id,
        account_id=route.function.team.account_id,
        body=request.body,
    )
    event_text = json.dumps(event)
    if len(event_text.encode()) > MAX_SYNC_BYTES:
        return json_message(413, "Request Entity Too Large")
    route.mark_fired()
    inv = invoke_and_wait(
        route.function, event_text, source="http", trigger=route.key,
        priority=route.priority, request_id=request_id,
    )
    return _with_request_id(_outcome(inv), inv.request_id)


def _outcome(inv) -> HttpResponse:
    if inv.status == "succeeded":
        try:
            return http_responses.from_result(inv.result)
        except http_responses.BadFunctionResponse:
            return json_message(502, "Internal Server Error")
    if inv.status == "throttled":
        return json_message(429, "Too Many Requests")
    if inv.status == "timed_out" or not inv.is_finished:
        return json_message(504, "Gateway Timeout")
    return json_message(502, "Internal Server Error")
