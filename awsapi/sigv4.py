"""Verifying AWS Signature Version 4 on incoming AWS API requests (and
S3's Signature Version 2 presigned URLs, which the AWS CLI v1 still makes).

We rebuild the request the client signed and let botocore's own SigV4Auth
compute the signature, so we agree with the SDKs by construction instead of
reimplementing the canonicalisation rules."""

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from functions import changes
from functions.models import ApiKey, Membership

SERVICE = "lambda"
MAX_SKEW = timedelta(minutes=15)
# x-amz-content-sha256 values that stand for a body the signature does not
# cover: S3 takes them (boto3 over HTTPS, presigned PUTs), no other service.
UNSIGNED_PAYLOADS = frozenset({"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
UNSIGNED_SERVICES = frozenset({"s3"})
# The longest a presigned URL may live (SigV4's limit: 7 days).
MAX_PRESIGNED_EXPIRES = 604800
# Writing last_used_at on every call would make each API call a write.
LAST_USED_EVERY = timedelta(minutes=1)

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+"
    r"Credential=(?P<akid>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)"
    r"/aws4_request\s*,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;._-]+)\s*,\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


class SignatureError(Exception):
    """A request we cannot attribute to a key. `code` is the AWS error type,
    which botocore turns into a ClientError the caller can match on."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _header(request: HttpRequest, name: str) -> str | None:
    """A request header by its lower-case name, as the client sent it."""
    if name == "content-type":
        return request.META.get("CONTENT_TYPE")
    if name == "content-length":
        return request.META.get("CONTENT_LENGTH")
    return request.META.get("HTTP_" + name.upper().replace("-", "_"))


def _raw_path(request: HttpRequest) -> str:
    """The path as the client put it on the wire, percent-encoding and all,
    since that is what it signed. Daphne keeps it in the ASGI scope's
    raw_path and WSGI servers like gunicorn in RAW_URI; where neither is
    there (the test client) we encode the decoded path the way botocore
    encodes URI labels (an ARN's ':' becomes %3A)."""
    scope = getattr(request, "scope", None) or {}
    if scope.get("raw_path"):
        return scope["raw_path"].decode("latin-1").split("?", 1)[0]
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw:
        return raw.split("?", 1)[0]
    return quote(request.path, safe="/~")


def _parse_timestamp(value: str | None) -> datetime:
    if not value:
        raise SignatureError(
            "IncompleteSignatureException",
            "The request has no X-Amz-Date header; sign it with SigV4 (an AWS SDK does this).",
        )
    # By hand: strptime costs more than the rest of the check.
    try:
        if len(value) != 16 or value[8] != "T" or value[15] != "Z":
            raise ValueError(value)
        return datetime(
            int(value[0:4]), int(value[4:6]), int(value[6:8]),
            int(value[9:11]), int(value[11:13]), int(value[13:15]), tzinfo=UTC,
        )
    except ValueError:
        raise SignatureError(
            "IncompleteSignatureException",
            f"X-Amz-Date {value!r} is not in the form YYYYMMDDTHHMMSSZ.",
        ) from None


@dataclass
class _Signed:
    access_key_id: str
    region: str
    signed_headers: list[str]
    signature: str
    amz_date: str


def _parse(request: HttpRequest, service: str) -> _Signed:
    """The signature's parts, checked for shape, scope and clock skew."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if not header:
        raise SignatureError(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: sign the request with an access key "
            "(python manage.py createapikey USERNAME creates one).",
        )
    match = AUTH_RE.match(header.strip())
    if not match:
        raise SignatureError(
            "IncompleteSignatureException",
            "The Authorization header is not a valid AWS4-HMAC-SHA256 signature "
            "(expected Credential=..., SignedHeaders=..., Signature=...).",
        )
    if match["region"] != settings.STRATUS_REGION:
        raise SignatureError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{match['region']}'; "
            f"this server is '{settings.STRATUS_REGION}'.",
        )
    if match["service"] != service:
        raise SignatureError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}', not '{match['service']}'.",
        )
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise SignatureError(
            "IncompleteSignatureException", "The host header must be among the SignedHeaders."
        )
    amz_date = _header(request, "x-amz-date")
    when = _parse_timestamp(amz_date)
    if amz_date[:8] != match["date"]:
        raise SignatureError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid date: '{amz_date[:8]}', not '{match['date']}'.",
        )
    now = timezone.now()
    if abs(now - when) > MAX_SKEW:
        raise SignatureError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is more than 15 minutes away from the server's "
            f"time ({now:%Y%m%dT%H%M%SZ}); check the client's clock.",
        )
    return _Signed(match["akid"], match["region"], signed, match["signature"], amz_date)


def verify(request: HttpRequest, service: str = SERVICE, *, body_checked_later: bool = False) -> ApiKey:
    """Return the ApiKey that signed `request`, or raise SignatureError.

    `body_checked_later`: the body is not in `request` (a streamed upload);
    the caller compares its SHA-256 with x-amz-content-sha256 once it has
    read it (`payload_hash_to_check`)."""
    signed = _parse(request, service)
    key, secret = _load_key(signed.access_key_id)
    return _check(request, signed, key, secret, service, body_checked_later)


def verify_cached(
    request: HttpRequest, service: str = SERVICE, *, body_checked_later: bool = False
) -> ApiKey | None:
    """verify() without touching the database: None when the key is not in
    this process's memory (call verify() from a thread then)."""
    signed = _parse(request, service)
    cached = _keys.get(signed.access_key_id)
    if cached is None:
        return None
    key, secret = cached
    return _check(request, signed, key, secret, service, body_checked_later)


# For awsapi.principals, which verifies function credentials with the same rules.
Signed = _Signed
parse_signature = _parse


def check_signature(
    request: HttpRequest, signed: _Signed, principal, secret: str, service: str,
    body_checked_later: bool = False,
):
    """`principal` (anything with `access_key_id`) when `secret` signed
    `request` as `signed` says; else SignatureError."""
    return _check(request, signed, principal, secret, service, body_checked_later)


def payload_hash_to_check(content_sha: str | None) -> str | None:
    """The SHA-256 (hex) a streamed body must have, given the request's
    x-amz-content-sha256; None when the body is unsigned."""
    if content_sha is None or content_sha in UNSIGNED_PAYLOADS:
        return None
    return content_sha


def _check(
    request: HttpRequest, signed: _Signed, key: ApiKey, secret: str, service: str,
    body_checked_later: bool = False,
) -> ApiKey:
    body = b"" if body_checked_later else request.body
    headers = {}
    for name in signed.signed_headers:
        value = _header(request, name)
        if value is None:
            raise SignatureError(
                "IncompleteSignatureException",
                f"The signed header {name!r} is missing from the request.",
            )
        headers[name] = value
    content_sha = headers.get("x-amz-content-sha256")
    if content_sha in UNSIGNED_PAYLOADS:
        if service not in UNSIGNED_SERVICES:
            raise SignatureError(
                "InvalidSignatureException",
                f"x-amz-content-sha256 {content_sha} is only accepted by S3; sign the body.",
            )
    elif content_sha is not None and body_checked_later:
        pass  # compared by the caller once the body is read
    elif content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        # botocore trusts this header in place of the body; we must not, or
        # a signed UNSIGNED-PAYLOAD would let anyone swap the body.
        raise SignatureError(
            "InvalidSignatureException",
            "The x-amz-content-sha256 header does not match the SHA-256 of the body.",
        )
    url = f"{request.scheme}://{headers['host']}{_raw_path(request)}"
    query = request.META.get("QUERY_STRING", "")
    if query:
        url += "?" + query
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=body)
    aws_request.context["timestamp"] = signed.amz_date
    # S3 signs its path as it is (no "//" or ".." normalising): its own signer.
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = signer_class(Credentials(key.access_key_id, secret), service, signed.region)
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return key


def verify_presigned(request: HttpRequest, service: str, *, credentials: tuple | None = None) -> ApiKey:
    """The ApiKey of a presigned URL (SigV4 in the query string: X-Amz-Algorithm,
    X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
    X-Amz-Signature), recomputed with botocore's S3 query signer; the body
    is unsigned, as S3's presigned URLs have it. Raises SignatureError.
    `credentials`: (principal, secret) already found by the caller
    (awsapi.principals, for function credentials) instead of an ApiKey."""
    if service not in UNSIGNED_SERVICES:
        raise SignatureError(
            "IncompleteSignatureException",
            "Presigned URLs are taken for S3 only; sign the Authorization header "
            "(the AWS SDKs and CLI do).",
        )
    query = request.GET
    if "AWSAccessKeyId" in query:
        return _verify_presigned_v2(request)
    missing = [n for n in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                           "X-Amz-SignedHeaders", "X-Amz-Signature") if not query.get(n)]
    if missing:
        raise SignatureError(
            "AuthorizationQueryParametersError",
            f"Query-string authentication requires {', '.join(missing)}.",
        )
    if query["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        raise SignatureError(
            "AuthorizationQueryParametersError",
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".",
        )
    parts = query["X-Amz-Credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError(
            "AuthorizationQueryParametersError",
            "X-Amz-Credential must be <access key id>/<date>/<region>/<service>/aws4_request.",
        )
    akid, date, region, scoped_service, _ = parts
    if region != settings.STRATUS_REGION or scoped_service != service:
        raise SignatureError(
            "AuthorizationQueryParametersError",
            f"X-Amz-Credential must be scoped to {settings.STRATUS_REGION}/{service}, "
            f"not {region}/{scoped_service}.",
        )
    amz_date = query["X-Amz-Date"]
    when = _parse_timestamp(amz_date)
    if amz_date[:8] != date:
        raise SignatureError(
            "AuthorizationQueryParametersError", "X-Amz-Date and the credential's date differ."
        )
    try:
        expires = int(query["X-Amz-Expires"])
    except ValueError:
        expires = -1
    if not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
        raise SignatureError(
            "AuthorizationQueryParametersError",
            f"X-Amz-Expires must be between 1 and {MAX_PRESIGNED_EXPIRES} seconds.",
        )
    now = timezone.now()
    if now > when + timedelta(seconds=expires):
        raise SignatureError("AccessDenied", "Request has expired")
    if when > now + MAX_SKEW:
        raise SignatureError("AccessDenied", "Request is not valid yet (X-Amz-Date is in the future).")
    signed_names = query["X-Amz-SignedHeaders"].split(";")
    if "host" not in signed_names:
        raise SignatureError("AuthorizationQueryParametersError", "The host header must be signed.")
    headers = {}
    for name in signed_names:
        value = _header(request, name)
        if value is None:
            raise SignatureError("AccessDenied", f"The signed header {name!r} is missing from the request.")
        headers[name] = value
    key, secret = credentials or _load_key(akid)
    unsigned_query = "&".join(
        pair for pair in request.META.get("QUERY_STRING", "").split("&")
        if pair and not pair.startswith("X-Amz-Signature=")
    )
    url = f"{request.scheme}://{headers['host']}{_raw_path(request)}?{unsigned_query}"
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=b"")
    aws_request.context["timestamp"] = amz_date
    signer = S3SigV4QueryAuth(Credentials(key.access_key_id, secret), service, region, expires=expires)
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    _check_presigned(expected, query["X-Amz-Signature"])
    return key


def _check_presigned(expected: str, given: str) -> None:
    """SignatureDoesNotMatch (S3's code for a presigned URL, SigV4 or V2)
    unless `given` is the `expected` signature; compared in constant time."""
    if not hmac.compare_digest(expected, given):
        raise SignatureError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )


class _FixedExpiryQueryAuth(HmacV1QueryAuth):
    """botocore's SigV2 query signer, with the URL's own Expires in place
    of "now + expires"."""

    def __init__(self, credentials: Credentials, expires: str):
        super().__init__(credentials)
        self._expires_at = expires

    def _get_date(self) -> str:
        return self._expires_at


def _verify_presigned_v2(request: HttpRequest) -> ApiKey:
    """The ApiKey of an S3 presigned URL in Signature Version 2
    (AWSAccessKeyId, Expires as epoch seconds, Signature: base64
    HMAC-SHA1), which the AWS CLI v1's `aws s3 presign` and boto3 without
    `signature_version="s3v4"` still make. The string to sign is rebuilt by
    botocore's own HmacV1 signer from the method, Content-MD5, Content-Type,
    Expires, the x-amz-* headers and the path with S3's sub-resources (S3's
    "Query string request authentication" in its SigV2 docs)."""
    query = request.GET
    missing = [n for n in ("AWSAccessKeyId", "Expires", "Signature") if not query.get(n)]
    if missing:
        raise SignatureError(
            "AuthorizationQueryParametersError",
            f"Query-string authentication requires {', '.join(missing)}.",
        )
    expires = query["Expires"]
    if not expires.isdigit():
        raise SignatureError("AuthorizationQueryParametersError", "Expires must be a number of seconds.")
    if time.time() > int(expires):
        raise SignatureError("AccessDenied", "Request has expired")
    key, secret = _load_key(query["AWSAccessKeyId"])
    headers = HTTPHeaders()
    for name in ("content-md5", "content-type"):
        if _header(request, name):
            headers[name] = _header(request, name)
    for meta, value in request.META.items():
        if meta.startswith("HTTP_X_AMZ_"):
            headers[meta[5:].lower().replace("_", "-")] = value
    url = f"{request.scheme}://{_header(request, 'host') or 'localhost'}{_raw_path(request)}"
    raw_query = request.META.get("QUERY_STRING", "")
    signer = _FixedExpiryQueryAuth(Credentials(key.access_key_id, secret), expires)
    expected = signer.get_signature(request.method, urlsplit(f"{url}?{raw_query}"), headers)
    _check_presigned(expected, query["Signature"])
    return key


def _load_key(access_key_id: str) -> tuple[ApiKey, str]:
    """The key, its decrypted secret, checked for an active member user.
    Kept in memory for KEY_CACHE_S: looking it up and decrypting it on every
    call was a third of a warm invoke's time. A deleted key, a removed
    member or a deactivated user stops working at once (functions.changes
    drops every copy), or within that time if the news was lost."""
    cached = _keys.get(access_key_id)
    if cached is not None:
        return cached
    key = ApiKey.objects.select_related("user", "team").filter(access_key_id=access_key_id).first()
    if key is None or not key.user.is_active:
        raise SignatureError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if not Membership.objects.filter(user=key.user, team=key.team).exists():
        raise SignatureError(
            "UnrecognizedClientException",
            f"The key's user is no longer a member of the team {key.team.name}.",
        )
    stale = timezone.now() - LAST_USED_EVERY
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
    ).update(last_used_at=timezone.now())
    secret = key.secret
    _keys.put(access_key_id, (key, secret))
    return key, secret


KEY_CACHE_S = 30.0
# (ApiKey, secret) by access key id. A key deleted, a member removed or a
# user deactivated (functions.access announces "access") drops them all:
# the next request looks its key up again.
_keys = changes.Copies("access", ttl_s=KEY_CACHE_S)
