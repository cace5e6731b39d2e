"""The operations the AWS front door (awsapi.door) serves, registered by the
apps that own them from their `AppConfig.ready()`:

    services.register("sqs", {"SendMessage": send_message, ...},
                      reads={"GetQueueUrl", ...}, query_codes={...})

A handler is `handler(context, params) -> dict`: `params` is the
operation's input as boto3 names it, the dict it returns is the output;
it raises `awsapi.protocols.ServiceError` named after AWS's error code. A
plain function runs on a door thread (database work); an `async def`
handler runs on the event loop (ReceiveMessage's long polling waits there
without holding a thread) and moves its database work to
`awsapi.asgi.in_thread` itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from awsapi.protocols import AwsRequest
from functions.models import ApiKey, Team


@dataclass(frozen=True)
class Context:
    """Who calls, where, and the request's id (also in the answer's headers).
    `endpoint` is `scheme://host` as the client addressed us (SQS builds its
    queue URLs from it); `source_ip` the client's address (S3's events
    carry it)."""

    key: ApiKey
    region: str
    request_id: str
    endpoint: str
    operation: str
    source_ip: str = ""

    @property
    def team(self) -> Team:
        return self.key.team


Handler = Callable[[Context, dict[str, Any]], Any]
InputCheck = Callable[[str, AwsRequest], None]
# (context, operation, params) -> [(IAM action, resource ARN)]: what a call
# does, for execution policies (awsapi.principals.authorize).
Resources = Callable[[Context, str, dict[str, Any]], list[tuple[str, str]]]


@dataclass
class Reply:
    """An output with what the model has no member for: the status (S3's
    206 for a range). A handler may return it in place of the dict."""

    output: dict[str, Any]
    status: int | None = None


@dataclass(frozen=True)
class Streaming:
    """How a service takes streaming-input bodies (S3's PutObject and
    UploadPart): spooled into `directory()` (on the service's storage file
    system, so a handler can `os.replace` the file into place), at most
    `limit()` bytes. Callables, so settings are read at request time."""

    directory: Callable[[], Path]
    limit: Callable[[], int]


@dataclass
class Service:
    """One registered service: its handlers by operation name, the
    operations a read-only member may call, and the query-protocol error
    codes of services that moved from query to JSON (SQS's
    `QueueDoesNotExist` is `AWS.SimpleQueueService.NonExistentQueue` to a
    client; botocore's models no longer carry them), and the code a
    read-only member's write is refused with when the service has its own
    (SNS's `AuthorizationError`; else the protocol's AccessDenied)."""

    name: str
    handlers: dict[str, Handler]
    reads: frozenset[str] = frozenset()
    query_codes: dict[str, str] = field(default_factory=dict)
    denied_code: str | None = None
    # What the door's signature errors are called by this service's clients
    # (S3: SignatureDoesNotMatch, InvalidAccessKeyId...).
    signature_codes: dict[str, str] = field(default_factory=dict)
    streaming: Streaming | None = None
    resources: Resources | None = None
    # What this service's clients call the door's own errors (Lambda:
    # ServiceException for InternalFailure, RequestTooLargeException...).
    codes: dict[str, str] = field(default_factory=dict)
    # The longest request body the door reads for this service (None: the
    # door's own limit).
    max_body: int | None = None
    # Checks the request as it came, before the door parses it (Lambda:
    # JSON types against the model, answered as ValidationException): an
    # `InputCheck(operation_name, request)` raising the service's error.
    check_input: InputCheck | None = None

    def is_write(self, operation: str) -> bool:
        return operation not in self.reads


_services: dict[str, Service] = {}


def register(
    service: str,
    handlers: Mapping[str, Handler],
    *,
    reads: Iterable[str] = (),
    query_codes: Mapping[str, str] | None = None,
    denied_code: str | None = None,
    signature_codes: Mapping[str, str] | None = None,
    streaming: Streaming | None = None,
    resources: Resources | None = None,
    codes: Mapping[str, str] | None = None,
    max_body: int | None = None,
    check_input: InputCheck | None = None,
) -> None:
    """Serve `handlers` for botocore's service `service` ("sqs"). Every
    operation not in `reads` is a write: a read-only member's key gets
    AccessDenied for it. `resources` names each call's IAM actions and
    resource ARNs (a function's calls are refused without it). `codes`
    renames the door's own errors for this service's clients, `max_body`
    raises the door's body limit (bytes), `check_input` sees each request
    before it is parsed (see `Service`). Registering again replaces the
    service."""
    _services[service] = Service(
        service, dict(handlers), frozenset(reads), dict(query_codes or {}), denied_code,
        dict(signature_codes or {}), streaming, resources, dict(codes or {}), max_body, check_input,
    )
    for extension in _extensions.get(service, []):
        _apply(_services[service], *extension)


_extensions: dict[str, list[tuple[dict, frozenset, Resources | None]]] = {}


def extend(
    service: str, handlers: Mapping[str, Handler], *, reads: Iterable[str] = (),
    resources: Resources | None = None,
) -> None:
    """Add operations to a service another app registers (the mappings
    app's event source mapping operations to functions' "lambda"), before
    or after it registers: kept, and applied again when it registers. The
    service's own settings (check_input, codes...) apply to them;
    `resources` answers for these operations, the service's for the rest."""
    extension = (dict(handlers), frozenset(reads), resources)
    _extensions.setdefault(service, []).append(extension)
    if service in _services:
        _apply(_services[service], *extension)


def _apply(target: Service, handlers: dict, reads: frozenset, resources: Resources | None) -> None:
    target.handlers.update(handlers)
    target.reads = target.reads | reads
    if resources is not None:
        base, own = target.resources, frozenset(handlers)

        def combined(context, operation, params):
            if operation in own:
                return resources(context, operation, params)
            return base(context, operation, params) if base else []

        target.resources = combined


def get(service: str) -> Service | None:
    return _services.get(service)


def names() -> list[str]:
    """The registered services' botocore names, in registration order."""
    return list(_services)
