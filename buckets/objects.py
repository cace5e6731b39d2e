"""Buckets and objects, as plain operations on the rows and the files
(buckets.storage): the S3 API (buckets.s3_api) calls these, and so will
the console and the in-function SDK."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from awsapi.protocols import ServiceError
from buckets import notifications, storage
from buckets.models import Bucket, Object
from buckets.s3_wire import bucket_name_problem, no_bucket, no_key, precondition_failed
from functions import changes
from functions.models import Team

_buckets = changes.Copies("bucket")
changes.announce_saves(Bucket, "bucket")


@dataclass
class Headers:
    """An object's content headers and user metadata (names lower-cased)."""

    content_type: str = "binary/octet-stream"
    content_encoding: str = ""
    content_disposition: str = ""
    content_language: str = ""
    cache_control: str = ""
    expires: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    FIELDS = ("content_type", "content_encoding", "content_disposition", "content_language",
              "cache_control", "expires", "metadata")

    @classmethod
    def of(cls, row) -> Headers:
        return cls(**{name: getattr(row, name) for name in cls.FIELDS})

    def as_fields(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}


def etag_of_md5(md5_hex: str) -> str:
    return f'"{md5_hex}"'


def multipart_etag(part_etags: list[str]) -> str:
    """S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, "-N"."""
    digest = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for e in part_etags)).hexdigest()
    return f'"{digest}-{len(part_etags)}"'


# Buckets ---------------------------------------------------------------------


def find_bucket(team: Team, name: str, *, cached: bool = False) -> Bucket:
    """The team's bucket `name`, else NoSuchBucket. `cached`: this
    process's shared copy (read it, never change it), for PutObject,
    GetObject and HeadObject: looking it up was a query on every request.
    A save or delete of any bucket drops the copies of every process
    (functions.changes)."""
    bucket = _buckets.get((team.pk, name)) if cached else None
    if bucket is None:
        bucket = Bucket.objects.select_related("team").filter(team=team, name=name).first()
        if bucket is None:
            raise no_bucket(name)
        if cached:
            _buckets.put((team.pk, name), bucket)
    return bucket


def create_bucket(team: Team, name: str) -> Bucket:
    problem = bucket_name_problem(name)
    if problem:
        raise ServiceError("InvalidBucketName", f"The specified bucket is not valid. {problem}",
                           fields={"BucketName": name})
    try:
        with transaction.atomic():
            return Bucket.objects.create(team=team, name=name)
    except IntegrityError:
        raise ServiceError(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            status=409, fields={"BucketName": name},
        ) from None


def delete_bucket(team: Team, name: str) -> None:
    with transaction.atomic():
        # Locked, so a PutObject committing meanwhile is either seen here or
        # fails on the missing bucket; never an object left in no bucket.
        bucket = Bucket.objects.select_for_update().filter(team=team, name=name).first()
        if bucket is None:
            raise no_bucket(name)
        if bucket.contents.exists():
            raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty",
                               status=409, fields={"BucketName": name})
        # Unfinished multipart uploads go with it, their parts' files after the commit.
        blobs = list(bucket.uploads.values_list("parts__blob", flat=True))
        bucket.delete()
        storage.remove_on_commit(*blobs)


# Objects ---------------------------------------------------------------------


def find_object(bucket: Bucket, key: str) -> Object:
    found = Object.objects.filter(bucket=bucket, key=key).first()
    if found is None:
        raise no_key(key)
    return found


def etag_matches(condition: str, etag: str) -> bool:
    """An If-Match / If-None-Match value (a list, `*`, quoted or not) against an ETag."""
    bare = etag.strip('"')
    for item in condition.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/").strip('"') == bare:
            return True
    return False


def store(
    bucket: Bucket, key: str, blob: str, *, size: int, etag: str, headers: Headers,
    parts_count: int | None = None, if_match: str | None = None, if_none_match: str | None = None,
    event: str = "ObjectCreated:Put", by: notifications.Requester | None = None,
) -> Object:
    """Make `blob` (already complete on disk) the object `key`, in one
    transaction with its notifications (`event`, caused `by`); the version
    it replaces loses its file after the commit. On any failure the new
    file is removed, and nothing changed.

    The current version and the bucket's notification configuration are
    read before the write transaction, which then only writes: an INSERT,
    or an UPDATE that must still find the version read (else another
    writer came first, and the write is done again reading inside the
    transaction). So the write lock (SQLite's one writer) is held for the
    writes alone."""
    fields = {"size": size, "etag": etag, "blob": blob, "last_modified": timezone.now(),
              "parts_count": parts_count, **headers.as_fields()}
    try:
        entries = list(bucket.notifications.all())
        seen = Object.objects.filter(bucket=bucket, key=key).first()
        _check_conditions(seen, key, if_match, if_none_match)
        try:
            with transaction.atomic():
                if seen is None:
                    current = Object.objects.create(bucket=bucket, key=key, **fields)
                elif Object.objects.filter(pk=seen.pk, blob=seen.blob).update(**fields) == 1:
                    storage.remove_on_commit(seen.blob)
                    current = Object(pk=seen.pk, bucket=bucket, key=key, **fields)
                else:
                    raise _Raced
                notifications.emit(bucket, event, key, size=size, etag=etag, by=by, entries=entries)
                return current
        except (_Raced, IntegrityError):
            pass  # Another writer of this key came first (or the bucket went): see below.
        with transaction.atomic():
            # Row lock on the current version (PostgreSQL; SQLite holds its
            # one write lock): two writers of one key queue here, and each
            # removes exactly the file it replaced.
            current = Object.objects.select_for_update().filter(bucket=bucket, key=key).first()
            _check_conditions(current, key, if_match, if_none_match)
            if current is None:
                current = Object.objects.create(bucket=bucket, key=key, **fields)
            else:
                old = current.blob
                for name, value in fields.items():
                    setattr(current, name, value)
                current.save()
                storage.remove_on_commit(old)
            notifications.emit(bucket, event, key, size=size, etag=etag, by=by)
            return current
    except BaseException:
        storage.remove(blob)
        raise


class _Raced(Exception):
    """The version read before the write transaction was replaced meanwhile."""


def _check_conditions(
    current: Object | None, key: str, if_match: str | None, if_none_match: str | None
) -> None:
    if if_none_match is not None and current is not None:
        raise precondition_failed("If-None-Match")
    if if_match is not None and (current is None or not etag_matches(if_match, current.etag)):
        if current is None:
            raise no_key(key)
        raise precondition_failed("If-Match")


def delete_objects(bucket: Bucket, keys: list[str], by: notifications.Requester | None = None) -> None:
    """Delete whichever of `keys` exist (a missing key is not an error, as
    in S3), each with its ObjectRemoved:Delete notifications in the same
    transaction."""
    with transaction.atomic():
        doomed = list(Object.objects.select_for_update().filter(bucket=bucket, key__in=keys))
        Object.objects.filter(pk__in=[o.pk for o in doomed]).delete()
        storage.remove_on_commit(*[o.blob for o in doomed])
        entries = list(bucket.notifications.all()) if doomed else []
        for obj in doomed:
            notifications.emit(bucket, "ObjectRemoved:Delete", obj.key, by=by, entries=entries)
