"""The request and response the protocol layer reads and writes, and the
error it turns into each protocol's error shape.

Plain data, no web framework: the front door (Django view or ASGI door)
copies its request into an `AwsRequest` and its `AwsResponse` back out."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class AwsRequest:
    """One HTTP request as it arrived.

    `path` is the raw (still percent-encoded) path without the query string,
    `query` the raw query string; `headers` a mapping or a list of
    (name, value) pairs, in any case (a repeated header is joined with ",",
    as RFC 9110 allows); `body` the body bytes, already de-chunked."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        pairs = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        lowered: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
        self.headers = lowered

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @cached_property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The query string as (name, value) pairs, decoded, blanks kept."""
        return parse_qsl(self.query, keep_blank_values=True)

    @cached_property
    def query_dict(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, value in self.query_pairs:
            found.setdefault(name, []).append(value)
        return found

    @cached_property
    def form_pairs(self) -> list[tuple[str, str]]:
        """The query string's pairs then, for a form-encoded body, the body's:
        the query protocol accepts its parameters in either (AWS query API).

        Bytes that are not UTF-8 (raw or percent-escaped) are kept as lone
        surrogates (Python's "surrogateescape") rather than failing here or
        turning silently into U+FFFD: the parser refuses such a value in the
        protocol's words (`parser.parse_request`), naming its parameter."""
        pairs = parse_qsl(self.query, keep_blank_values=True, errors="surrogateescape")
        content_type = (self.header("content-type") or "").lower()
        if self.body and content_type.startswith("application/x-www-form-urlencoded"):
            text = self.body.decode("utf-8", "surrogateescape")
            pairs += parse_qsl(text, keep_blank_values=True, errors="surrogateescape")
        return pairs


@dataclass
class AwsResponse:
    """What to send back. `body` is bytes, or for a streamed blob payload
    (S3 GetObject's Body) whatever object the operation returned, untouched."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = b""


class ServiceError(Exception):
    """An AWS error, named by AWS's error code, e.g.
    `ServiceError("NoSuchKey", "The specified key does not exist.", status=404)`.

    - `sender_fault`: True for the caller's mistakes ("Sender"/"User"),
      False for ours ("Receiver"/"Service").
    - `fields`: members of the modeled error shape beyond code and message
      (Lambda's `Reason`, S3's `Key`, `BucketName`...), serialised as the
      service's model places them (body or header).
    - `query_code`: the code a query-protocol client knows, for services
      that moved from query to JSON (SQS's `AWS.SimpleQueueService.NonExistentQueue`
      for `QueueDoesNotExist`); sent in `x-amzn-query-error` over JSON.

    The serialiser also accepts any exception with `code`, `message`,
    `status` (and optionally `sender`, "User"/"Service", and `extra`), as
    `awsapi.errors.AwsError` has."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        sender_fault: bool = True,
        fields: Mapping[str, Any] | None = None,
        query_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.fields = dict(fields or {})
        self.query_code = query_code


class UnknownOperation(ServiceError):
    """No operation of a known service matches the request, in the protocol's
    own words (`unknown_operation`). `protocol` says which error shape to
    answer in; `service` is the service model when the service was known."""

    protocol: str = "json"
    service: Any = None


# What each protocol's servers answer to an operation they do not have:
# awsJson (coral) UnknownOperationException 400; the query API InvalidAction
# 400; API Gateway-fronted REST JSON services UnknownOperationException 404;
# S3 MethodNotAllowed 405 for a method its resource does not take.
_UNKNOWN = {
    "json": ("UnknownOperationException", 400, "Unknown operation {what}."),
    "query": ("InvalidAction", 400, "The action {what} is not valid for this endpoint."),
    "rest-json": ("UnknownOperationException", 404, "Unknown operation {what}."),
    "rest-xml": ("MethodNotAllowed", 405, "The specified method is not allowed against this resource."),
}


def unknown_operation(protocol: str, what: str, service: Any = None) -> UnknownOperation:
    """The "unknown operation" error of `protocol` ("json", "query",
    "rest-json", "rest-xml"); `what` names the operation or the request line."""
    code, status, template = _UNKNOWN.get(protocol, _UNKNOWN["json"])
    error = UnknownOperation(code, template.format(what=what), status=status)
    error.protocol = protocol
    error.service = service
    return error


class MalformedRequest(ServiceError):
    """The body does not parse as the protocol says (bad JSON, bad XML, a
    non-number where a number belongs)."""


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_parts(error: BaseException) -> tuple[str, str, int, bool, dict[str, Any], str | None]:
    """(code, message, status, sender_fault, fields, query_code) of a
    `ServiceError` or of an exception shaped like `awsapi.errors.AwsError`."""
    code = getattr(error, "code", None) or "InternalFailure"
    message = getattr(error, "message", None)
    if message is None:
        message = str(error)
    status = int(getattr(error, "status", 500 if code == "InternalFailure" else 400))
    fault = getattr(error, "sender_fault", None)
    if fault is None:
        fault = getattr(error, "sender", "User") not in ("Service", "Receiver") and status < 500
    fields = dict(getattr(error, "fields", None) or getattr(error, "extra", None) or {})
    return code, message, status, bool(fault), fields, getattr(error, "query_code", None)
