"""The AWS front door: every AWS-signed request that the Lambda API does not
take (console.asgi asks `matches` first), served on the event loop like
the other doors (awsapi.asgi).

One path for every service, as LocalStack's AWS server does:
1. recognise the service and operation from the request itself
   (`awsapi.protocols.ServiceIndex`, over the services registered in
   `awsapi.services`);
2. verify SigV4 with the platform's API keys, for that service's signing
   name (`sigv4.verify_cached`; a thread only when the key is not in memory);
3. parse the input with botocore's model into a boto3-shaped dict;
4. refuse a read-only member's key for writes (AccessDenied; the role is
   kept in memory, dropped on any change: functions.access);
5. call the service's handler (a plain function on a door thread, an
   async one on the loop) and serialise its answer, or its `ServiceError`,
   in the protocol's shape.

An operation with a streaming body (S3's PutObject) is recognised before
its body is read, and the body is spooled to disk after step 2
(`awsapi.spool`); a file slice in an answer (GetObject) is streamed out.

Lambda's REST API is served here too: every request on its paths (an API
date first, /2015-03-31/functions...), signed or not, so an unsigned one
gets Lambda's MissingAuthenticationTokenException. Invoke is not: its fast
lane (functions.invoke_api) comes first in console.asgi. A request signed
for "lambda" on any other path is messaging's old JSON API, left to Django.

An unsigned request elsewhere is taken when it is recognisably meant for
an AWS API (`unsigned_aws`: an X-Amz-Target header, an `x-amz-*` or
botocore's `amz-sdk-*` header; console.asgi also hands over a form POST
to / whose Action names an operation of a query service, `query_action`)
and answered, in its service's protocol, what a missing signature gets
there (`_refuse_unsigned`): MissingAuthenticationTokenException (query:
MissingAuthenticationToken), S3's AccessDenied. A browser sends none of
these, so console pages, forms, static files and websockets stay Django's."""

from __future__ import annotations

import inspect
import logging
import re
import uuid
from functools import lru_cache, partial
from urllib.parse import parse_qsl, quote

from django.conf import settings

from awsapi import asgi, principals, services, sigv4, spool
from awsapi.protocols import (
    AwsRequest,
    Recognised,
    ServiceError,
    ServiceIndex,
    UnknownOperation,
    parse_request,
    serialise_error,
    serialise_response,
    unknown_operation,
)
from awsapi.protocols.router import speaks_query
from functions.access import cached_can_write, copied_can_write
from functions.models import ApiKey
from invocations import done

log = logging.getLogger(__name__)
# SQS's largest request (a 256 KB batch, JSON-escaped, binary attributes in
# base64) with room to spare; anything longer is answered without reading on.
MAX_BODY = 2 * 1024 * 1024
# Bodies this small are parsed on the event loop; larger ones on a door thread.
PARSE_INLINE_MAX = 64 * 1024
# Lambda's REST paths start with an API date (botocore's model: /2014-11-13/
# for InvokeAsync, /2015-03-31/functions, /2019-09-25/... and later ones).
_LAMBDA_PATH = re.compile(r"/\d{4}-\d{2}-\d{2}/")
# Under Lambda's date but no AWS operation: GetFunction's Code.Location,
# a Django view whose signed token is the authority.
NOT_AWS_PREFIXES = ("/2015-03-31/stratus-code/",)
# Django's even for unsigned requests that look like AWS's: webhooks (SNS's
# deliveries to an HTTP endpoint carry x-amz-sns-* headers), the links in
# SNS messages, messaging's JSON API, and the console's own pages.
DJANGO_PREFIXES = (
    *NOT_AWS_PREFIXES, "/hooks/", "/sns/", "/api/", "/static/", "/admin/", "/accounts/", "/ws/",
    "/metrics",  # Prometheus's scrape target (metrics.prometheus)
)
# Longest form body read to find its Action (SNS's Publish: 256 KB).
QUERY_FORM_MAX = 512 * 1024
_HEADER_SCOPE = re.compile(rb"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/")
_QUERY_SCOPE = re.compile(rb"(?:^|&)X-Amz-Credential=[^/&]+(?:/|%2F)\d{8}(?:/|%2F)[^/&%]+(?:/|%2F)([^/&%]+)")

# What a query-protocol client calls the signature errors (SQS, SNS...).
_SIGNATURE_QUERY_CODES = {
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "ExpiredTokenException": "ExpiredToken",
}


def signed_service(scope) -> bytes | None:
    """The credential scope's service of an AWS-signed request (b"" when the
    scope does not parse), or None for a request that is not AWS-signed."""
    for name, value in scope["headers"]:
        if name == b"authorization" and value.startswith(b"AWS4-HMAC-SHA256"):
            found = _HEADER_SCOPE.search(value)
            return found.group(1) if found else b""
    query = scope.get("query_string", b"")
    if b"X-Amz-Credential=" in query:
        found = _QUERY_SCOPE.search(query)
        return found.group(1) if found else b""
    if b"AWSAccessKeyId=" in query and b"Signature=" in query:
        return b"s3"  # S3's SigV2 presigned URL: answered with what to do instead
    return None


def lambda_path(path: str) -> bool:
    """A path of Lambda's REST API (signed or not, it is answered here)."""
    return _LAMBDA_PATH.match(path) is not None and not path.startswith(NOT_AWS_PREFIXES)


def matches(scope) -> bool:
    if scope["type"] != "http":
        return False
    service = signed_service(scope)
    if service is None:
        return lambda_path(scope["path"]) or unsigned_aws(scope)
    if service == b"lambda":
        # Signed for lambda elsewhere: messaging's JSON API (Django).
        return lambda_path(scope["path"])
    return True


def unsigned_aws(scope) -> bool:
    """An unsigned request that an AWS client made (an X-Amz-Target header,
    any other `x-amz-*` header but SNS's deliveries' `x-amz-sns-*`, or
    botocore's `amz-sdk-invocation-id` / `amz-sdk-request`), outside the
    paths Django keeps (DJANGO_PREFIXES). Browsers send none of these."""
    if scope["path"].startswith(DJANGO_PREFIXES):
        return False
    return any(
        name.startswith(b"amz-sdk-") or (name.startswith(b"x-amz-") and not name.startswith(b"x-amz-sns-"))
        for name, _ in scope["headers"]
    )


def query_form(scope) -> bool:
    """An unsigned form POST to / that `matches` did not take: a query
    request (SNS's Action=Publish...) from a client that sent no AWS
    header, when its body's Action is one (`query_action`)."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
        return False
    return signed_service(scope) is None and _form(scope)


def _form(scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/x-www-form-urlencoded"
    return False


def query_action(body: bytes) -> bool:
    """Whether a form body's Action names an operation of a registered
    service that takes query requests (SNS; SQS's old query API)."""
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
    action = next((value for name, value in pairs if name == "Action"), None)
    return action is not None and action in _query_actions(tuple(services.names()))


@lru_cache(maxsize=4)
def _query_actions(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        name for model in _index(names).services if speaks_query(model) for name in model.operation_names
    )


@lru_cache(maxsize=4)
def _index(names: tuple[str, ...]) -> ServiceIndex:
    return ServiceIndex(names)


def index() -> ServiceIndex:
    """The services registered so far (apps register from ready())."""
    return _index(tuple(services.names()))


def aws_request(scope, body: bytes) -> AwsRequest:
    raw = scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else quote(scope["path"], safe="/~")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    return AwsRequest(scope["method"], path, scope.get("query_string", b"").decode("latin-1"), headers, body)


async def serve(scope, receive, send) -> None:
    # The cached keys' roles, queues, topics and buckets (functions.changes)
    # are dropped when another process announces a change: listen from the
    # first request on.
    done.listener().start()
    request_id = str(uuid.uuid4())
    signed = signed_service(scope)
    if signed is None and not lambda_path(scope["path"]):
        return await _refuse_unsigned(scope, receive, send, request_id)
    found, streaming = _streaming_operation(scope)
    limit = MAX_BODY
    if streaming is not None:
        # The body is read after the signature is checked, straight to disk.
        body: bytes | None = b""
        request = aws_request(scope, b"")
        protocol, model, unknown = found.protocol, found.service, None
    else:
        limit = _body_limit(signed)
        body = await asgi.read_body(receive, limit)
        request = aws_request(scope, body or b"")
        try:
            found = _recognise(request, signed)
            protocol, model, unknown = found.protocol, found.service, None
        except UnknownOperation as e:
            found, protocol, model, unknown = None, e.protocol, e.service, e
    service = services.get(model.service_name) if model is not None else None
    spooled = None
    status = None
    try:
        if body is None:
            raise ServiceError(
                "RequestEntityTooLarge", f"The request is longer than {limit} bytes.", status=413
            )
        handler = None
        if unknown is None:
            handler = service.handlers.get(found.operation.name) if service else None
            if handler is None:
                unknown = _not_served(protocol, found, request)
        if signed is None:
            # Only Lambda's paths bring unsigned requests here: as Lambda,
            # an operation it does not serve is said before the signature
            # that is missing.
            if unknown is not None:
                raise unknown
            raise _unsigned(scope, body)
        key = await _authenticate(scope, body, request, model, streamed=streaming is not None)
        if unknown is not None:
            raise unknown
        params = await _parse(found, request, protocol, service)
        context = services.Context(
            key=key, region=settings.STRATUS_REGION, request_id=request_id,
            endpoint=f"{scope.get('scheme', 'http')}://{request.header('host') or 'localhost'}",
            operation=found.operation.name, source_ip=(scope.get("client") or ("",))[0] or "",
        )
        if principals.is_function(key):
            await asgi.in_thread(_authorize, key, service, context, params, protocol)
        write = service.is_write(found.operation.name)
        if streaming is not None:
            if write:
                await _require_write_soon(key, protocol, service.denied_code)
            # A plain handler fsyncs the body on its own thread, first (_call).
            spooled = await _spool(receive, request, streaming, not inspect.iscoroutinefunction(handler))
            params[found.operation.input_shape.serialization["payload"]] = spooled
        if inspect.iscoroutinefunction(handler):
            if write and streaming is None:
                await _require_write_soon(key, protocol, service.denied_code)
            output = await handler(context, params)
        else:
            output = await asgi.in_thread(
                _call, handler, context, params, write and streaming is None, protocol,
                service.denied_code, spooled,
            )
        if isinstance(output, services.Reply):
            output, status = output.output, output.status
        response = serialise_response(found.operation, output, protocol, request_id)
        if status is not None:
            response.status = status
    except Exception as error:  # noqa: BLE001 - every failure is answered in the protocol's shape
        if not isinstance(error, ServiceError) and not hasattr(error, "code"):
            log.exception("AWS %s %s failed", request.method, request.path)
            error = ServiceError(
                "InternalFailure", "Stratus failed to handle this request; see its log.",
                status=500, sender_fault=False,
            )
        if service is not None and getattr(error, "code", None) in service.codes:
            error.code = service.codes[error.code]
        _add_query_code(error, model)
        response = serialise_error(model, error, protocol, request_id, method=request.method)
    finally:
        if spooled is not None:
            spooled.discard()  # unless the handler moved it into place
    if protocol == "rest-json":
        # The Lambda API has always sent both; botocore reads either.
        response.headers.setdefault("X-Amz-Request-Id", request_id)
    await _send(send, response, request.method)


def _body_limit(signed: bytes | None) -> int:
    """The longest body to read: the signing service's own limit (Lambda's
    CreateFunction carries a zip) or the door's. Unsigned requests are
    Lambda's."""
    registered = services.get((signed or b"lambda").decode("latin-1"))
    return registered.max_body if registered is not None and registered.max_body else MAX_BODY


def _recognise(request: AwsRequest, signed: bytes | None) -> Recognised:
    """The service and operation; an unsigned request (only Lambda's paths
    bring one) is looked for among Lambda's operations alone, as no scope
    narrows it (S3's /{Bucket}/{Key+} would match any path)."""
    if signed is None and services.get("lambda") is not None:
        return _index(("lambda",)).recognise(request)
    return index().recognise(request)


def _not_served(protocol: str, found: Recognised, request: AwsRequest) -> UnknownOperation:
    """An operation of the model that no handler serves, in the protocol's
    unknown-operation shape; REST ones also say the request line."""
    what = found.operation.name
    if protocol.startswith("rest"):
        what += f" ({request.method} {request.path})"
    return unknown_operation(protocol, what, found.service)


def _unsigned(scope, body: bytes) -> ServiceError:
    """What an unsigned request lacks, in sigv4's words (no key is looked up:
    it fails before that)."""
    try:
        sigv4.verify(asgi.django_request(scope, body), "lambda")
    except sigv4.SignatureError as e:
        return ServiceError(e.code, e.message, status=403)
    return ServiceError("MissingAuthenticationTokenException", "Missing Authentication Token.", status=403)


async def _refuse_unsigned(scope, receive, send, request_id: str) -> None:
    """An unsigned request off Lambda's paths (`unsigned_aws`, `query_form`):
    what its service says to a missing signature, in the protocol the
    request came in (`_unsigned`'s code, renamed by the service's
    `signature_codes`: S3's AccessDenied; query clients get
    MissingAuthenticationToken). Only a form body is read, to find its
    Action (query requests also go to an SQS queue's URL); any other body
    is left to `asgi.finishing_body`."""
    body = b""
    if scope["method"] == "POST" and _form(scope):
        body = await asgi.read_body(receive, QUERY_FORM_MAX) or b""
    request = aws_request(scope, body)
    try:
        found = index().recognise(request)
        protocol, model = found.protocol, found.service
    except UnknownOperation as e:
        protocol, model = e.protocol, e.service
    registered = services.get(model.service_name) if model is not None else None
    codes = registered.signature_codes if registered is not None else {}
    missing = _unsigned(scope, b"")
    error = ServiceError(
        codes.get(missing.code, missing.code), missing.message, status=403,
        query_code=_SIGNATURE_QUERY_CODES.get(missing.code),
    )
    response = serialise_error(model, error, protocol, request_id, method=request.method)
    await _send(send, response, request.method)


async def _parse(found: Recognised, request: AwsRequest, protocol: str, service: services.Service) -> dict:
    """The operation's input, after the service's own check of the request
    as it came; large bodies (a function's zip) on a door thread."""

    def parse() -> dict:
        if service.check_input is not None:
            service.check_input(found.operation.name, request)
        return parse_request(found.operation, request, protocol, found.labels)

    if len(request.body) <= PARSE_INLINE_MAX:
        return parse()
    return await asgi.in_thread(parse)


def _streaming_operation(scope) -> tuple[Recognised | None, services.Streaming | None]:
    """The operation and its service's spooling, when the request is for an
    operation with a streaming body (S3's PutObject) of a service that
    spools them; recognised from the method, path and headers alone."""
    signed = (signed_service(scope) or b"").decode("latin-1")
    if not signed or not any(
        s.streaming is not None and s.name == signed for s in map(services.get, services.names())
    ):
        return None, None
    try:
        found = index().recognise(aws_request(scope, b""))
    except UnknownOperation:
        return None, None
    service = services.get(found.service.service_name)
    if not found.operation.has_streaming_input or service is None or service.streaming is None:
        return None, None
    return found, service.streaming


async def _spool(
    receive, request: AwsRequest, streaming: services.Streaming, sync_later: bool = False
) -> spool.SpooledBody:
    limit = streaming.limit()
    declared = request.header("x-amz-decoded-content-length") or request.header("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, int(declared))
    content_sha = request.header("x-amz-content-sha256")
    chunked = content_sha == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    if content_sha and content_sha.startswith("STREAMING-") and not chunked:
        raise ServiceError(
            "NotImplemented",
            f"Stratus does not take {content_sha} bodies (signed aws-chunked uploads) yet; "
            "send the body whole with its SHA-256 or UNSIGNED-PAYLOAD (boto3 and the AWS CLI do).",
            status=501, sender_fault=False,
        )
    try:
        body = await spool.spool(
            receive, streaming.directory(), limit, chunked=chunked, sync_later=sync_later
        )
    except spool.BodyTooLarge as e:
        raise _too_large(limit, e.seen) from None
    except spool.MalformedChunks as e:
        raise ServiceError("IncompleteBody", f"The aws-chunked body is malformed: {e}.") from None
    except spool.ClientGone:
        raise ServiceError(
            "IncompleteBody", "The request body ended before its Content-Length was reached."
        ) from None
    expected = sigv4.payload_hash_to_check(content_sha)
    if expected is not None and expected != body.sha256:
        body.discard()
        raise ServiceError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            fields={"ClientComputedContentSHA256": expected, "S3ComputedContentSHA256": body.sha256},
        )
    return body


def _too_large(limit: int, size: int) -> ServiceError:
    return ServiceError(
        "EntityTooLarge",
        f"Your proposed upload exceeds the maximum allowed size ({limit} bytes on this server); "
        "use a multipart upload or ask the operator to raise the limit.",
        fields={"MaxSizeAllowed": limit, "ProposedSize": size},
    )


async def _send(send, response, method: str) -> None:
    body = response.body
    headers = list(response.headers.items())
    if response.status == 304 or method == "HEAD":
        # No body: 304 never has one; HEAD keeps GetObject's Content-Length.
        if isinstance(body, spool.FileSlice):
            body.close()
        body = b""
    if not isinstance(body, spool.FileSlice):
        await asgi.send_response(send, response.status, body, headers)
        return
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers if k.lower() != "content-length"]
    raw.append((b"content-length", str(body.length).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    async for chunk in body.chunks():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _authenticate(scope, body: bytes, request: AwsRequest, model, *, streamed: bool = False) -> ApiKey:
    django_request = asgi.django_request(scope, body)
    service = (signed_service(scope) or b"").decode("latin-1")
    registered = services.get(model.service_name) if model is not None else None
    codes = registered.signature_codes if registered is not None else {}
    try:
        if request.header("authorization") is None:
            return await asgi.in_thread(principals.verify_presigned, django_request, service)
        cached = principals.verify_cached(django_request, service, body_checked_later=streamed)
        return cached or await asgi.in_thread(
            partial(principals.verify, body_checked_later=streamed), django_request, service
        )
    except sigv4.SignatureError as e:
        query_code = _SIGNATURE_QUERY_CODES.get(e.code)
        raise ServiceError(codes.get(e.code, e.code), e.message, status=403, query_code=query_code) from None


def _denied_code(protocol: str, denied_code: str | None) -> str:
    # AccessDenied as query and REST-XML services name it, AccessDeniedException in JSON.
    return denied_code or ("AccessDenied" if protocol in ("query", "rest-xml") else "AccessDeniedException")


def _authorize(
    key, service: services.Service, context: services.Context, params: dict, protocol: str
) -> None:
    """A function's own credentials may do what its execution policy allows
    (awsapi.principals); people's keys pass (their role is checked below)."""
    if not principals.is_function(key):
        return
    calls = service.resources(context, context.operation, params) if service.resources else []
    denial = principals.authorize(key, calls)
    if denial is not None:
        code = _denied_code(protocol, service.denied_code)
        raise ServiceError(code, denial.message, status=403, query_code=service.denied_code or "AccessDenied")


async def _require_write_soon(key: ApiKey, protocol: str, denied_code: str | None) -> None:
    """_require_write on the event loop when the role is in memory, else on a thread."""
    if principals.is_function(key) or cached_can_write(key.user, key.team):
        return
    await asgi.in_thread(_require_write, key, protocol, denied_code)


def _require_write(key: ApiKey, protocol: str, denied_code: str | None = None) -> None:
    """AccessDenied for a read-only member's key. The role is kept in
    memory and dropped on any membership change (functions.access)."""
    if principals.is_function(key):
        return  # the execution policy decided (_authorize)
    if not copied_can_write(key.user, key.team):
        # AccessDenied as query and REST-XML services name it, AccessDeniedException in JSON.
        code = denied_code or (
            "AccessDenied" if protocol in ("query", "rest-xml") else "AccessDeniedException"
        )
        raise ServiceError(
            code,
            f"{key.user.username} is read-only in the team {key.team.name}; "
            "ask an owner for the member role.",
            status=403, query_code=denied_code or "AccessDenied",
        )


def _call(
    handler, context: services.Context, params: dict, write: bool, protocol: str, denied_code: str | None,
    spooled: spool.SpooledBody | None = None,
):
    if spooled is not None:
        spooled.sync()  # fsynced before the handler may name it
    if write:
        _require_write(context.key, protocol, denied_code)
    return handler(context, params)


def _add_query_code(error: BaseException, model) -> None:
    """A query-compatible service's error gets the code its query clients know."""
    if model is None or "awsQueryCompatible" not in model.metadata or getattr(error, "query_code", None):
        return
    service = services.get(model.service_name)
    code = getattr(error, "code", None)
    if service is not None and code in service.query_codes:
        error.query_code = service.query_codes[code]
    elif isinstance(error, ServiceError):
        error.query_code = code
