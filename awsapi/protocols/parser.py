"""Requests -> the operation's input as a plain dict, shaped as boto3's
parameters (blobs as bytes, timestamps as aware UTC datetimes).

Each protocol is read as botocore's client serializer
(`botocore/serialize.py`) writes it:
- json (awsJson 1.0/1.1): the body is a JSON object; blobs base64, timestamps
  epoch seconds (`JSONSerializer`).
- query: `Name.member.N`, flattened `Name.N` (or the member's own name),
  maps `Name.entry.N.key/value`, nested structures `A.B`, in the query string
  or a form body (`QuerySerializer`).
- rest-json / rest-xml: members located in the URI, query string, headers
  (including prefix maps like `x-amz-meta-`), then a payload member (raw
  blob/string, or a JSON/XML document) or the remaining members as the body
  (`BaseRestSerializer`, `RestJSONSerializer`, `RestXMLSerializer`)."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

from botocore.model import OperationModel, Shape

from awsapi.jsontext import PAYLOAD_MAX_DEPTH, deeper_than, not_text, unpaired_surrogate_at

from .messages import AwsRequest, MalformedRequest
from .scalars import (
    blob_in,
    boolean_in,
    json_value_header_in,
    number_in,
    scalar_text_in,
    timestamp_in,
)
from .uris import compile_uri

# What a body that does not parse is called, per protocol (AWS's codes).
_MALFORMED = {
    "json": "SerializationException",
    "rest-json": "SerializationException",
    "query": "MalformedQueryString",
    "rest-xml": "MalformedXML",
}
# What a query-protocol service calls a numbered member that is missing or
# out of order (a map entry without its Name, entry.1 then entry.3).
_INVALID_PARAMETER = {"sns": "InvalidParameter", "sqs": "InvalidParameterValue"}


# Conditional headers a recipient ignores when they are not a valid
# HTTP-date (RFC 9110 13.1.3/13.1.4), as S3 does: the request is answered as
# if it had none.
IGNORED_IF_INVALID = frozenset({"if-modified-since", "if-unmodified-since"})


class _BadQueryMember(MalformedRequest):
    """A query parameter that parses but does not make a member (an entry
    without its key, a gap in the numbering): the service's own code."""


def parse_request(
    operation: OperationModel,
    request: AwsRequest,
    protocol: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`request` -> `{member: value}` for `operation`'s input shape.

    `protocol` defaults to the model's (pass "query" for SQS's query dialect);
    `labels` are the URI labels the router found (recomputed when absent).
    Raises `MalformedRequest` (the protocol's code, 400) for a body that does
    not parse or a value of the wrong type (JSON: `SerializationException`
    naming the member path); query members without their key or numbered
    with a gap get the service's own code (SNS `InvalidParameter`, SQS
    `InvalidParameterValue`)."""
    protocol = protocol or operation.metadata["protocol"]
    shape = operation.input_shape
    if shape is None:
        return {}
    try:
        if protocol == "json":
            return _json_in(shape, _json_body(request.body)) if request.body.strip() else {}
        if protocol == "query":
            _refuse_invalid_text(request.form_pairs)
            return _query_in(shape, _query_tree(request.form_pairs))
        if protocol in ("rest-json", "rest-xml"):
            return _rest_in(operation, shape, request, protocol, labels)
    except _BadQueryMember as exc:
        service = operation.service_model.endpoint_prefix
        raise MalformedRequest(_INVALID_PARAMETER.get(service, _MALFORMED[protocol]), exc.message) from exc
    except MalformedRequest as exc:
        raise MalformedRequest(_MALFORMED[protocol], exc.message) from exc
    raise ValueError(f"unsupported protocol {protocol}")


# Deeper than any AWS JSON request (DynamoDB's 32 levels of lists and maps
# are about 70 JSON levels with the request around them).
MAX_JSON_DEPTH = PAYLOAD_MAX_DEPTH


def _json_body(body: bytes) -> Any:
    """The JSON value of a body; SerializationException when it does not
    parse, nests deeper than MAX_JSON_DEPTH, or holds a string that is not
    Unicode text."""
    # A fixed limit, not Python's recursion limit: reading the value by
    # its shape (_json_in) recurses once per level, on any thread's stack.
    if deeper_than(body, MAX_JSON_DEPTH):
        raise MalformedRequest(
            "SerializationException", f"Body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels."
        )
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise MalformedRequest("SerializationException", f"Body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedRequest("SerializationException", "Body is nested too deeply to read.") from exc
    if _MAYBE_SURROGATE.search(body):
        where = unpaired_surrogate_at(value)
        if where is not None:
            raise MalformedRequest("SerializationException", _not_text(where))
    return value


# Python's json reads a surrogate code point from a "\ud800" escape, or from
# its UTF-8-like bytes (ED A0 80: json decodes with "surrogatepass"): such a
# string is no Unicode text, so no database, log or answer could hold it.
# Only a body with one of these can carry one (the full check is a walk).
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _not_text(where: str) -> str:
    return (
        f"Invalid UTF-8 text at '{where}': it holds an unpaired surrogate (\\ud800-\\udfff) "
        "or bytes that are not UTF-8; send strings as valid Unicode."
    )


def _refuse_invalid_text(pairs: list[tuple[str, str]]) -> None:
    """A query parameter whose name or value is not UTF-8 (AwsRequest keeps
    such bytes as lone surrogates) is refused with the service's invalid
    parameter code, naming the parameter."""
    for name, value in pairs:
        if not_text(name) or not_text(value):
            shown = name.encode("utf-8", "backslashreplace").decode("utf-8")
            raise _BadQueryMember("MalformedQueryString", _not_text(shown))


# Integer ranges of the model's integer types (Smithy: 32 and 64 bits).
_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# What each model type is called in a wrong-type message.
_EXPECTED = {
    "structure": "an object", "map": "an object", "list": "an array", "string": "a string",
    "blob": "a base64 string", "boolean": "true or false", "timestamp": "a timestamp",
    "integer": "a whole number", "long": "a whole number", "float": "a number", "double": "a number",
}


def _found(value: Any) -> str:
    """The JSON token `value` starts with, in the words of AWS's JSON
    services ("Start of structure or map found where not expected.")."""
    if value is None:
        return "Null value"
    if isinstance(value, dict):
        return "Start of structure or map"
    if isinstance(value, list):
        return "Start of list"
    if isinstance(value, bool):
        return "Boolean value"
    if isinstance(value, (int, float)):
        return "Number value"
    return "String value"


def _wrong_type(shape: Shape, value: Any, where: str) -> MalformedRequest:
    return MalformedRequest(
        "SerializationException",
        f"{_found(value)} found where not expected: '{where}' must be "
        f"{_EXPECTED.get(shape.type_name, 'a ' + shape.type_name)}.",
    )


def _json_in(shape: Shape, value: Any, where: str = "") -> Any:
    """A JSON value -> Python, by shape (botocore `JSONSerializer` in reverse).

    `where` is the member path for messages ("Entries.1.Id"). A top-level
    member that is null counts as not given (as botocore never sends it);
    a null inside a list or map, or a value of the wrong JSON type, is a
    SerializationException (400), as AWS's JSON services answer."""
    kind = shape.type_name
    if value is None:
        raise _wrong_type(shape, value, where or shape.name)
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        if not isinstance(value, dict):
            raise _wrong_type(shape, value, where or shape.name)
        parsed = {}
        for name, member in shape.members.items():
            if "location" in member.serialization:
                continue
            key = member.serialization.get("name", name)
            if key in value and value[key] is not None:
                parsed[name] = _json_in(member, value[key], f"{where}.{key}" if where else key)
        return parsed
    if kind == "list":
        if not isinstance(value, list):
            raise _wrong_type(shape, value, where or shape.name)
        return [_json_in(shape.member, item, f"{where}.{i}") for i, item in enumerate(value, 1)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _wrong_type(shape, value, where or shape.name)
        return {k: _json_in(shape.value, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (dict, list)):
        raise _wrong_type(shape, value, where or shape.name)
    if kind in ("string", "blob") and not isinstance(value, str):
        raise _wrong_type(shape, value, where or shape.name)
    if kind == "blob":
        return blob_in(value)
    if kind == "timestamp":
        if isinstance(value, bool):
            raise _wrong_type(shape, value, where or shape.name)
        return timestamp_in(value)
    if kind == "boolean":
        return boolean_in(value)
    if kind in ("integer", "long", "float", "double"):
        number = number_in(value, shape)
        low, high = _INT_RANGE.get(kind, (None, None))
        if low is not None and not low <= number <= high:
            raise MalformedRequest(
                "SerializationException",
                f"Number value out of range: '{where or shape.name}' must be from {low} to {high}.",
            )
        return number
    return value


# -- query -----------------------------------------------------------------

def _query_tree(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`[("A.member.1.B", "x")]` -> `{"A": {"member": {"1": {"B": "x"}}}}`,
    without Action and Version."""
    tree: dict[str, Any] = {}
    for key, value in pairs:
        if key in ("Action", "Version"):
            continue
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(last), dict):
            node[last] = value
    return tree


def _numbered(node: Any, where: str) -> list[Any]:
    """The children of `{"1": a, "2": b}` in number order; "" is an empty
    list. Numbers run 1, 2, 3... as botocore writes them: a gap is refused
    rather than read as a shorter or reordered list."""
    if not isinstance(node, dict):
        return []
    try:
        numbers = sorted(int(k) for k in node)
    except ValueError as exc:
        raise MalformedRequest("MalformedQueryString", f"Expected numbered members: {list(node)}") from exc
    if numbers != list(range(1, len(numbers) + 1)) or len(numbers) != len(node):
        missing = next(n for n in range(1, len(numbers) + 2) if n not in numbers)
        raise _BadQueryMember(
            "InvalidParameter",
            f"Invalid parameter: {where}.{missing} is missing; members are numbered from 1 without gaps "
            f"(got {', '.join(sorted(node, key=lambda k: (len(k), k)))}).",
        )
    return [node[k] for k in sorted(node, key=int)]


def _query_key(name: str, member: Shape) -> str:
    # A flattened list whose member has a name is written under that name
    # (botocore QuerySerializer._serialize_type_list).
    if member.type_name == "list" and member.serialization.get("flattened"):
        member_name = member.member.serialization.get("name")
        if member_name:
            return member_name
    return member.serialization.get("name", name)


def _query_in(shape: Shape, node: Any, where: str = "") -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(node, dict):
            return {}
        parsed = {}
        for name, member in shape.members.items():
            key = _query_key(name, member)
            if key in node:
                parsed[name] = _query_in(member, node[key], f"{where}.{key}" if where else key)
        return parsed
    if kind == "list":
        if not shape.serialization.get("flattened"):
            member_name = shape.member.serialization.get("name", "member")
            node = node.get(member_name) if isinstance(node, dict) else None
            where = f"{where}.{member_name}"
        items = _numbered(node, where)
        return [_query_in(shape.member, item, f"{where}.{i}") for i, item in enumerate(items, 1)]
    if kind == "map":
        if not shape.serialization.get("flattened"):
            node = node.get("entry") if isinstance(node, dict) else None
            where = f"{where}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        parsed = {}
        for i, entry in enumerate(_numbered(node, where), 1):
            key = entry.get(key_name) if isinstance(entry, dict) else None
            if not isinstance(key, str) or key == "":
                # An entry without its key would be dropped, or stored under
                # nothing: AWS refuses it (SNS: InvalidParameter).
                raise _BadQueryMember(
                    "InvalidParameter", f"Invalid parameter: {where}.{i}.{key_name} is missing or empty."
                )
            parsed[key] = _query_in(shape.value, entry.get(value_name, ""), f"{where}.{i}.{value_name}")
        return parsed
    if isinstance(node, dict):
        raise MalformedRequest("MalformedQueryString", f"Expected a value for {shape.name}")
    return scalar_text_in(shape, node)


# -- rest ------------------------------------------------------------------

def _rest_in(
    operation: OperationModel,
    shape: Shape,
    request: AwsRequest,
    protocol: str,
    labels: dict[str, str] | None,
) -> dict[str, Any]:
    if labels is None:
        labels = compile_uri(operation.http["requestUri"]).match(request.path, request.query_dict) or {}
    query = request.query_dict
    claimed = set()
    parsed: dict[str, Any] = {}
    for name, member in shape.members.items():
        ser = member.serialization
        where, key = ser.get("location"), ser.get("name", name)
        if where == "uri" and key in labels:
            parsed[name] = scalar_text_in(member, labels[key])
        elif where == "querystring" and member.type_name != "map":
            claimed.add(key)
            if key in query:
                values = query[key]
                parsed[name] = (
                    [scalar_text_in(member.member, v) for v in values]
                    if member.type_name == "list" else scalar_text_in(member, values[0])
                )
        elif where == "header":
            value = request.header(key)
            if value is not None:
                try:
                    parsed[name] = _header_in(member, value)
                except MalformedRequest:
                    if key.lower() not in IGNORED_IF_INVALID:
                        raise
        elif where == "headers":
            prefix = key.lower()
            found = {h[len(prefix):]: v for h, v in request.headers.items() if h.startswith(prefix)}
            if found:
                parsed[name] = found
    for name, member in shape.members.items():
        # A query-string map takes every parameter no other member claimed
        # (botocore serializes a map member as its own key/value pairs).
        if member.serialization.get("location") == "querystring" and member.type_name == "map":
            rest = {k: v for k, v in query.items() if k not in claimed}
            if rest:
                many = member.value.type_name == "list"
                parsed[name] = {k: v if many else v[0] for k, v in rest.items()}
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        if member.type_name in ("blob", "string"):
            if request.body:
                parsed[payload] = (
                    request.body if member.type_name == "blob" else _text_payload(request.body, protocol)
                )
        elif request.body.strip():
            value = _body_in(member, request.body, protocol)
            if value is not None:
                parsed[payload] = value
    elif request.body.strip() and any("location" not in m.serialization for m in shape.members.values()):
        parsed.update(_body_in(shape, request.body, protocol))
    return parsed


def _header_in(shape: Shape, value: str) -> Any:
    kind = shape.type_name
    if kind == "list":
        # Comma-separated, as RFC 9110 joins repeated headers.
        return [scalar_text_in(shape.member, v.strip()) for v in value.split(",")]
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return json_value_header_in(value)
    if kind == "timestamp":
        return timestamp_in(value)
    return scalar_text_in(shape, value.strip() if kind != "string" else value)


def _text_payload(body: bytes, protocol: str) -> str:
    """A string payload (S3's PutBucketPolicy, ...): UTF-8 text, or the
    protocol's malformed-body error."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if protocol == "rest-json":
            raise MalformedRequest("SerializationException", "Body is not valid UTF-8 text.") from exc
        raise MalformedRequest(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ) from exc


def _body_in(shape: Shape, body: bytes, protocol: str) -> Any:
    if protocol == "rest-json":
        return _json_in(shape, _json_body(body))
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise MalformedRequest(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ) from exc
    return _xml_in(shape, root)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def xml_member_name(name: str, member: Shape) -> str:
    """The element name of a structure member in XML: a flattened list whose
    member has a name repeats under that name (botocore `_member_key_name`)."""
    return _query_key(name, member)


def _xml_in(shape: Shape, element: ElementTree.Element) -> Any:
    """An XML element -> Python, by shape (botocore `RestXMLSerializer` in reverse)."""
    kind = shape.type_name
    if kind == "structure":
        children: dict[str, list[ElementTree.Element]] = {}
        for child in element:
            children.setdefault(_local(child.tag), []).append(child)
        parsed = {}
        for name, member in shape.members.items():
            ser = member.serialization
            if "location" in ser:
                continue
            key = xml_member_name(name, member)
            if ser.get("xmlAttribute"):
                local = key.rpartition(":")[2]
                for attr, value in element.attrib.items():
                    if _local(attr) == local:
                        parsed[name] = scalar_text_in(member, value)
                continue
            found = children.get(key)
            if not found:
                continue
            if member.type_name in ("list", "map") and ser.get("flattened"):
                parsed[name] = _xml_flat_in(member, found)
            else:
                parsed[name] = _xml_in(member, found[0])
        return parsed
    if kind == "list":
        member_name = shape.member.serialization.get("name", "member")
        return [_xml_in(shape.member, c) for c in element if _local(c.tag) == member_name]
    if kind == "map":
        return _xml_flat_in(shape, [c for c in element if _local(c.tag) == "entry"])
    return scalar_text_in(shape, element.text or "")


def _xml_flat_in(shape: Shape, elements: list[ElementTree.Element]) -> Any:
    if shape.type_name == "list":
        return [_xml_in(shape.member, e) for e in elements]
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    parsed = {}
    for entry in elements:
        parts = {_local(c.tag): c for c in entry}
        if key_name in parts:
            value = parts.get(value_name)
            parsed[parts[key_name].text or ""] = _xml_in(shape.value, value) if value is not None else ""
    return parsed
