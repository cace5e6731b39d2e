"""The console's upload: a request body read in chunks from any file-like
stream (Django's request) into a spooled file beside the objects, hashed on
the way, then stored with `objects.store` as PutObject stores it (the same
ObjectCreated:Put notifications). The body is never held in memory."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from awsapi.spool import READ_CHUNK, BodyTooLarge, ClientGone, SpooledBody
from buckets import notifications, objects, storage
from buckets.models import Bucket, Object
from buckets.s3_wire import check_key


def spool_stream(stream, length: int, limit: int) -> SpooledBody:
    """`length` bytes of `stream` into a new fsynced file in the spool
    directory (same file system as the objects: placing it is a rename).
    Raises BodyTooLarge when `length` is over `limit` bytes (nothing is
    read), ClientGone when the stream ends early; the file is removed then."""
    if length > limit:
        raise BodyTooLarge(limit, length)
    directory = storage.spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="console-", suffix=".part")
    body = SpooledBody(Path(name))
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            left = length
            while left > 0:
                data = stream.read(min(READ_CHUNK, left))
                if not data:
                    raise ClientGone(f"the body ended after {length - left} of {length} bytes")
                left -= len(data)
                md5.update(data)
                sha256.update(data)
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        body.discard()
        raise
    body.size, body.md5, body.sha256 = length, md5.hexdigest(), sha256.hexdigest()
    return body


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
