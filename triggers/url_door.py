"""Serving function URLs (functions.function_urls) under /lambda-url/<url_id>/,
as Lambda's function URLs do, on the web's event loop with the HTTP routes'
machinery (triggers.http_routes): the request becomes the payload 2.0 event (triggers.payloads,
routeKey "$default"; requestContext.apiId and domainPrefix are the URL id,
accountId "anonymous" for AuthType NONE, authorizer.iam for AWS_IAM), the
function runs synchronously (its alias resolved by functions.qualifiers),
and its result is mapped back as HTTP APIs and URLs map it
(triggers.http_responses: a statusCode object field by field, any other
JSON value a 200 application/json body). CORS preflights are answered by
the URL itself when it has Cors (triggers.cors), never reaching the
function, and answers get the allow headers.

Answers of the URL itself (Lambda's):

| case | status, body |
|---|---|
| no such URL | 404 `{"Message":"Not Found"}` |
| AWS_IAM and no valid signature of a key of the function's team | 403 `{"Message":"Forbidden"}` |
| body over 6 MB | 413 `{"Message":"Request Entity Too Large"}` |
| throttled | 429 `{"Message":"Rate Exceeded."}` |
| the function failed or answered what cannot be mapped | 502 `{"Message":"Internal Server Error"}` |

Every answer carries x-amzn-RequestId (the invocation's request id) and
X-Amzn-Trace-Id (also in the event's headers, as Lambda's URLs send it)."""

import asyncio
import json
import secrets
import time
import uuid
from dataclasses import dataclass

from django.http import HttpResponse

from awsapi import asgi, sigv4
from functions import function_urls, lookup
from functions.models import FunctionUrlConfig
from invocations import dispatch
from invocations.done import Done
from triggers import cors, http_responses, http_routes, payloads

PREFIX = function_urls.PREFIX.rstrip("/")


def matches(scope) -> bool:
    return scope["type"] == "http" and scope["path"].startswith(PREFIX + "/")


def message(status: int, text: str) -> HttpResponse:
    return HttpResponse(json.dumps({"Message": text}), status=status, content_type="application/json")


@dataclass
class UrlCors:
    """A URL's Cors in the attributes triggers.cors reads of a route."""

    cors_allow_origins: str
    cors_allow_methods: str
    cors_allow_headers: str
    cors_expose_headers: str
    cors_max_age: int | None
    cors_allow_credentials: bool

    @property
    def has_cors(self) -> bool:
        return bool(self.cors_allow_origins)

    @classmethod
    def of(cls, config: dict) -> "UrlCors":
        return cls(
            ",".join(config.get("AllowOrigins") or []), ",".join(config.get("AllowMethods") or []),
            ",".join(config.get("AllowHeaders") or []), ",".join(config.get("ExposeHeaders") or []),
            config.get("MaxAge"), bool(config.get("AllowCredentials")),
        )


async def serve(scope, receive, send) -> None:
    """Answer one request under /lambda-url/."""
    body = await asgi.read_body(receive, http_routes.MAX_SYNC_BYTES)
    request = asgi.django_request(scope, body or b"")
    request_id = uuid.uuid4()
    trace_id = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    if body is None:
        response = message(413, "Request Entity Too Large")
    else:
        response = await answer(request, scope["path"][len(PREFIX) + 1:], body, request_id, trace_id)
    response["x-amzn-RequestId"] = str(request_id)
    response["X-Amzn-Trace-Id"] = trace_id
    await asgi.send_django(send, response, head=scope["method"] == "HEAD")


def _load(url_id: str):
    """(the URL's config, the function it runs) or None; the function is
    resolved for the URL's alias at this call (its weights included)."""
    config = FunctionUrlConfig.objects.filter(url_id=url_id).select_related("function__team",
                                                                               "function__code").first()
    if config is None:
        return None
    if not config.qualifier:
        return config, config.function
    # As Invoke resolves: this process's copies (functions.lookup).
    fn = lookup.qualified(config.function, config.qualifier)
    if fn is None:
        return None  # its alias was deleted: the URL no longer answers
    return config, fn


def _signer(request, fn):
    """The ApiKey that signed the request when it is of the function's team
    (Lambda: AWS_IAM URLs take the account's own principals), else None."""
    try:
        key = sigv4.verify(request, "lambda")
    except sigv4.SignatureError:
        return None
    return key if key.team_id == fn.team_id else None


async def answer(request, rest: str, body: bytes, request_id: uuid.UUID, trace_id: str) -> HttpResponse:
    url_id, _, path = rest.partition("/")
    found = await asgi.in_thread(_load, url_id)
    if found is None:
        return message(404, "Not Found")
    config, fn = found
    url_cors = UrlCors.of(config.cors or {})
    if url_cors.has_cors and cors.is_preflight(request):
        return cors.preflight_response(url_cors, request)
    key = None
    if config.auth_type == "AWS_IAM":
        key = await asgi.in_thread(_signer, request, fn)
        if key is None:
            return message(403, "Forbidden")
    event = payloads.http_event(
        request, raw_path="/" + path, route_key="$default", path_parameters={},
        request_id=request_id, account_id=fn.team.account_id, body=body,
    )
    # As Lambda's URLs: the call's X-Ray trace id reaches the function as a header.
    event["headers"].setdefault("x-amzn-trace-id", trace_id)
    context = event["requestContext"]
    context["apiId"] = context["domainPrefix"] = url_id
    context["accountId"] = "anonymous"
    if key is not None:
        context["accountId"] = fn.team.account_id
        context["authorizer"] = {"iam": {
            "accessKey": key.access_key_id, "accountId": fn.team.account_id,
            "callerId": key.access_key_id, "userArn": f"arn:aws:iam::{fn.team.account_id}:user/{key.user}",
            "userId": key.access_key_id, "cognitoIdentity": None, "principalOrgId": None,
        }}
    event_text = json.dumps(event)
    if http_routes.event_too_large(event_text):
        return message(413, "Request Entity Too Large")
    call = await dispatch.SyncCall.begin(
        fn, event_text, source="function_url", trigger=function_urls.trigger_key(url_id),
        request_id=request_id,
    )
    done = call if isinstance(call, Done) else await asyncio.ensure_future(call.wait())
    return cors.decorate(url_cors, request, _outcome(done))


def _outcome(done: Done) -> HttpResponse:
    if dispatch.is_not_ready(done):
        # Lambda's answer to an invoke of a function that is not Active.
        response = message(409, done.error["errorMessage"])
        response["x-amzn-ErrorType"] = dispatch.NOT_READY_ERROR
        return response
    if done.status == "throttled":
        return message(429, "Rate Exceeded.")
    return http_responses.from_done(done) or message(502, "Internal Server Error")
