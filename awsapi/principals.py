"""Who signed an AWS request: a person's API key, or a function's own
short-lived credentials. The one place the front door (awsapi.door), the
Invoke door (functions.invoke_api) and the Lambda JSON views (awsapi.guard)
learn it from, and the one place a function's calls are checked against
its execution policy (awsapi.policy).

Function credentials, as Lambda gives each environment its role's STS
credentials (AWS_ACCESS_KEY_ID = "ASIA...", AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN): nothing is stored. The session token carries the
function's id, its team, an expiry and a nonce, with an HMAC-SHA256 of
them under a key derived from the server's secret (SECRET_KEY, salted);
the access key id and the secret are HMACs of the token under the same
key. So the door checks a request by recomputing them: the token's HMAC
must verify, it must not have expired (STRATUS_FUNCTION_CREDENTIALS_S,
12 h by default, issued anew for each environment), the function must
still exist (deleting it revokes every credential it was given), and the
signature must verify with the derived secret. The platform's secrets
never reach a function: only these values do.

Requests signed with function credentials may do exactly what the
function's execution policy allows: `authorize` names the action and
resource ARN of each operation (the service's resolver, registered with
`awsapi.services.register(..., resources=)`), evaluates the policy, and
records each refusal as a `functions.models.DeniedCall` row (shown on the
function's Configuration tab), answering AWS's AccessDenied wording."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from awsapi import policy, sigv4
from functions.models import ApiKey, DeniedCall, Function, Team

log = logging.getLogger(__name__)
KEY_PREFIX = "ASIA"  # STS's prefix for temporary credentials
TOKEN_PREFIX = "STRATUS1"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass
class FunctionPrincipal:
    """A function's own credentials, verified: its function (with team)."""

    access_key_id: str
    function: Function
    expires: float  # epoch seconds

    user = None  # no person: the execution policy alone decides

    @property
    def team(self) -> Team:
        return self.function.team

    @property
    def arn(self) -> str:
        """`arn:aws:sts::<account>:assumed-role/<role>/<function>`, as the
        caller is named in Lambda's AccessDenied messages; <role> is the
        name in the function's Role ARN, else `<function>-role`."""
        role = (self.function.role or "").rsplit("/", 1)[-1] or f"{self.function.name}-role"
        return f"arn:aws:sts::{self.team.account_id}:assumed-role/{role}/{self.function.name}"


Principal = ApiKey | FunctionPrincipal


def is_function(principal) -> bool:
    return isinstance(principal, FunctionPrincipal)


# --- issuing -----------------------------------------------------------------


def _mac(purpose: str, message: str) -> bytes:
    key = hashlib.sha256(("stratus.function-credentials\0" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, f"{purpose}\0{message}".encode(), hashlib.sha256).digest()


def _derived(token: str) -> tuple[str, str]:
    """(access key id, secret access key) that belong to `token`."""
    digest = _mac("akid", token)
    akid = KEY_PREFIX + "".join(_BASE32[b % 32] for b in digest[:16])
    secret = base64.b64encode(_mac("secret", token)).decode()[:40]
    return akid, secret


def issue(fn: Function, lifetime_s: float | None = None) -> dict[str, str]:
    """New credentials for one environment of `fn`, as the three standard
    variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
    valid for `lifetime_s` (default STRATUS_FUNCTION_CREDENTIALS_S)."""
    lifetime = lifetime_s if lifetime_s is not None else settings.STRATUS_FUNCTION_CREDENTIALS_S
    payload = json.dumps(
        {"f": str(fn.pk), "t": fn.team_id, "e": int(time.time() + lifetime), "n": secrets.token_hex(8)},
        separators=(",", ":"),
    )
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    mac = base64.urlsafe_b64encode(_mac("token", body)).decode().rstrip("=")
    token = f"{TOKEN_PREFIX}.{body}.{mac}"
    akid, secret = _derived(token)
    return {"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token}


def _invalid(message: str = "The security token included in the request is invalid.") -> sigv4.SignatureError:
    return sigv4.SignatureError("UnrecognizedClientException", message)


def _token_claims(token: str | None, akid: str) -> dict:
    """The verified claims of a session token presented with `akid`."""
    if not token:
        raise _invalid(
            f"The access key {akid} is temporary: sign with its session token "
            "(AWS_SESSION_TOKEN; the SDKs send it as X-Amz-Security-Token)."
        )
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise _invalid()
    expected = base64.urlsafe_b64encode(_mac("token", parts[1])).decode().rstrip("=")
    if not hmac.compare_digest(expected, parts[2]) or not hmac.compare_digest(_derived(token)[0], akid):
        raise _invalid()
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    if claims["e"] <= time.time():
        raise sigv4.SignatureError(
            "ExpiredTokenException", "The security token included in the request is expired"
        )
    return claims


def _function_principal(akid: str, token: str | None) -> tuple[FunctionPrincipal, str]:
    claims = _token_claims(token, akid)
    fn = Function.objects.select_related("team").filter(pk=claims["f"], team_id=claims["t"]).first()
    if fn is None:
        # The function was deleted: its credentials died with it.
        raise _invalid(
            "The security token included in the request is invalid: its function no longer exists."
        )
    return FunctionPrincipal(akid, fn, float(claims["e"])), _derived(token)[1]


# --- verifying ---------------------------------------------------------------


def _signed_token(request: HttpRequest, signed: sigv4.Signed) -> str | None:
    if "x-amz-security-token" not in signed.signed_headers:
        return None
    return request.META.get("HTTP_X_AMZ_SECURITY_TOKEN")


def _temporary(request: HttpRequest) -> bool:
    """Signed with a temporary ("ASIA...") key? Read off the header, which
    sigv4 parses properly next: this is on every request's path."""
    return "Credential=" + KEY_PREFIX in request.META.get("HTTP_AUTHORIZATION", "")


def verify(
    request: HttpRequest, service: str = sigv4.SERVICE, *, body_checked_later: bool = False
) -> Principal:
    """The principal that signed `request` (SigV4 in the Authorization
    header): an ApiKey, or a FunctionPrincipal for "ASIA..." keys. Raises
    sigv4.SignatureError. May touch the database: call from a thread."""
    if not _temporary(request):
        return sigv4.verify(request, service, body_checked_later=body_checked_later)
    signed = sigv4.parse_signature(request, service)
    principal, secret = _function_principal(signed.access_key_id, _signed_token(request, signed))
    return sigv4.check_signature(request, signed, principal, secret, service, body_checked_later)


def verify_cached(
    request: HttpRequest, service: str = sigv4.SERVICE, *, body_checked_later: bool = False
) -> Principal | None:
    """verify() without the database: None when it would need it (always
    for function credentials, whose function must be seen to exist)."""
    if _temporary(request):
        return None
    return sigv4.verify_cached(request, service, body_checked_later=body_checked_later)


def verify_presigned(request: HttpRequest, service: str) -> Principal:
    """A presigned URL's principal (sigv4.verify_presigned); function
    credentials present their token as X-Amz-Security-Token in the query."""
    akid = (request.GET.get("X-Amz-Credential") or "").split("/", 1)[0]
    if not akid.startswith(KEY_PREFIX):
        return sigv4.verify_presigned(request, service)
    principal, secret = _function_principal(akid, request.GET.get("X-Amz-Security-Token"))
    return sigv4.verify_presigned(request, service, credentials=(principal, secret))


# --- authorising -------------------------------------------------------------


@dataclass(frozen=True)
class Denial:
    action: str
    resource: str
    message: str


def authorize(principal: Principal, calls: Iterable[tuple[str, str]]) -> Denial | None:
    """None when `principal` may make every (action, resource ARN) of
    `calls` (an API key always may: its team role is checked elsewhere);
    else the first refusal, recorded as a DeniedCall and logged. An empty
    `calls` is refused: an operation nobody named a resource for is not
    allowed to a function. Reads the function's policy from the database."""
    if not is_function(principal):
        return None
    calls = list(calls)
    fn = principal.function
    document = Function.objects.filter(pk=fn.pk).values_list("execution_policy", flat=True).first() or {}
    if not calls:
        calls = [("unknown:Operation", "*")]
    for action, resource in calls:
        decision = policy.evaluate(document, action, resource)
        if not decision.allowed:
            message = policy.denied_message(principal.arn, action, resource, decision)
            DeniedCall.objects.create(
                function_id=fn.pk, action=action[:128], resource=resource[:2048], message=message
            )
            log.warning("denied %s: %s", fn.name, message)
            return Denial(action, resource, message)
    return None
