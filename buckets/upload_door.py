"""The console's upload, served before Django (console.asgi asks `matches`
first), so a large file goes from the socket to disk as PutObject's body
does (awsapi.spool), and is never held in memory: Django's ASGI handler
would read the whole body before any view runs (into memory up to
FILE_UPLOAD_MAX_MEMORY_SIZE, then into a temporary file that may itself be
a tmpfs) and only then let the view refuse it.

`PUT /buckets/<account id>/<bucket>/upload/?key=<key>` with the file as
the body and its type as Content-Type, from a logged-in console session,
with the CSRF token in X-CSRFToken (as htmx sends it). The checks are the
console's: Django's session and CSRF middleware, then buckets.access (404
to a stranger, 403 to a read-only member). The object is then stored with
buckets.uploads.put_object, the same operation as PutObject, with the
same `s3:ObjectCreated:Put` notifications.

Answers JSON: 200 {"Key", "ETag", "Size"}; an error is {"Code", "Message"}
with S3's codes: AccessDenied (403: not logged in, CSRF, read-only),
NoSuchBucket (404), MissingContentLength (411), EntityTooLarge (400, over
STRATUS_S3_MAX_PUT_BYTES, refused before the body is read),
IncompleteBody (400), InvalidArgument / KeyTooLongError (400, the key)."""

from __future__ import annotations

import json
import re
import uuid
from importlib import import_module
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib import auth
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.http import Http404
from django.middleware.csrf import CsrfViewMiddleware

from awsapi import asgi, spool
from awsapi.protocols import ServiceError
from buckets import notifications, storage, uploads
from buckets.access import get_bucket_for_user
from buckets.models import Bucket

_PATH = re.compile(r"^/buckets/(?P<account_id>[^/]+)/(?P<name>[^/]+)/upload/$")


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def matches(scope) -> re.Match | None:
    if scope["type"] != "http" or scope["method"] != "PUT":
        return None
    return _PATH.match(scope["path"])


def _csrf_refusal(request) -> str | None:
    """Why Django's CSRF middleware refuses the request, or None."""
    middleware = CsrfViewMiddleware(lambda r: None)
    middleware.process_request(request)
    refusal = middleware.process_view(request, None, (), {})
    return None if refusal is None else "The CSRF check failed: reload the page and try again."


def _authorise(request, account_id: str, name: str) -> tuple[Bucket, notifications.Requester]:
    """The bucket the session's user may write to, and the user as the
    events' requester; Refused otherwise. On a door thread (database)."""
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    user = auth.get_user(request)
    if not user.is_authenticated:
        raise Refused(403, "AccessDenied", "You are not logged in: log in to the console and try again.")
    try:
        problem = _csrf_refusal(request)
    except DisallowedHost as e:
        raise Refused(400, "InvalidRequest", str(e))
    if problem:
        raise Refused(403, "AccessDenied", problem)
    try:
        bucket = get_bucket_for_user(user, account_id, name, write=True)
    except Http404:
        raise Refused(404, "NoSuchBucket", "The specified bucket does not exist")
    except PermissionDenied as e:
        raise Refused(403, "AccessDenied", str(e))
    client = request.scope.get("client") or ("", 0)
    return bucket, notifications.Requester(
        principal_id=f"Stratus:{user.get_username()}", source_ip=client[0] or "",
        request_id=uuid.uuid4().hex[:16].upper(),
    )


def _content_length(request, limit: int) -> int:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        raise Refused(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
    if length > limit:
        raise Refused(400, "EntityTooLarge",
                      f"Your proposed upload exceeds the maximum allowed size ({limit} bytes).")
    return length


async def _answer(send, status: int, payload: dict) -> None:
    await asgi.send_response(send, status, json.dumps(payload).encode(),
                             [("Content-Type", "application/json"), ("Cache-Control", "no-store")])


async def serve(scope, receive, send, match: re.Match) -> None:
    request = asgi.django_request(scope, b"")
    key = (parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
           .get("key", [""])[0])
    limit = settings.STRATUS_S3_MAX_PUT_BYTES
    try:
        bucket, by = await asgi.in_thread(_authorise, request, match["account_id"], match["name"])
        length = _content_length(request, limit)
        try:
            body = await spool.spool(receive, storage.spool_dir(), limit)
        except spool.BodyTooLarge:
            raise Refused(400, "EntityTooLarge",
                          f"Your proposed upload exceeds the maximum allowed size ({limit} bytes).")
        if body.size != length:
            body.discard()
            raise Refused(400, "IncompleteBody", "You did not provide the number of bytes specified by "
                                                 "the Content-Length HTTP header.")
        obj = await asgi.in_thread(_store, bucket, key, body, request.content_type or "", by)
    except Refused as e:
        return await _answer(send, e.status, {"Code": e.code, "Message": e.message})
    except ServiceError as e:
        return await _answer(send, e.status, {"Code": e.code, "Message": e.message})
    except spool.ClientGone:
        return None  # nobody to answer; the spooled file is gone already
    await _answer(send, 200, {"Key": obj.key, "ETag": obj.etag, "Size": obj.size})


def _store(bucket: Bucket, key: str, body: spool.SpooledBody, content_type: str, by):
    return uploads.put_object(bucket, key, body, content_type=content_type, by=by)
