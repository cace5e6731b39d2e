"""Scalar values on the wire, both ways: timestamps, booleans, numbers, blobs.

Rules are botocore's (`botocore/serialize.py` and `botocore/parsers.py`),
read in the mirror: what the client writes we read, what it reads we write.
Timestamp defaults by place (botocore's `TIMESTAMP_FORMAT` per serializer
and `_timestamp_*`): JSON bodies `unixtimestamp`, XML bodies and query
strings `iso8601`, headers `rfc822`; a shape's `timestampFormat` wins."""

from __future__ import annotations

import base64
import binascii
import calendar
import email.utils
import json
from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape
from botocore.utils import parse_timestamp

from .messages import MalformedRequest

DEFAULT_TIMESTAMP = {"body-json": "unixtimestamp", "body-xml": "iso8601", "querystring": "iso8601",
                     "header": "rfc822", "query": "iso8601"}


def timestamp_in(value: Any) -> datetime:
    """A timestamp in any of the wire forms (epoch number, ISO 8601, RFC 822)
    -> an aware UTC datetime, as boto3 gives timestamps to its callers."""
    try:
        return parse_timestamp(value).astimezone(UTC)
    except (ValueError, TypeError, OverflowError, OSError, RuntimeError) as exc:
        # botocore raises RuntimeError for epoch seconds no datetime can hold
        # ("Unable to calculate correct timezone offset"): the caller's value.
        raise MalformedRequest("SerializationException", f"Invalid timestamp: {value!r}") from exc


def timestamp_out(value: Any, shape: Shape, place: str) -> str | float | int:
    """A datetime (naive means UTC), an epoch number or a timestamp string ->
    the wire form for `place` ("body-json", "body-xml", "header", "querystring")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        value = parse_timestamp(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    fmt = shape.serialization.get("timestampFormat") or DEFAULT_TIMESTAMP[place]
    if fmt == "unixtimestamp":
        seconds = calendar.timegm(value.timetuple()) + value.microsecond / 1e6
        return int(seconds) if seconds == int(seconds) else round(seconds, 3)
    if fmt == "rfc822":
        return email.utils.formatdate(calendar.timegm(value.timetuple()), usegmt=True)
    # iso8601 with milliseconds, as S3 and the query services write it.
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def boolean_in(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "false"):
        return text == "true"
    raise MalformedRequest("SerializationException", f"Invalid boolean: {value!r}")


def number_in(value: Any, shape: Shape) -> int | float:
    if isinstance(value, bool):
        raise MalformedRequest("SerializationException", f"Invalid number: {value!r}")
    try:
        if shape.type_name in ("integer", "long"):
            return int(value)
        return float(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise MalformedRequest("SerializationException", f"Invalid number: {value!r}") from exc


def blob_in(value: Any) -> bytes:
    """A base64 blob (JSON, query and XML bodies) -> bytes."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise MalformedRequest("SerializationException", "Invalid base64 blob") from exc


def blob_out(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


def scalar_text_in(shape: Shape, text: str) -> Any:
    """A scalar member written as text (query string, header, URI label, XML)
    -> its Python value."""
    kind = shape.type_name
    if kind == "boolean":
        return boolean_in(text)
    if kind in ("integer", "long", "float", "double"):
        return number_in(text, shape)
    if kind == "timestamp":
        return timestamp_in(text)
    if kind == "blob":
        return blob_in(text)
    return text


def scalar_text_out(shape: Shape, value: Any, place: str) -> str:
    """A scalar -> its text on the wire (headers, XML, query strings)."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(timestamp_out(value, shape, place))
    if kind == "blob":
        return blob_out(value)
    if kind in ("float", "double") and isinstance(value, float) and value == int(value):
        return str(value)
    return str(value)


def json_value_header_in(text: str) -> Any:
    """A string header with the `jsonvalue` trait: base64 of a JSON document
    (botocore `_serialize_header`/`is_json_value_header`)."""
    try:
        return json.loads(base64.b64decode(text))
    except (ValueError, binascii.Error) as exc:
        raise MalformedRequest("SerializationException", "Invalid JSON header value") from exc


def json_value_header_out(value: Any) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
