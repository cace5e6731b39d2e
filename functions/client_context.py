"""Invoke's ClientContext (the X-Amz-Client-Context header).

Lambda's rule (API reference, Invoke): "Up to 3,583 bytes of base64-encoded
data about the invoking client to pass to the function in the context
object"; the data is a JSON object (the mobile SDKs' `client`, `custom`,
`env`). Anything else is a 400 InvalidRequestContentException with
Lambda's message "Client context must be a valid Base64-encoded JSON
object." The runtimes get the decoded JSON text: Python's
`context.client_context` (.client, .custom, .env), Node's
`context.clientContext`, a custom runtime's `Lambda-Runtime-Client-Context`
header (the invoke frame's `clientContext`)."""

from __future__ import annotations

import base64
import binascii
import json

from awsapi import errors

MAX_BYTES = 3583  # Lambda: the base64 text's size
NOT_VALID = "Client context must be a valid Base64-encoded JSON object."


def decode(header: str | None) -> str:
    """The JSON text of a base64 ClientContext ("" when there is none).
    AwsError 400 InvalidRequestContentException when it is longer than
    MAX_BYTES, not base64, not UTF-8 or not a JSON object."""
    if not header:
        return ""
    if len(header.encode()) > MAX_BYTES:
        raise errors.AwsError(
            400, "InvalidRequestContentException",
            f"Client context must be at most {MAX_BYTES} bytes of base64-encoded data; "
            f"it was {len(header.encode())}.",
        )
    try:
        text = base64.b64decode(header, validate=True).decode("utf-8")
        value = json.loads(text)
    except (binascii.Error, ValueError):
        raise errors.AwsError(400, "InvalidRequestContentException", NOT_VALID) from None
    if not isinstance(value, dict):
        raise errors.AwsError(400, "InvalidRequestContentException", NOT_VALID)
    return text
