"""The protocol layer of the AWS front door: which service and operation a
request is for, its input as a plain dict, and the answer or the error in
the service's own wire format, all read from botocore's service models.

    index = ServiceIndex(["s3", "sqs", "sns", "lambda", "dynamodb"])
    found = index.recognise(AwsRequest(method, path, query, headers, body))
    params = parse_request(found.operation, request, found.protocol, found.labels)
    response = serialise_response(found.operation, handler(**params), found.protocol)
    # or, for a ServiceError raised by the handler (or UnknownOperation from recognise):
    response = serialise_error(found.service, error, found.protocol, method=request.method)

Why our own code and not a library (evaluated before writing it):
- LocalStack's `localstack.aws.protocol.parser`/`serializer` (localstack-core
  on PyPI, Apache-2.0) are the model. But they are not separable: they import
  `localstack.http` (rolo/Werkzeug requests), `localstack.aws.spec` (its own
  patched specs, plux plugins), `localstack.aws.api`, `localstack.constants`,
  plus cbor2, xmltodict and dateutil; the package is the whole emulator
  (a 3 MB wheel with click, rich, psutil, dnslib... as base dependencies) and
  its runtime extra pins botocore 1.42, older than ours.
- moto 5.2 (Apache-2.0) now has model-driven `moto.core.parse` and
  `moto.core.serialize`, but any `moto.core` import runs moto's mocking
  machinery (`responses`, `boto3` patching, the backend index), pulls
  requests, responses, Werkzeug and xmltodict, ships every service's backend
  (7 MB wheel), routes operations with hand-written URL patterns rather than
  the model, writes bodies as text, and these modules are internal and change
  between minor releases.
- Nothing else on PyPI parses requests on the server side from botocore
  models (roto-aws is a Rust simulator).
botocore itself carries the models and the client half of every rule, so
each rule here is botocore's serializer or parser read in the mirror (named
in each function), and the tests check it by running botocore's own client
serializers and parsers against this code.

Not here: S3's `aws-chunked` bodies (the door de-chunks unsigned ones
while spooling them, `awsapi.spool`; signed chunks are refused), virtual-host
S3 addressing, event streams, CBOR
(smithy-rpc-v2), EC2's query dialect, checking parameters against the
model (required members, ranges), and SQS's legacy query dialect as old
clients write it: botocore's SQS model is JSON-only now and lost the query
traits (`SendMessageBatchRequestEntry.N`, `Attribute.N.Name`, flattened
`<Message>` lists), so that needs the legacy model's traits."""

from .messages import (
    AwsRequest,
    AwsResponse,
    MalformedRequest,
    ServiceError,
    UnknownOperation,
    unknown_operation,
)
from .parser import parse_request
from .router import Recognised, ServiceIndex, credential_service, load_service
from .serializer import serialise_error, serialise_response

__all__ = [
    "AwsRequest",
    "AwsResponse",
    "MalformedRequest",
    "Recognised",
    "ServiceError",
    "ServiceIndex",
    "UnknownOperation",
    "credential_service",
    "load_service",
    "parse_request",
    "serialise_error",
    "serialise_response",
    "unknown_operation",
]
