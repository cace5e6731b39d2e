"""Function URLs (Lambda's FunctionUrlConfig): the rules in one place for
the Lambda API (functions.lambda_urls_api) and the console.

A function has at most one URL per qualifier: "" (the function itself,
$LATEST) or an alias name (Lambda's FunctionUrlQualifier: an alias, never a
version number or $LATEST). The URL is
`<scheme>://<host>/lambda-url/<url_id>/` on this server (Lambda's is
`https://<url-id>.lambda-url.<region>.on.aws/`); `url_id` is 32 lower-case
letters and digits, as Lambda's, and served by triggers.url_door.

Settings, checked here (FunctionUrlError, nothing stored):
- AuthType NONE or AWS_IAM (SigV4 by a key of the function's team);
- InvokeMode BUFFERED (RESPONSE_STREAM is refused: no streaming here);
- Cors: AllowOrigins (up to 100, "*" or scheme://host[:port]),
  AllowMethods (up to 6 of GET PUT HEAD POST PATCH DELETE, or "*"),
  AllowHeaders / ExposeHeaders (up to 100 header names), MaxAge 0-86400 s,
  AllowCredentials true/false (Lambda's Cors shape and limits)."""

import re
import secrets
import string

from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from functions import qualifiers
from functions.models import Alias, Function, FunctionUrlConfig

PREFIX = "/lambda-url/"
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED",)
METHODS = ("GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*")
CORS_MEMBERS = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders", "MaxAge")
LIST_MAX = 100  # Lambda's HeadersList and AllowOriginsList
MAX_AGE = 86400  # Lambda's MaxAge: at most a day
HEADER_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,1024}")  # an HTTP field name (RFC 9110 token)
ORIGIN_RE = re.compile(r"\*|[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]{1,253}")
_ALPHABET = string.ascii_lowercase + string.digits


class FunctionUrlError(ValueError):
    """A bad setting (Lambda's InvalidParameterValueException)."""


class UrlExists(FunctionUrlError):
    """The function (and qualifier) has a URL already (ResourceConflictException)."""


class QualifierMissing(LookupError):
    """The alias does not exist (ResourceNotFoundException)."""


def new_url_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


def trigger_key(url_id: str) -> str:
    """Invocation.trigger of a call through the URL (as "route:<uuid>" for routes)."""
    return f"function-url:{url_id}"


def url_of(config: FunctionUrlConfig, endpoint: str) -> str:
    """The FunctionUrl: `endpoint` is scheme://host as the caller reached
    this server, so the URL works from where it was asked."""
    return f"{endpoint.rstrip('/')}{PREFIX}{config.url_id}/"


def clean_qualifier(fn: Function, qualifier) -> str:
    """"" for none; an alias name of `fn` (QualifierMissing when it does
    not exist); a version number or $LATEST is refused, as Lambda's
    FunctionUrlQualifier pattern does."""
    if qualifier in (None, ""):
        return ""
    if not isinstance(qualifier, str) or not qualifiers.ALIAS_RE.fullmatch(qualifier):
        raise FunctionUrlError(
            f"The qualifier {qualifier!r} is not an alias name: function URLs take an alias "
            "(letters, digits, - and _, not only digits), or none for the function itself."
        )
    try:
        qualifiers.alias_version(fn, qualifier)
    except qualifiers.QualifierNotFound:
        raise QualifierMissing(qualifier) from None
    return qualifier


def clean_auth_type(value) -> str:
    if value not in AUTH_TYPES:
        raise FunctionUrlError(f"AuthType must be NONE or AWS_IAM, not {value!r}.")
    return value


def clean_invoke_mode(value) -> str:
    if value in (None, ""):
        return "BUFFERED"
    if value == "RESPONSE_STREAM":
        raise FunctionUrlError("InvokeMode RESPONSE_STREAM is not supported here; use BUFFERED.")
    if value not in INVOKE_MODES:
        raise FunctionUrlError(f"InvokeMode must be BUFFERED or RESPONSE_STREAM, not {value!r}.")
    return value


def _names(value, member: str, pattern: re.Pattern, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FunctionUrlError(f"Cors.{member} must be a list of text.")
    if len(value) > LIST_MAX:
        raise FunctionUrlError(f"Cors.{member} has {len(value)} entries; the limit is {LIST_MAX}.")
    for item in value:
        if not pattern.fullmatch(item):
            raise FunctionUrlError(f"Cors.{member}: {item!r} is not {what}.")
    return list(value)


def clean_cors(value) -> dict:
    """Lambda's Cors shape, checked; {} for none. Methods are upper-cased."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise FunctionUrlError("Cors must be a map of Lambda's Cors members.")
    unknown = set(value) - set(CORS_MEMBERS)
    if unknown:
        raise FunctionUrlError(f"Cors has no member {sorted(unknown)[0]}.")
    cors: dict = {}
    if "AllowCredentials" in value and value["AllowCredentials"] is not None:
        if not isinstance(value["AllowCredentials"], bool):
            raise FunctionUrlError("Cors.AllowCredentials must be true or false.")
        cors["AllowCredentials"] = value["AllowCredentials"]
    for member in ("AllowHeaders", "ExposeHeaders"):
        if value.get(member) is not None:
            cors[member] = _names(value[member], member, HEADER_RE, "an HTTP header name")
    if value.get("AllowOrigins") is not None:
        cors["AllowOrigins"] = _names(value["AllowOrigins"], "AllowOrigins", ORIGIN_RE,
                                      "an origin (scheme://host[:port]) or *")
    if value.get("AllowMethods") is not None:
        methods = [m.upper() for m in _names(value["AllowMethods"], "AllowMethods", re.compile(r"\S{1,6}"),
                                             "an HTTP method")]
        bad = [m for m in methods if m not in METHODS]
        if bad:
            raise FunctionUrlError(f"Cors.AllowMethods: {bad[0]!r} is not one of {', '.join(METHODS)}.")
        if len(methods) > 6:
            raise FunctionUrlError("Cors.AllowMethods lists at most 6 methods.")
        cors["AllowMethods"] = methods
    if value.get("MaxAge") is not None:
        age = value["MaxAge"]
        if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_AGE:
            raise FunctionUrlError(f"Cors.MaxAge must be a whole number of seconds from 0 to {MAX_AGE}.")
        cors["MaxAge"] = age
    return cors


def create(fn: Function, *, qualifier=None, auth_type, cors=None, invoke_mode=None) -> FunctionUrlConfig:
    """A function's URL; UrlExists when it (with that qualifier) has one."""
    qualifier = clean_qualifier(fn, qualifier)
    fields = dict(auth_type=clean_auth_type(auth_type), cors=clean_cors(cors),
                  invoke_mode=clean_invoke_mode(invoke_mode))
    if FunctionUrlConfig.objects.filter(function=fn, qualifier=qualifier).exists():
        raise UrlExists("FunctionUrlConfig exists for this Lambda function")
    try:
        with transaction.atomic():
            return FunctionUrlConfig.objects.create(function=fn, qualifier=qualifier, url_id=new_url_id(),
                                                    **fields)
    except IntegrityError:
        # Made by a concurrent call since the check.
        raise UrlExists("FunctionUrlConfig exists for this Lambda function") from None


def find(fn: Function, qualifier=None) -> FunctionUrlConfig | None:
    qualifier = "" if qualifier in (None, "") else qualifier
    return FunctionUrlConfig.objects.filter(function=fn, qualifier=qualifier).first()


def update(config: FunctionUrlConfig, *, auth_type=None, cors=None, invoke_mode=None) -> FunctionUrlConfig:
    """Change the members given (None leaves one alone; Cors given replaces
    the whole Cors, as Lambda does)."""
    changes = {}
    if auth_type is not None:
        changes["auth_type"] = clean_auth_type(auth_type)
    if cors is not None:
        changes["cors"] = clean_cors(cors)
    if invoke_mode is not None:
        changes["invoke_mode"] = clean_invoke_mode(invoke_mode)
    for key, value in changes.items():
        setattr(config, key, value)
    config.updated_at = timezone.now()
    config.save(update_fields=[*changes, "updated_at"])
    return config


def delete(config: FunctionUrlConfig) -> None:
    config.delete()


@receiver(post_delete, sender=Alias)
def _alias_deleted(sender, instance: Alias, **kwargs) -> None:
    """An alias's URL goes with it, whoever deletes the alias (the API, the
    console): its URL could never answer again."""
    FunctionUrlConfig.objects.filter(function_id=instance.function_id, qualifier=instance.name).delete()
