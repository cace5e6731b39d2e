"""Operation outputs and errors -> HTTP responses, per protocol.

Each protocol is written as botocore's client parsers (`botocore/parsers.py`)
read it, so boto3 sees the same dict:
- json: a JSON object, `Content-Type: application/x-amz-json-1.0|1.1`;
  errors `{"__type": code, "message": ...}` (`BaseJSONParser._do_error_parse`),
  plus `x-amzn-query-error: <code>;Sender` for query-compatible services.
- query: `<OpResponse><OpResult>...</OpResult><ResponseMetadata><RequestId>`
  (`QueryParser`, `resultWrapper`); errors `<ErrorResponse><Error><Type>
  <Code><Message></Error><RequestId>`.
- rest-json / rest-xml: header and status-code members, then a payload
  member (raw bytes, or a document) or the remaining members as a JSON
  object / an XML document (`BaseRestParser`); errors: rest-json
  `x-amzn-ErrorType` + `{"Type", "message"}` (`RestJSONParser._inject_error_code`),
  S3 `<Error><Code><Message><RequestId>`, other rest-xml `<ErrorResponse>`."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from botocore.model import OperationModel, ServiceModel, Shape

from .messages import AwsResponse, error_parts, new_request_id
from .parser import xml_member_name
from .scalars import blob_out, json_value_header_out, scalar_text_out, timestamp_out

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def serialise_response(
    operation: OperationModel,
    output: dict[str, Any] | None,
    protocol: str | None = None,
    request_id: str | None = None,
) -> AwsResponse:
    """`output` (a dict shaped as boto3 returns it, unknown keys ignored) ->
    the response for `operation` in `protocol` (default: the model's).

    Timestamps may be datetimes (naive = UTC), epoch numbers or ISO strings;
    blobs bytes or str. A streamed blob payload (S3 GetObject's Body) may be
    any object, passed through as the body untouched."""
    protocol = protocol or operation.metadata["protocol"]
    request_id = request_id or new_request_id()
    output = output or {}
    shape = operation.output_shape
    if protocol == "json":
        body = _json_out(shape, output) if shape is not None else {}
        return AwsResponse(200, _json_headers(operation.service_model, request_id), _dumps(body))
    if protocol == "query":
        return _query_response(operation, shape, output, request_id)
    if protocol in ("rest-json", "rest-xml"):
        return _rest_response(operation, shape, output, protocol, request_id)
    raise ValueError(f"unsupported protocol {protocol}")


def serialise_error(
    service: ServiceModel | None,
    error: BaseException,
    protocol: str | None = None,
    request_id: str | None = None,
    method: str = "POST",
) -> AwsResponse:
    """`error` (a `ServiceError`, or anything with code/message/status) -> the
    protocol's error response. Members of the service's modeled error shape
    for the code (S3's `Key`, Lambda's `Reason` and `Retry-After`) are taken
    from the error's `fields`. A HEAD gets no body, as S3 sends none."""
    protocol = protocol or (service.protocol if service else "json")
    request_id = request_id or new_request_id()
    code, message, status, sender_fault, fields, query_code = error_parts(error)
    shape = _error_shape(service, code)
    namespace = service.metadata.get("xmlNamespace") if service else None
    if protocol == "json":
        headers = _json_headers(service, request_id)
        if service is not None and "awsQueryCompatible" in service.metadata and query_code:
            headers["x-amzn-query-error"] = f"{query_code};{'Sender' if sender_fault else 'Receiver'}"
        body = {"__type": code, "message": message, **_json_fields(shape, fields)}
        return AwsResponse(status, headers, _dumps(body))
    if protocol == "rest-json":
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id,
                   "x-amzn-ErrorType": code}
        body_fields = _json_fields(shape, fields)
        if shape is not None:
            _headers_out(shape, fields, headers)
        body = {"Type": "User" if sender_fault else "Service", "message": message, **body_fields}
        return AwsResponse(status, headers, b"" if method == "HEAD" else _dumps(body))
    headers = {"Content-Type": "text/xml" if protocol == "query" else "application/xml"}
    s3_style = protocol == "rest-xml" and service is not None and service.metadata.get("serviceId") == "S3"
    if s3_style:
        headers.update({"x-amz-request-id": request_id, "x-amz-id-2": request_id})
        root = error_node = ElementTree.Element("Error")
    else:
        headers["x-amzn-RequestId"] = request_id
        root = ElementTree.Element("ErrorResponse")
        if namespace:
            root.set("xmlns", namespace)
        error_node = ElementTree.SubElement(root, "Error")
        ElementTree.SubElement(error_node, "Type").text = "Sender" if sender_fault else "Receiver"
    code_text = query_code if protocol == "query" and query_code else code
    ElementTree.SubElement(error_node, "Code").text = code_text
    ElementTree.SubElement(error_node, "Message").text = message
    members = shape.members if shape is not None else {}
    for name, value in fields.items():
        # Unmodeled fields S3 sends anyway (Key, BucketName, Condition...).
        if name not in members and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            ElementTree.SubElement(error_node, name).text = str(value)
    if shape is not None:
        _xml_members_out(shape, fields, error_node, skip={"Code", "Message", "message"})
        _headers_out(shape, fields, headers)
    ElementTree.SubElement(root, "RequestId").text = request_id
    return AwsResponse(status, headers, b"" if method == "HEAD" else _xml_bytes(root))


# -- json ------------------------------------------------------------------

def _dumps(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a message quoting the caller's "\ud800"): JSON's
        # own escapes carry it.
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _json_headers(service: ServiceModel | None, request_id: str) -> dict[str, str]:
    version = service.metadata.get("jsonVersion", "1.0") if service else "1.0"
    return {"Content-Type": f"application/x-amz-json-{version}", "x-amzn-RequestId": request_id}


def _json_out(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        out = {}
        for name, member in shape.members.items():
            if "location" in member.serialization:
                continue
            item = value.get(name)
            if item is not None:
                out[member.serialization.get("name", name)] = _json_out(member, item)
        return out
    if kind == "list":
        return [_json_out(shape.member, item) for item in value]
    if kind == "map":
        return {str(k): _json_out(shape.value, v) for k, v in value.items()}
    if kind == "blob":
        return blob_out(value)
    if kind == "timestamp":
        return timestamp_out(value, shape, "body-json")
    return value


def _json_fields(shape: Shape | None, fields: dict[str, Any]) -> dict[str, Any]:
    """An error's fields for a JSON body: modeled body members as the model
    says, unmodeled plain values as they are (AWS adds some, as S3 does)."""
    members = shape.members if shape is not None else {}
    out = {k: v for k, v in fields.items()
           if k not in members and isinstance(v, (str, int, float, bool, list, dict))}
    if shape is not None:
        out.update(_json_out(shape, fields))
    return out


def _error_shape(service: ServiceModel | None, code: str) -> Shape | None:
    if service is None:
        return None
    return service.shape_for_error_code(code)


# -- xml -------------------------------------------------------------------

def _xml_bytes(root: ElementTree.Element) -> bytes:
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _set_namespace(element: ElementTree.Element, shape: Shape) -> None:
    namespace = shape.serialization.get("xmlNamespace")
    if isinstance(namespace, dict):
        prefix = namespace.get("prefix")
        element.set(f"xmlns:{prefix}" if prefix else "xmlns", namespace["uri"])


def _xml_out(shape: Shape, value: Any, parent: ElementTree.Element, name: str) -> None:
    """Append `value` under `parent` as element(s) named `name` (botocore
    `BaseXMLResponseParser` in reverse: lists under `member` unless
    flattened, maps as `entry` key/value pairs)."""
    kind = shape.type_name
    if kind == "structure":
        element = ElementTree.SubElement(parent, name)
        _set_namespace(element, shape)
        _xml_members_out(shape, value, element)
    elif kind == "list":
        if shape.serialization.get("flattened"):
            for item in value:
                _xml_out(shape.member, item, parent, name)
        else:
            element = ElementTree.SubElement(parent, name)
            member_name = shape.member.serialization.get("name", "member")
            for item in value:
                _xml_out(shape.member, item, element, member_name)
    elif kind == "map":
        flat = shape.serialization.get("flattened")
        holder = parent if flat else ElementTree.SubElement(parent, name)
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        for key, item in value.items():
            entry = ElementTree.SubElement(holder, name if flat else "entry")
            ElementTree.SubElement(entry, key_name).text = str(key)
            _xml_out(shape.value, item, entry, value_name)
    else:
        ElementTree.SubElement(parent, name).text = scalar_text_out(shape, value, "body-xml")


def _xml_members_out(
    shape: Shape, value: dict[str, Any], element: ElementTree.Element, skip: frozenset | set = frozenset()
) -> None:
    for member_name, member in shape.members.items():
        item = value.get(member_name)
        if item is None or member_name in skip or "location" in member.serialization:
            continue
        key = xml_member_name(member_name, member)
        if member.serialization.get("xmlAttribute"):
            namespace = member.serialization.get("xmlNamespace")
            if isinstance(namespace, dict) and namespace.get("prefix"):
                element.set(f"xmlns:{namespace['prefix']}", namespace["uri"])
            element.set(key, scalar_text_out(member, item, "body-xml"))
        else:
            _xml_out(member, item, element, key)


def _query_response(
    operation: OperationModel, shape: Shape | None, output: dict[str, Any], request_id: str
) -> AwsResponse:
    root = ElementTree.Element(f"{operation.name}Response")
    namespace = operation.service_model.metadata.get("xmlNamespace")
    if namespace:
        root.set("xmlns", namespace)
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{operation.name}Result")
        result = ElementTree.SubElement(root, wrapper)
        _xml_members_out(shape, output, result)
    metadata = ElementTree.SubElement(root, "ResponseMetadata")
    ElementTree.SubElement(metadata, "RequestId").text = request_id
    return AwsResponse(200, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, _xml_bytes(root))


# -- rest ------------------------------------------------------------------

def _headers_out(shape: Shape, value: dict[str, Any], headers: dict[str, str]) -> None:
    for name, member in shape.members.items():
        item = value.get(name)
        ser = member.serialization
        if item is None or ser.get("location") not in ("header", "headers"):
            continue
        key = ser.get("name", name)
        if ser["location"] == "headers":
            for suffix, text in item.items():
                headers[f"{key}{suffix}"] = str(text)
        elif member.type_name == "list":
            headers[key] = ",".join(scalar_text_out(member.member, v, "header") for v in item)
        elif member.type_name == "string" and ser.get("jsonvalue"):
            headers[key] = json_value_header_out(item)
        else:
            headers[key] = scalar_text_out(member, item, "header")


def _rest_response(
    operation: OperationModel, shape: Shape | None, output: dict[str, Any], protocol: str, request_id: str
) -> AwsResponse:
    status = int(operation.http.get("responseCode", 200))
    if protocol == "rest-json":
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    else:
        headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
    if shape is None:
        return AwsResponse(status, headers, b"")
    _headers_out(shape, output, headers)
    for name, member in shape.members.items():
        if member.serialization.get("location") == "statusCode" and output.get(name) is not None:
            status = int(output[name])
    payload = shape.serialization.get("payload")
    body: Any = b""
    if operation.name == "GetBucketLocation" and operation.service_model.metadata.get("serviceId") == "S3":
        # S3's body is the bare element, empty for us-east-1; botocore reads
        # the root's text (its parse_get_bucket_location), not a wrapper.
        root = ElementTree.Element("LocationConstraint", xmlns=S3_NAMESPACE)
        root.text = output.get("LocationConstraint") or None
        body = _xml_bytes(root)
    elif payload:
        member, item = shape.members[payload], output.get(payload)
        if member.type_name in ("blob", "string"):
            body = item.encode("utf-8") if isinstance(item, str) else (b"" if item is None else item)
            if protocol == "rest-xml" and not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "binary/octet-stream"
        elif item is not None:
            body = _document(member, item, protocol, member.serialization.get("name", member.name), operation)
    elif any("location" not in m.serialization for m in shape.members.values()):
        if protocol == "rest-json":
            body = _dumps(_json_out(shape, output))
        elif any(output.get(n) is not None for n, m in shape.members.items()
                 if "location" not in m.serialization):
            body = _document(shape, output, protocol, shape.serialization.get("name", shape.name), operation)
    if protocol == "rest-xml" and body and isinstance(body, bytes) and "Content-Type" not in headers:
        headers["Content-Type"] = "application/xml"
    return AwsResponse(status, headers, body)


def _document(shape: Shape, value: Any, protocol: str, root_name: str, operation: OperationModel) -> bytes:
    if protocol == "rest-json":
        return _dumps(_json_out(shape, value))
    holder = ElementTree.Element("holder")
    _xml_out(shape, value, holder, root_name)
    root = holder[0]
    if "xmlns" not in root.attrib:
        namespace = operation.service_model.metadata.get("xmlNamespace")
        if operation.service_model.metadata.get("serviceId") == "S3":
            namespace = S3_NAMESPACE
        if isinstance(namespace, str):
            root.set("xmlns", namespace)
        elif isinstance(namespace, dict):
            root.set("xmlns", namespace["uri"])
    return _xml_bytes(root)
