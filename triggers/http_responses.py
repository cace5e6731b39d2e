"""The function's result turned into an HTTP response, as API Gateway's
HTTP APIs do for payload format 2.0."""

import base64
import binascii
import re
import json

from django.http import HttpResponse

from invocations.done import Done

# Headers the server sets itself; a function's values would corrupt framing.
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"}


class BadFunctionResponse(ValueError):
    """The handler returned a statusCode dict API Gateway could not use."""


# RFC 9110: a field name is a token; a value is visible characters, spaces
# and tabs (no CR or LF, which would end the header).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _set_header(response: HttpResponse, name, value: str) -> None:
    name = str(name)
    if not _HEADER_NAME.fullmatch(name):
        raise BadFunctionResponse(f"header name {name!r} is not an HTTP token")
    if not _HEADER_VALUE.fullmatch(value):
        raise BadFunctionResponse(f"the value of header {name} holds a line break or a control character")
    response[name] = value


def json_message(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"message": message}), status=status, content_type="application/json"
    )


def from_done(done: Done) -> HttpResponse | None:
    """A succeeded call's result mapped (from_result), or None when the
    call failed or answered what cannot be mapped: the caller's own error
    answer then (an HTTP API's 500, a function URL's 502)."""
    if done.status != "succeeded":
        return None
    try:
        return from_result(done.result)
    except BadFunctionResponse:
        return None


def from_result(result_text: str | None) -> HttpResponse:
    """A dict with statusCode maps field by field; any other value becomes
    a 200 JSON body of the value itself. So a handler returning the string
    "hello" answers the JSON text `"hello"` (quotes included), as AWS
    documents for function URLs ("Lambda infers the response format":
    statusCode 200, content-type application/json, body the function's
    response; its example: "Hello, world!" is sent as `"Hello, world!"`,
    content-length 15)."""
    try:
        value = json.loads(result_text) if result_text else None
    except ValueError:
        value = result_text
    if not (isinstance(value, dict) and "statusCode" in value):
        body = result_text if result_text is not None else "null"
        return HttpResponse(body, status=200, content_type="application/json")
    return _from_proxy_dict(value)


def _from_proxy_dict(value: dict) -> HttpResponse:
    try:
        status = int(value["statusCode"])
    except (TypeError, ValueError):
        raise BadFunctionResponse("statusCode is not a number") from None
    if not 100 <= status <= 599:
        raise BadFunctionResponse(f"statusCode {status} is out of range")
    body = value.get("body", "")
    if body is None:
        body = ""
    if not isinstance(body, str):
        body = json.dumps(body)
    if value.get("isBase64Encoded"):
        try:
            content: bytes = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadFunctionResponse("body is not valid base64") from None
    else:
        content = body.encode()
    headers = value.get("headers") or {}
    multi = value.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise BadFunctionResponse("headers must be an object")
    response = HttpResponse(content, status=status)
    # Django would add text/html; API Gateway's default is JSON.
    response["Content-Type"] = "application/json"
    for name, values in multi.items():
        if str(name).lower() in _HOP_BY_HOP:
            continue
        items = values if isinstance(values, list) else [values]
        _set_header(response, name, ",".join(str(v) for v in items))
    for name, header_value in headers.items():
        if str(name).lower() in _HOP_BY_HOP:
            continue
        _set_header(response, name, str(header_value))
    cookies = value.get("cookies") or []
    if not isinstance(cookies, list):
        raise BadFunctionResponse("cookies must be a list")
    if cookies:
        # Several Set-Cookie headers; Django keeps them apart only through
        # its cookie jar, so parse each one into it.
        from http.cookies import SimpleCookie

        for raw in cookies:
            jar = SimpleCookie()
            jar.load(str(raw))
            for morsel in jar.values():
                response.cookies[morsel.key] = morsel
    return response
