"""PutObject of a body already spooled to disk (awsapi.spool), for the
console's upload (buckets.upload_door): S3's key rules, then
`objects.store` as s3_api.put_object stores it, with the same
ObjectCreated:Put notifications."""

from __future__ import annotations

from awsapi.spool import SpooledBody
from buckets import notifications, objects, storage
from buckets.models import Bucket, Object
from buckets.s3_wire import check_key


def put_object(bucket: Bucket, key: str, body: SpooledBody, *, content_type: str,
               by: notifications.Requester) -> Object:
    """PutObject of a spooled body: S3's key rules (InvalidArgument,
    KeyTooLongError as ServiceError), then `objects.store`. The spooled
    file is moved into the store or removed."""
    try:
        key = check_key(key)
        blob = storage.place(body.path)
    except BaseException:
        body.discard()
        raise
    headers = objects.Headers(content_type=content_type or "binary/octet-stream")
    return objects.store(bucket, key, blob, size=body.size, etag=objects.etag_of_md5(body.md5),
                         headers=headers, by=by)
