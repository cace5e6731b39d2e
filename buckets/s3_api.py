"""S3's operations, as boto3's `s3` client and the AWS CLI call them
(path-style) through the AWS front door (awsapi.door): each handler is
named after the operation, takes the caller's context and the parsed
parameters and returns the output as boto3 shows it. PutObject's and
UploadPart's bodies arrive spooled to disk (`awsapi.spool.SpooledBody`);
GetObject's leaves as a `FileSlice` the door streams."""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import quote, unquote

from django.conf import settings
from django.db import IntegrityError

from awsapi import services
from awsapi.protocols import AwsRequest, ServiceError, load_service
from awsapi.spool import FileSlice, SpooledBody
from buckets import iam_resources, listing, multipart, notifications, objects, storage
from buckets.models import Bucket, Object
from buckets.s3_wire import (
    INT32_MAX,
    INTEGER_QUERY,
    SIGNATURE_CODES,
    check_key,
    check_metadata,
    invalid_argument,
    invalid_request,
    no_bucket,
    not_an_integer,
    not_implemented,
    not_modified,
    precondition_failed,
)

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")
MAX_DELETE_KEYS = 1000


def _seconds(when):
    """A time as S3 shows it in XML bodies (listings, copy results): whole
    seconds, ".000Z". The HTTP Last-Modified header has seconds only, and
    the AWS CLI's `s3 sync --exact-timestamps` compares one with the other."""
    return when.replace(microsecond=0) if when is not None else None


def _owner(context: services.Context) -> dict:
    return {"ID": context.team.account_id, "DisplayName": context.team.name}


def _bucket(context: services.Context, params: dict, *, cached: bool = False) -> Bucket:
    return objects.find_bucket(context.team, params.get("Bucket") or "", cached=cached)


def _requester(context: services.Context) -> notifications.Requester:
    return notifications.Requester(
        principal_id=f"AWS:{context.key.access_key_id}", source_ip=context.source_ip,
        request_id=context.request_id,
    )


def _headers_in(params: dict) -> objects.Headers:
    encoding = ",".join(
        e.strip() for e in (params.get("ContentEncoding") or "").split(",")
        if e.strip() and e.strip() != "aws-chunked"
    )
    return objects.Headers(
        content_type=params.get("ContentType") or "binary/octet-stream",
        content_encoding=encoding,
        content_disposition=params.get("ContentDisposition") or "",
        content_language=params.get("ContentLanguage") or "",
        cache_control=params.get("CacheControl") or "",
        expires=params.get("Expires"),
        metadata=check_metadata({k.lower(): v for k, v in (params.get("Metadata") or {}).items()}),
    )


def _headers_out(obj: Object) -> dict:
    return {
        "ETag": obj.etag, "LastModified": obj.last_modified, "ContentLength": obj.size,
        "ContentType": obj.content_type, "ContentEncoding": obj.content_encoding or None,
        "ContentDisposition": obj.content_disposition or None,
        "ContentLanguage": obj.content_language or None, "CacheControl": obj.cache_control or None,
        "Expires": obj.expires, "Metadata": obj.metadata or None, "AcceptRanges": "bytes",
    }


def _check_md5(params: dict, body: SpooledBody) -> None:
    given = params.get("ContentMD5")
    if given is None:
        return
    try:
        digest = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.",
                           fields={"Content-MD5": given})
    if digest.hex() != body.md5:
        raise ServiceError("BadDigest", "The Content-MD5 you specified did not match what we received.",
                           fields={"ExpectedDigest": given, "CalculatedDigest": base64.b64encode(
                               bytes.fromhex(body.md5)).decode()})


def _body(params: dict) -> SpooledBody:
    body = params.get("Body")
    if not isinstance(body, SpooledBody):  # the door always spools; this is our bug otherwise
        raise TypeError("PutObject's body was not spooled")
    return body


# Buckets ---------------------------------------------------------------------


def list_buckets(context: services.Context, params: dict) -> dict:
    query = Bucket.objects.filter(team=context.team).order_by("name")
    prefix = params.get("Prefix")
    if prefix:
        query = query.filter(name__startswith=prefix)
    if params.get("ContinuationToken") is not None:
        query = query.filter(name__gt=_bucket_after(params["ContinuationToken"]))
    limit = params.get("MaxBuckets") or 10000
    if not 1 <= limit <= 10000:
        raise invalid_argument("max-buckets must be between 1 and 10000", "max-buckets", limit)
    found = list(query[: limit + 1])
    output = {
        "Buckets": [{"Name": b.name, "CreationDate": b.created_at, "BucketRegion": context.region}
                    for b in found[:limit]],
        "Owner": _owner(context), "Prefix": prefix,
    }
    if len(found) > limit:
        output["ContinuationToken"] = _bucket_token(found[limit - 1].name)
    return output


def _bucket_token(after: str) -> str:
    """ListBuckets' ContinuationToken: opaque (S3: "obfuscated and is not a
    real bucket"), the last bucket name listed inside."""
    return base64.urlsafe_b64encode(json.dumps({"b": after}).encode()).decode()


def _bucket_after(token: str) -> str:
    """The bucket name a ContinuationToken continues after; a token ListBuckets
    did not issue is InvalidArgument, as S3 refuses it."""
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["b"]
        if isinstance(after, str):
            return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise invalid_argument("The continuation token provided is incorrect", "continuation-token", token)


def create_bucket(context: services.Context, params: dict) -> dict:
    wanted = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    if wanted and wanted != context.region:
        raise ServiceError(
            "IllegalLocationConstraintException",
            f"The {wanted} location constraint is incompatible for the region specific endpoint "
            f"this request was sent to ({context.region}).",
        )
    bucket = objects.create_bucket(context.team, params.get("Bucket") or "")
    return {"Location": f"/{bucket.name}"}


def head_bucket(context: services.Context, params: dict) -> dict:
    _bucket(context, params)
    return {"BucketRegion": context.region}


def get_bucket_location(context: services.Context, params: dict) -> dict:
    _bucket(context, params)
    # us-east-1 is an empty constraint, as S3 answers.
    return {"LocationConstraint": None if context.region == "us-east-1" else context.region}


def delete_bucket(context: services.Context, params: dict) -> dict:
    objects.delete_bucket(context.team, params.get("Bucket") or "")
    return {}


# Objects ---------------------------------------------------------------------


def put_object(context: services.Context, params: dict) -> dict:
    body = _body(params)
    bucket = _bucket(context, params, cached=True)
    key = check_key(params.get("Key"))
    headers = _headers_in(params)
    _check_md5(params, body)
    blob = storage.place(body.path)
    try:
        obj = objects.store(
            bucket, key, blob, size=body.size, etag=objects.etag_of_md5(body.md5),
            headers=headers, if_match=params.get("IfMatch"),
            if_none_match=params.get("IfNoneMatch"), by=_requester(context),
        )
    except IntegrityError:  # Deleted since this process copied it (objects.find_bucket).
        raise no_bucket(bucket.name) from None
    return {"ETag": obj.etag, "Size": obj.size}


def _conditions(obj: Object, params: dict, prefix: str = "") -> None:
    """The conditional headers (GET/HEAD's, or CopyObject's `CopySource`
    ones), with S3's precedence: a true If-Match wins over a false
    If-Unmodified-Since; a false If-None-Match over a true
    If-Modified-Since (times compare at whole seconds). A read answers 304
    where a copy answers 412."""
    modified = obj.last_modified.replace(microsecond=0)
    header = "x-amz-copy-source-" if prefix else ""
    if_match, if_none_match = params.get(f"{prefix}IfMatch"), params.get(f"{prefix}IfNoneMatch")
    since, unmodified_since = params.get(f"{prefix}IfModifiedSince"), params.get(f"{prefix}IfUnmodifiedSince")
    if if_match is not None:
        if not objects.etag_matches(if_match, obj.etag):
            raise precondition_failed(f"{header}If-Match")
    elif unmodified_since is not None and modified > unmodified_since:
        raise precondition_failed(f"{header}If-Unmodified-Since")
    failed = None
    if if_none_match is not None:
        if objects.etag_matches(if_none_match, obj.etag):
            failed = "If-None-Match"
    elif since is not None and modified <= since:
        failed = "If-Modified-Since"
    if failed:
        raise precondition_failed(f"{header}{failed}") if prefix else not_modified()


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of `Range: bytes=a-b | a- | -n`, clipped to the object;
    None for no range or one S3 ignores (malformed, several ranges)."""
    if not header:
        return None
    found = _RANGE.match(header)
    if found is None or found[1] == found[2] == "":
        return None
    if found[1] == "":
        suffix = int(found[2])
        first, last = max(0, size - suffix), size - 1
        if suffix == 0:
            first = size
    else:
        first = int(found[1])
        last = min(int(found[2]), size - 1) if found[2] else size - 1
        if found[2] and int(found[2]) < first:
            return None
    if first >= size or last < first:
        raise ServiceError("InvalidRange", "The requested range is not satisfiable", status=416,
                           fields={"RangeRequested": header, "ActualObjectSize": size})
    return first, last


def _overrides(output: dict, params: dict) -> None:
    for name in ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
                 "ContentType", "Expires"):
        if params.get(f"Response{name}") is not None:
            output[name] = params[f"Response{name}"]


def _read(context: services.Context, params: dict) -> tuple[Object, dict, tuple[int, int] | None]:
    bucket = _bucket(context, params, cached=True)
    obj = objects.find_object(bucket, check_key(params.get("Key")))
    _conditions(obj, params)
    output = _headers_out(obj)
    _overrides(output, params)
    span = byte_range(params.get("Range"), obj.size)
    if span is not None:
        output["ContentRange"] = f"bytes {span[0]}-{span[1]}/{obj.size}"
        output["ContentLength"] = span[1] - span[0] + 1
    return obj, output, span


def get_object(context: services.Context, params: dict) -> services.Reply:
    obj, output, span = _read(context, params)
    first, last = span or (0, obj.size - 1)
    # Opened here: a replacement committed from now on unlinks a name, not our file.
    body = FileSlice(storage.open_blob(obj.blob), first, last - first + 1)
    body.read_now()  # a small object is read here, on the handler's thread: no other hand-off
    output["Body"] = body
    return services.Reply(output, status=206 if span else None)


def head_object(context: services.Context, params: dict) -> services.Reply:
    obj, output, span = _read(context, params)
    if obj.parts_count and params.get("PartNumber"):
        output["PartsCount"] = obj.parts_count
    return services.Reply(output, status=206 if span else None)


def _copy_source(value: str | None) -> tuple[str, str]:
    text = unquote((value or "").split("?", 1)[0]).lstrip("/")
    bucket, _, key = text.partition("/")
    if not bucket or not key:
        raise invalid_argument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                               "x-amz-copy-source", value)
    return bucket, key


def copy_object(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    key = check_key(params.get("Key"))
    source_bucket_name, source_key = _copy_source(params.get("CopySource"))
    source_bucket = objects.find_bucket(context.team, source_bucket_name)
    source = objects.find_object(source_bucket, source_key)
    _conditions(source, params, prefix="CopySource")
    directive = (params.get("MetadataDirective") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
    if directive == "COPY" and source_bucket.pk == bucket.pk and source_key == key:
        raise invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without "
            "changing the object's metadata, storage class, website redirect location or encryption "
            "attributes."
        )
    headers = objects.Headers.of(source) if directive == "COPY" else _headers_in(params)
    obj = objects.store(
        bucket, key, storage.copy(source.blob), size=source.size, etag=source.etag, headers=headers,
        parts_count=source.parts_count, event="ObjectCreated:Copy", by=_requester(context),
    )
    return {"CopyObjectResult": {"ETag": obj.etag, "LastModified": _seconds(obj.last_modified)}}


def delete_object(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    objects.delete_objects(bucket, [check_key(params.get("Key"))], by=_requester(context))
    return {}


def delete_objects(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    request = params.get("Delete") or {}
    listed = request.get("Objects") or []
    if not listed or len(listed) > MAX_DELETE_KEYS:
        raise ServiceError(
            "MalformedXML", f"Delete takes 1 to {MAX_DELETE_KEYS} objects; this request has {len(listed)}."
        )
    keys = [item.get("Key") or "" for item in listed]
    objects.delete_objects(bucket, keys, by=_requester(context))
    if request.get("Quiet"):
        return {}
    return {"Deleted": [{"Key": key} for key in keys]}


def _url(value: str | None, encode: bool) -> str | None:
    return quote(value, safe="/") if encode and value is not None else value


def _listing_params(params: dict) -> tuple[int, str | None]:
    """(MaxKeys, EncodingType) of a ListObjects or ListObjectsV2 request:
    MaxKeys defaults to 1000; a negative one, or an encoding other than
    "url", is InvalidArgument with S3's messages."""
    max_keys = params.get("MaxKeys")
    max_keys = 1000 if max_keys is None else max_keys
    if max_keys < 0:
        raise invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647",
                               "max-keys", max_keys)
    encoding = params.get("EncodingType")
    if encoding not in (None, "url"):
        raise invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", encoding)
    return max_keys, encoding


def list_objects_v2(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    max_keys, encoding = _listing_params(params)
    encode = encoding == "url"
    prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
    page = listing.list_objects(
        bucket, prefix=prefix, delimiter=delimiter, max_keys=min(max_keys, 1000),
        start_after=params.get("StartAfter") or "", token=params.get("ContinuationToken"),
    )
    owner = _owner(context) if params.get("FetchOwner") else None
    return {
        "Name": bucket.name, "Prefix": _url(prefix, encode),
        "Delimiter": _url(params.get("Delimiter"), encode),
        "MaxKeys": max_keys, "KeyCount": page.key_count, "IsTruncated": page.truncated,
        "EncodingType": encoding,
        "ContinuationToken": params.get("ContinuationToken"), "NextContinuationToken": page.next_token,
        "StartAfter": _url(params.get("StartAfter"), encode),
        "Contents": [
            {"Key": _url(o.key, encode), "LastModified": _seconds(o.last_modified), "ETag": o.etag,
             "Size": o.size,
             "StorageClass": "STANDARD", "Owner": owner}
            for o in page.contents
        ] or None,
        "CommonPrefixes": [{"Prefix": _url(p, encode)} for p in page.common_prefixes] or None,
    }


def list_objects(context: services.Context, params: dict) -> dict:
    """ListObjects (version 1, `aws s3api list-objects`): paged by Marker, a
    key to start after; NextMarker (the last key or common prefix listed)
    only with a delimiter, as S3 answers; clients use the last key else."""
    bucket = _bucket(context, params)
    max_keys, encoding = _listing_params(params)
    encode = encoding == "url"
    prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
    marker = params.get("Marker") or ""
    # A marker that is a common prefix (a NextMarker) skips the keys it rolled up.
    rolled_up = marker if delimiter and marker.startswith(prefix) and marker.endswith(delimiter) and (
        marker.find(delimiter, len(prefix)) == len(marker) - len(delimiter)) else None
    page = listing.list_objects(
        bucket, prefix=prefix, delimiter=delimiter, max_keys=min(max_keys, 1000),
        token=listing.encode_token(marker, rolled_up) if marker else None,
    )
    next_marker = None
    if delimiter and page.truncated and page.next_token:
        next_marker = listing.decode_token(page.next_token)[0]
    return {
        "Name": bucket.name, "Prefix": _url(prefix, encode), "Marker": _url(marker, encode),
        "NextMarker": _url(next_marker, encode), "Delimiter": _url(params.get("Delimiter"), encode),
        "MaxKeys": max_keys, "IsTruncated": page.truncated, "EncodingType": encoding,
        "Contents": [
            {"Key": _url(o.key, encode), "LastModified": _seconds(o.last_modified), "ETag": o.etag,
             "Size": o.size,
             "StorageClass": "STANDARD", "Owner": _owner(context)}
            for o in page.contents
        ] or None,
        "CommonPrefixes": [{"Prefix": _url(p, encode)} for p in page.common_prefixes] or None,
    }


# Notifications ---------------------------------------------------------------


def put_bucket_notification_configuration(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    notifications.put_configuration(bucket, params.get("NotificationConfiguration") or {})
    return {}


def get_bucket_notification_configuration(context: services.Context, params: dict) -> dict:
    return notifications.get_configuration(_bucket(context, params))


# Multipart uploads -----------------------------------------------------------


def create_multipart_upload(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    key = check_key(params.get("Key"))
    upload = multipart.start(bucket, key, _headers_in(params))
    return {"Bucket": bucket.name, "Key": key, "UploadId": upload.upload_id}


def upload_part(context: services.Context, params: dict) -> dict:
    body = _body(params)
    bucket = _bucket(context, params)
    number = multipart.check_part_number(params.get("PartNumber"))
    upload = multipart.find(bucket, check_key(params.get("Key")), params.get("UploadId") or "")
    _check_md5(params, body)
    part = multipart.put_part(upload, number, storage.place(body.path), body.size, body.md5)
    return {"ETag": part.etag}


def copy_source_range(header: str | None, size: int) -> tuple[int, int]:
    """(first, last) of UploadPartCopy's `x-amz-copy-source-range:
    bytes=first-last` (both offsets required, inside the source), or the
    whole source without one. Raises InvalidArgument as S3 does."""
    if header is None:
        return 0, size - 1
    found = _COPY_RANGE.match(header)
    if found is None:
        raise invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
            "last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range", header,
        )
    first, last = int(found[1]), int(found[2])
    if first > last or last >= size:
        raise invalid_argument(f"Range specified is not valid for source object of size: {size}",
                               "x-amz-copy-source-range", header)
    return first, last


def upload_part_copy(context: services.Context, params: dict) -> dict:
    """A part made of (a range of) an existing object: how the AWS CLI and
    boto3's `copy` copy objects over the multipart threshold (8 MB)."""
    bucket = _bucket(context, params)
    number = multipart.check_part_number(params.get("PartNumber"))
    upload = multipart.find(bucket, check_key(params.get("Key")), params.get("UploadId") or "")
    source_bucket_name, source_key = _copy_source(params.get("CopySource"))
    source = objects.find_object(objects.find_bucket(context.team, source_bucket_name), source_key)
    _conditions(source, params, prefix="CopySource")
    first, last = copy_source_range(params.get("CopySourceRange"), source.size)
    blob, md5_hex = storage.copy_range(source.blob, first, last - first + 1)
    part = multipart.put_part(upload, number, blob, last - first + 1, md5_hex)
    return {"CopyPartResult": {"ETag": part.etag, "LastModified": _seconds(part.last_modified)}}


def complete_multipart_upload(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    key = check_key(params.get("Key"))
    upload = multipart.find(bucket, key, params.get("UploadId") or "")
    listed = (params.get("MultipartUpload") or {}).get("Parts") or []
    obj = multipart.complete(upload, listed, by=_requester(context))
    return {"Location": f"{context.endpoint}/{bucket.name}/{quote(key)}", "Bucket": bucket.name,
            "Key": key, "ETag": obj.etag}


def abort_multipart_upload(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    upload = multipart.find(bucket, check_key(params.get("Key")), params.get("UploadId") or "")
    multipart.abort(upload)
    return {}


def list_parts(context: services.Context, params: dict) -> dict:
    bucket = _bucket(context, params)
    key = check_key(params.get("Key"))
    upload = multipart.find(bucket, key, params.get("UploadId") or "")
    limit = params.get("MaxParts") or 1000
    marker = params.get("PartNumberMarker") or 0
    parts = list(upload.parts.filter(number__gt=marker).order_by("number")[: min(limit, 1000) + 1])
    truncated = len(parts) > limit
    parts = parts[:limit]
    return {
        "Bucket": bucket.name, "Key": key, "UploadId": upload.upload_id, "PartNumberMarker": marker,
        "NextPartNumberMarker": parts[-1].number if parts else marker, "MaxParts": limit,
        "IsTruncated": truncated, "StorageClass": "STANDARD",
        "Initiator": _owner(context), "Owner": _owner(context),
        "Parts": [{"PartNumber": p.number, "LastModified": _seconds(p.last_modified), "ETag": p.etag,
                   "Size": p.size}
                  for p in parts] or None,
    }


# Bucket and object subresources ---------------------------------------------
# What tools read before they write (`aws s3 sync`, terraform's
# aws_s3_bucket): the state Stratus has, which is fixed. Buckets are never
# versioned, their owner (the team's account) has FULL_CONTROL and nobody
# else a grant, and nothing carries tags.


def get_bucket_versioning(context: services.Context, params: dict) -> dict:
    """A bucket never versioned: an empty VersioningConfiguration (no Status)."""
    _bucket(context, params)
    return {}


def _acl(context: services.Context) -> dict:
    owner = _owner(context)
    return {"Owner": owner, "Grants": [
        {"Grantee": {**owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]}


def get_bucket_acl(context: services.Context, params: dict) -> dict:
    _bucket(context, params)
    return _acl(context)


def get_object_acl(context: services.Context, params: dict) -> dict:
    objects.find_object(_bucket(context, params), check_key(params.get("Key")))
    return _acl(context)


def get_bucket_tagging(context: services.Context, params: dict) -> dict:
    """S3's answer for a bucket without tags: 404 NoSuchTagSet."""
    bucket = _bucket(context, params)
    raise ServiceError("NoSuchTagSet", "The TagSet does not exist", status=404,
                       fields={"BucketName": bucket.name})


def get_object_tagging(context: services.Context, params: dict) -> dict:
    """An object without tags: an empty TagSet (S3 answers so, not 404)."""
    objects.find_object(_bucket(context, params), check_key(params.get("Key")))
    return {"TagSet": []}


def _not_implemented(operation: str):
    def handler(context: services.Context, params: dict) -> dict:
        raise not_implemented(operation)

    handler.__name__ = f"not_implemented_{operation}"
    return handler


# The request as it came ------------------------------------------------------


def check_request(operation: str, request: AwsRequest) -> None:
    """Before the door parses an S3 request: an integer query parameter
    that is not an int32 is InvalidArgument ("Provided max-keys not an
    integer or within integer range"), as S3 answers. (A conditional date
    header that is not a date is ignored by the parser, for RFC 9110:
    awsapi.protocols.parser.IGNORED_IF_INVALID.)"""
    for name, values in request.query_dict.items():
        if name not in INTEGER_QUERY:
            continue
        value = values[0]
        if not re.fullmatch(r"-?\d{1,10}", value) or not -INT32_MAX - 1 <= int(value) <= INT32_MAX:
            if name == "partNumber":
                raise invalid_argument(
                    f"Part number must be an integer between 1 and {multipart.MAX_PARTS}, inclusive",
                    name, value)
            raise not_an_integer(name, value)


HANDLERS = {
    "ListBuckets": list_buckets, "CreateBucket": create_bucket, "HeadBucket": head_bucket,
    "GetBucketLocation": get_bucket_location, "DeleteBucket": delete_bucket,
    "PutObject": put_object, "GetObject": get_object, "HeadObject": head_object,
    "CopyObject": copy_object, "DeleteObject": delete_object, "DeleteObjects": delete_objects,
    "ListObjects": list_objects, "ListObjectsV2": list_objects_v2,
    "PutBucketNotificationConfiguration": put_bucket_notification_configuration,
    "GetBucketNotificationConfiguration": get_bucket_notification_configuration,
    "CreateMultipartUpload": create_multipart_upload, "UploadPart": upload_part,
    "UploadPartCopy": upload_part_copy,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload, "ListParts": list_parts,
    "GetBucketVersioning": get_bucket_versioning, "GetBucketAcl": get_bucket_acl,
    "GetObjectAcl": get_object_acl, "GetBucketTagging": get_bucket_tagging,
    "GetObjectTagging": get_object_tagging,
}
READS = {"ListBuckets", "HeadBucket", "GetBucketLocation", "GetObject", "HeadObject", "ListObjects",
         "ListObjectsV2", "ListParts", "GetBucketNotificationConfiguration", "GetBucketVersioning",
         "GetBucketAcl", "GetObjectAcl", "GetBucketTagging", "GetObjectTagging"}


def _all_handlers() -> tuple[dict, set]:
    """HANDLERS, and every other operation of botocore's S3 model answered
    501 NotImplemented (what S3-compatible servers say for what they do
    not support) rather than the router's 405; its reads (Get, List, Head)
    are reads."""
    handlers, reads = dict(HANDLERS), set(READS)
    for name in load_service("s3").operation_names:
        if name not in handlers:
            handlers[name] = _not_implemented(name)
            if name.startswith(("Get", "List", "Head")):
                reads.add(name)
    return handlers, reads


def register() -> None:
    handlers, reads = _all_handlers()
    services.register(
        "s3", handlers, reads=reads, signature_codes=SIGNATURE_CODES, resources=iam_resources.resolve,
        check_input=check_request,
        streaming=services.Streaming(
            directory=storage.spool_dir, limit=lambda: settings.STRATUS_S3_MAX_PUT_BYTES
        ),
    )
