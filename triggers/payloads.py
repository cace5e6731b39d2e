"""Events in the shapes AWS sends, so existing Lambda handlers run as is:
API Gateway HTTP API payload format 2.0 (routes and webhooks) and
EventBridge's "Scheduled Event" (schedules)."""

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest

# Content types whose bodies reach the function as text; anything else is
# base64 with isBase64Encoded true, as API Gateway does for binary media.
_TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/graphql",
    "application/x-yaml",
    "application/yaml",
}


def is_text_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if not media:
        return True
    return (
        media.startswith("text/")
        or media in _TEXT_TYPES
        or media.endswith("+json")
        or media.endswith("+xml")
    )


def request_headers(request: HttpRequest) -> dict[str, str]:
    """Lower-case names; repeated headers arrive joined with commas."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    # Format 2.0 moves cookies to their own field.
    headers.pop("cookie", None)
    return headers


def request_cookies(request: HttpRequest) -> list[str]:
    raw = request.headers.get("cookie", "")
    return [c.strip() for c in raw.split(";") if c.strip()]


def query_parameters(raw_query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def api_id(account_id: str) -> str:
    """A stable 10-character API id per team, like API Gateway's."""
    return hashlib.sha256(f"stratus-api:{account_id}".encode()).hexdigest()[:10]


def _protocol(request: HttpRequest) -> str:
    scope = getattr(request, "scope", None)
    if scope and scope.get("http_version"):
        return f"HTTP/{scope['http_version']}"
    return request.META.get("SERVER_PROTOCOL", "HTTP/1.1")


def http_event(
    request: HttpRequest,
    *,
    raw_path: str,
    route_key: str,
    path_parameters: dict[str, str],
    request_id: uuid.UUID,
    account_id: str,
    body: bytes,
    now: datetime | None = None,
) -> dict:
    """The HTTP API payload 2.0 event for a request. Empty parts are left
    out, as API Gateway leaves them out."""
    now = now or datetime.now(UTC)
    raw_query = request.META.get("QUERY_STRING", "")
    host = request.get_host()
    api = api_id(account_id)
    event: dict = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    cookies = request_cookies(request)
    if cookies:
        event["cookies"] = cookies
    event["headers"] = request_headers(request)
    query = query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": _protocol(request),
            "sourceIp": request.META.get("REMOTE_ADDR", ""),
            "userAgent": request.headers.get("user-agent", ""),
        },
        "requestId": str(request_id),
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["isBase64Encoded"] = False
    if body:
        text = None
        if is_text_type(request.headers.get("content-type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def scheduled_event(schedule, due_at: datetime) -> str:
    """EventBridge's event for a scheduled rule, as JSON text. `time` is the
    scheduled time of this fire, not when the worker got to it."""
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": schedule.function.team.account_id,
            "time": due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": settings.STRATUS_REGION,
            "resources": [schedule.rule_arn],
            "detail": {},
        }
    )
