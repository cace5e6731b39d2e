"""Multipart uploads as S3 has them: parts (1..10000) stored as files of
their own, completed into one new object file whose ETag is the MD5 of the
parts' MD5s with "-N"."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from awsapi.protocols import ServiceError
from buckets import notifications, objects, storage
from buckets.models import Bucket, MultipartUpload, Object, Part
from buckets.s3_wire import invalid_argument, no_upload

MAX_PARTS = 10000


def start(bucket: Bucket, key: str, headers: objects.Headers) -> MultipartUpload:
    return MultipartUpload.objects.create(bucket=bucket, key=key, **headers.as_fields())


def find(bucket: Bucket, key: str, upload_id: str) -> MultipartUpload:
    try:
        pk = uuid.UUID(hex=upload_id)
    except (ValueError, TypeError):
        raise no_upload(upload_id) from None
    upload = MultipartUpload.objects.filter(pk=pk, bucket=bucket, key=key).first()
    if upload is None:
        raise no_upload(upload_id)
    return upload


def check_part_number(number: int | None) -> int:
    if number is None or not 1 <= number <= MAX_PARTS:
        raise invalid_argument(
            f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive", "partNumber", number
        )
    return number


def put_part(upload: MultipartUpload, number: int, blob: str, size: int, md5_hex: str) -> Part:
    """Store `blob` as part `number`, replacing one uploaded before."""
    try:
        with transaction.atomic():
            # The upload's row lock orders this against Complete and Abort.
            if not MultipartUpload.objects.select_for_update().filter(pk=upload.pk).exists():
                raise no_upload(upload.upload_id)
            current = Part.objects.filter(upload=upload, number=number).first()
            fields = {"size": size, "etag": objects.etag_of_md5(md5_hex), "blob": blob,
                      "last_modified": timezone.now()}
            if current is None:
                return Part.objects.create(upload=upload, number=number, **fields)
            old = current.blob
            for name, value in fields.items():
                setattr(current, name, value)
            current.save()
            storage.remove_on_commit(old)
            return current
    except BaseException:
        storage.remove(blob)
        raise


def _chosen_parts(upload: MultipartUpload, listed: list[dict]) -> list[Part]:
    if not listed:
        raise ServiceError("MalformedXML", "You must specify at least one part.")
    numbers = [p.get("PartNumber") for p in listed]
    if any(n is None for n in numbers) or numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise ServiceError(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
    stored = {p.number: p for p in upload.parts.all()}
    chosen = []
    for item in listed:
        part = stored.get(item["PartNumber"])
        if part is None or not objects.etag_matches(item.get("ETag") or "", part.etag):
            raise ServiceError(
                "InvalidPart",
                "One or more of the specified parts could not be found. The part may not have been "
                "uploaded, or the specified entity tag may not match the part's entity tag.",
                fields={"PartNumber": item["PartNumber"], "ETag": item.get("ETag") or "",
                        "UploadId": upload.upload_id},
            )
        chosen.append(part)
    minimum = settings.STRATUS_S3_MIN_PART_BYTES
    for part in chosen[:-1]:
        if part.size < minimum:
            raise ServiceError(
                "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.",
                fields={"ProposedSize": part.size, "MinSizeAllowed": minimum, "PartNumber": part.number,
                        "ETag": part.etag},
            )
    total = sum(p.size for p in chosen)
    if total > settings.STRATUS_S3_MAX_OBJECT_BYTES:
        raise ServiceError(
            "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
            fields={"ProposedSize": total, "MaxSizeAllowed": settings.STRATUS_S3_MAX_OBJECT_BYTES},
        )
    return chosen


def complete(
    upload: MultipartUpload, listed: list[dict], by: notifications.Requester | None = None
) -> Object:
    """Join the listed parts into the object; the upload and its files go."""
    chosen = _chosen_parts(upload, listed)
    # Written outside the transaction (it may take a while); placed only by store().
    blob = storage.concatenate([p.blob for p in chosen])
    try:
        with transaction.atomic():
            # Locked and re-read: an Abort or a second Complete that won the
            # race leaves nothing here, and this one answers NoSuchUpload.
            locked = MultipartUpload.objects.select_for_update().filter(pk=upload.pk).first()
            if locked is None:
                raise no_upload(upload.upload_id)
            still = {p.number: p.etag for p in locked.parts.all()}
            if any(still.get(p.number) != p.etag for p in chosen):
                raise ServiceError(
                    "InvalidPart", "A part changed while the upload was being completed; retry."
                )
            obj = objects.store(
                upload.bucket, upload.key, blob, size=sum(p.size for p in chosen),
                etag=objects.multipart_etag([p.etag for p in chosen]),
                headers=objects.Headers.of(upload), parts_count=len(chosen),
                event="ObjectCreated:CompleteMultipartUpload", by=by,
            )
            abort(locked)
            return obj
    except BaseException:
        storage.remove(blob)
        raise


def abort(upload: MultipartUpload) -> None:
    with transaction.atomic():
        blobs = list(Part.objects.filter(upload=upload).values_list("blob", flat=True))
        MultipartUpload.objects.filter(pk=upload.pk).delete()
        storage.remove_on_commit(*blobs)
