"""Which service and operation a request is for, read from the request itself.

In order (the same signals AWS's own front ends use, and LocalStack's
`service_router` / `op_router`):
1. the SigV4 credential scope's service, from the Authorization header or a
   presigned URL's `X-Amz-Credential`: narrows the candidates to the services
   signing with that name (`signingName`, default `endpointPrefix`);
2. `X-Amz-Target: <targetPrefix>.<Operation>`: the JSON protocols;
3. `Action` (and `Version`) in the query string or a form body: the query
   protocol, including SQS's query dialect beside its JSON one;
4. the method and path against every REST operation's `http.requestUri`,
   the most specific match winning (fixed query parameters and required
   header/query members first, then literal path length, then no greedy label,
   then not deprecated)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import botocore.session
from botocore.model import OperationModel, ServiceModel

from .messages import AwsRequest, UnknownOperation, unknown_operation
from .uris import UriTemplate, compile_uri

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request$")


@lru_cache(maxsize=64)
def load_service(name: str) -> ServiceModel:
    """botocore's model of service `name` (`s3`, `sqs`...), loaded once per process."""
    return botocore.session.get_session().get_service_model(name)


@dataclass(frozen=True)
class Recognised:
    """The service, the operation, the protocol the request speaks (which may
    differ from the model's first one: SQS takes query and JSON), and the
    REST path's labels."""

    service: ServiceModel
    operation: OperationModel
    protocol: str
    labels: dict[str, str]


def signing_name(service: ServiceModel) -> str:
    return service.metadata.get("signingName") or service.metadata["endpointPrefix"]


def speaks_query(service: ServiceModel) -> bool:
    """Query protocol services, and JSON services that still take query
    requests (`awsQueryCompatible`: SQS)."""
    return service.protocol == "query" or "awsQueryCompatible" in service.metadata


def credential_service(request: AwsRequest) -> str | None:
    """The service of the SigV4 credential scope, from the Authorization
    header or a presigned URL's X-Amz-Credential; None when unsigned."""
    found = _SCOPE.search(request.header("authorization") or "")
    if found:
        return found.group(1)
    for value in request.query_dict.get("X-Amz-Credential", []):
        found = _QUERY_SCOPE.match(value)
        if found:
            return found.group(1)
    return None


class ServiceIndex:
    """The services one front door serves, indexed for recognising requests.

    `ServiceIndex(["s3", "sqs", "sns", "lambda", "dynamodb"]).recognise(request)`
    -> `Recognised`, or raises `UnknownOperation` carrying the protocol whose
    error shape to answer in."""

    def __init__(self, services: Iterable[str | ServiceModel]) -> None:
        self.services = [load_service(s) if isinstance(s, str) else s for s in services]
        # REST routes by service, then by method.
        self._rest: dict[str, dict[str, list[tuple[OperationModel, UriTemplate, int]]]] = {}
        for service in self.services:
            if service.protocol.startswith("rest"):
                routes: dict[str, list[tuple[OperationModel, UriTemplate, int]]] = {}
                for name in service.operation_names:
                    op = service.operation_model(name)
                    required = 0
                    if op.input_shape is not None:
                        for member in op.input_shape.required_members:
                            location = op.input_shape.members[member].serialization.get("location")
                            required += location in ("header", "querystring")
                    routes.setdefault(op.http["method"], []).append(
                        (op, compile_uri(op.http["requestUri"]), required)
                    )
                self._rest[service.service_name] = routes

    def recognise(self, request: AwsRequest) -> Recognised:
        scope = credential_service(request)
        candidates = self.services
        if scope is not None:
            candidates = [s for s in self.services if signing_name(s) == scope]
            if not candidates:
                raise unknown_operation(self.guess_protocol(request), f"of service {scope}")
        target = request.header("x-amz-target")
        if target:
            return self._by_target(candidates, target)
        action = next((v for k, v in request.form_pairs if k == "Action"), None)
        if action is not None and any(speaks_query(s) for s in candidates):
            return self._by_action(candidates, request, action)
        return self._by_path(candidates, request)

    def _by_target(self, candidates: list[ServiceModel], target: str) -> Recognised:
        prefix, _, name = target.rpartition(".")
        for service in candidates:
            if service.metadata.get("targetPrefix") == prefix:
                if name in service.operation_names:
                    return Recognised(service, service.operation_model(name), "json", {})
                raise unknown_operation("json", target, service)
        raise unknown_operation("json", target)

    def _by_action(self, candidates: list[ServiceModel], request: AwsRequest, action: str) -> Recognised:
        version = next((v for k, v in request.form_pairs if k == "Version"), None)
        speaking = [s for s in candidates if speaks_query(s)]
        if version is not None:
            speaking = [s for s in speaking if s.api_version == version] or speaking
        for service in speaking:
            if action in service.operation_names:
                return Recognised(service, service.operation_model(action), "query", {})
        raise unknown_operation("query", action, speaking[0] if len(speaking) == 1 else None)

    def _by_path(self, candidates: list[ServiceModel], request: AwsRequest) -> Recognised:
        best, best_score = None, None
        query = request.query_dict
        for service in candidates:
            for op, template, required in self._rest.get(service.service_name, {}).get(request.method, ()):
                labels = template.match(request.path, query)
                if labels is None or not self._has_required(op, request):
                    continue
                # Last, a current operation over a deprecated one of the same
                # route (S3's GetBucketNotification / ...Configuration).
                score = (len(template.query) + required, template.literal_length, not template.greedy,
                         not op.deprecated)
                if best_score is None or score > best_score:
                    best, best_score = (service, op, labels), score
        if best is None:
            rest = [s for s in candidates if s.protocol.startswith("rest")]
            service = rest[0] if len(rest) == 1 else None
            protocol = service.protocol if service else self.guess_protocol(request)
            raise unknown_operation(protocol, f"{request.method} {request.path}", service)
        service, op, labels = best
        return Recognised(service, op, service.protocol, labels)

    @staticmethod
    def _has_required(op: OperationModel, request: AwsRequest) -> bool:
        shape = op.input_shape
        if shape is None:
            return True
        for name in shape.required_members:
            ser = shape.members[name].serialization
            where, key = ser.get("location"), ser.get("name", name)
            if where == "header" and request.header(key) is None:
                return False
            if where == "querystring" and key not in request.query_dict:
                return False
        return True

    def guess_protocol(self, request: AwsRequest) -> str:
        """The protocol a request with no known service looks like, to answer
        its error in: JSON with X-Amz-Target, query with Action, else REST."""
        if request.header("x-amz-target"):
            return "json"
        if any(k == "Action" for k, _ in request.form_pairs):
            return "query"
        return "rest-json" if "json" in (request.header("content-type") or "") else "rest-xml"


__all__ = ["ServiceIndex", "Recognised", "UnknownOperation", "credential_service", "load_service"]
