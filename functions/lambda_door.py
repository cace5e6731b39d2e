"""Lambda's REST API on the AWS front door (awsapi.door): its operations
registered from `FunctionsConfig.ready()`, and the check of each request
as it came, before the door parses it with botocore's model.

Invoke is not here: its fast lane (functions.invoke_api) answers it on the
event loop before the door sees the request (console.asgi).

The check keeps the Lambda API's answers to bad input, which a model parser
alone would blur: the JSON body is parsed with the API's limits
(awsapi.guard.json_object: 32 levels, no NaN; InvalidRequestContentException)
and checked against the operation's input shape with AWS's words
(awsapi.params: ValidationException naming the member and the constraint;
Timeout, MemorySize and EphemeralStorage.Size against Lambda's own ranges,
narrower than the model's: lambda_api.LIMITS),
and so is the query string (ListFunctions' MaxItems and Marker)."""

from django.conf import settings

from awsapi import params, services
from awsapi.guard import json_object
from awsapi.protocols import AwsRequest
from functions import (
    lambda_account,
    lambda_api,
    lambda_async_api,
    lambda_layers_api,
    lambda_resources,
    lambda_tags_api,
    lambda_urls_api,
    lambda_versions_api,
)

# What Lambda's clients call the door's own errors.
CODES = {
    "InternalFailure": "ServiceException",
    "RequestEntityTooLarge": "RequestTooLargeException",
    "SerializationException": "InvalidRequestContentException",
}


def check_input(operation: str, request: AwsRequest) -> None:
    """ValidationException (or InvalidRequestContentException for a body
    that is no JSON object) unless the query string and the JSON body fit
    the operation's input shape. Members the model does not know are
    ignored, as AWS does; a body of an operation without body members is
    not read."""
    shape = params.operation(lambda_api.SERVICE, operation).input_shape
    if shape is None:
        return
    params.check_query(
        lambda_api.SERVICE, operation,
        # Every value of a repeated member (a list, as UntagResource's tagKeys).
        {name: values[-1] if len(values) == 1 else list(values)
         for name, values in request.query_dict.items()},
    )
    if shape.serialization.get("payload"):
        return  # a raw payload (InvokeAsync's event), checked by its handler
    if any("location" not in member.serialization for member in shape.members.values()):
        params.check_body(lambda_api.SERVICE, operation, json_object(request.body),
                          limits=lambda_api.LIMITS)


def register() -> None:
    services.register(
        lambda_api.SERVICE,
        {**lambda_api.HANDLERS, **lambda_async_api.HANDLERS, **lambda_account.HANDLERS,
         **lambda_tags_api.HANDLERS, **lambda_urls_api.HANDLERS, **lambda_versions_api.HANDLERS},
        reads=lambda_api.READS | lambda_async_api.READS | lambda_account.READS | lambda_tags_api.READS
        | lambda_urls_api.READS | lambda_versions_api.READS,
        codes=CODES,
        # A zip in the JSON body (base64): as large as Django took it before.
        max_body=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        check_input=check_input,
        # What each call does, as IAM names it, for functions' own credentials.
        resources=lambda_resources.resolve,
    )
    # The layer operations, with their own IAM resources (layer ARNs).
    services.extend(lambda_api.SERVICE, lambda_layers_api.HANDLERS, reads=lambda_layers_api.READS,
                    resources=lambda_layers_api.resources)
