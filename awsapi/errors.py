"""Errors of the AWS JSON REST APIs (Lambda's shape) as botocore parses them: the error type in
the x-amzn-ErrorType header and {"Type", "message"} in a JSON body, so
boto3 raises e.g. `client.exceptions.ResourceNotFoundException`.

The helpers return exceptions: `raise not_found(arn)` anywhere below a
handler of the AWS front door (awsapi.door serialises them from the
service's model) or a view under `awsapi.guard.guarded` (`response()`)."""

import json

from django.http import HttpResponse


class AwsError(Exception):
    def __init__(self, status: int, code: str, message: str, *, sender: str = "User", **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.sender = sender
        # Extra body fields some errors carry, e.g. Reason on 429s.
        self.extra = extra
        self.headers: dict[str, str] = {}

    def response(self) -> HttpResponse:
        body = {"Type": self.sender, "message": self.message, **self.extra}
        resp = HttpResponse(
            json.dumps(body), status=self.status, content_type="application/json"
        )
        resp["x-amzn-ErrorType"] = self.code
        for name, value in self.headers.items():
            resp[name] = value
        return resp


def not_found(arn: str) -> AwsError:
    return resource_not_found(f"Function not found: {arn}")


def resource_not_found(message: str) -> AwsError:
    """404 ResourceNotFoundException in the operation's own words (an
    alias, a layer version, a URL); `not_found` for a function."""
    return AwsError(404, "ResourceNotFoundException", message)


def invalid_parameter(message: str) -> AwsError:
    return AwsError(400, "InvalidParameterValueException", message)


def conflict(message: str) -> AwsError:
    return AwsError(409, "ResourceConflictException", message)


def invalid_content(detail: str) -> AwsError:
    return AwsError(
        400, "InvalidRequestContentException", f"Could not parse request body into json: {detail}"
    )


def too_large(limit: int, what: str) -> AwsError:
    return AwsError(
        413, "RequestTooLargeException", f"Request must be smaller than {limit} bytes for {what}."
    )


def too_many_requests(
    message: str = "Rate Exceeded.",
    reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded",
    retry_after_s: int = 1,
) -> AwsError:
    """Lambda's throttle: 429 with a Reason, and Retry-After for clients
    that back off on it."""
    err = AwsError(429, "TooManyRequestsException", message, Reason=reason)
    err.headers["Retry-After"] = str(retry_after_s)
    return err


def access_denied(message: str) -> AwsError:
    return AwsError(403, "AccessDeniedException", message)


def precondition_failed(message: str) -> AwsError:
    return AwsError(412, "PreconditionFailedException", message)


def signature_error(code: str, message: str) -> AwsError:
    return AwsError(403, code, message)


def service_error(message: str) -> AwsError:
    return AwsError(500, "ServiceException", message, sender="Service")


def unknown_operation(method: str, path: str) -> AwsError:
    return AwsError(
        404,
        "UnknownOperationException",
        f"Stratus does not support {method} {path} of the Lambda API.",
    )
