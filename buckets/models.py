"""Buckets and objects: the rows are the truth about what exists; an
object's bytes are an immutable file under STRATUS_OBJECTS_DIR named by
`blob` (buckets.storage). A new version of an object is a new file: the row
is pointed at it in one UPDATE, and the old file is removed after the
commit, so a reader never sees half an object."""

import uuid

from django.db import models
from django.utils import timezone

from functions.models import Team


class Bucket(models.Model):
    """A bucket of a team. Names are unique within a team (S3's are global;
    here each team has its own namespace, as each AWS account would)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="buckets")
    name = models.CharField(max_length=63)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="bucket_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContentHeaders(models.Model):
    """What S3 keeps of an upload's headers and gives back on GET/HEAD."""

    content_type = models.CharField(max_length=1024, default="binary/octet-stream")
    content_encoding = models.CharField(max_length=1024, blank=True)
    content_disposition = models.CharField(max_length=1024, blank=True)
    content_language = models.CharField(max_length=1024, blank=True)
    cache_control = models.CharField(max_length=1024, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    # x-amz-meta-* without the prefix, names lower-cased (as S3 returns them).
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class Object(ContentHeaders):
    bucket = models.ForeignKey(Bucket, on_delete=models.CASCADE, related_name="contents")
    key = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    etag = models.CharField(max_length=64)  # with its quotes, as S3 sends it
    last_modified = models.DateTimeField(default=timezone.now)
    blob = models.CharField(max_length=64)  # the file under STRATUS_OBJECTS_DIR
    parts_count = models.IntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "key"], name="object_unique_key")]

    def __str__(self) -> str:
        return f"{self.bucket.name}/{self.key}"


class MultipartUpload(ContentHeaders):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    bucket = models.ForeignKey(Bucket, on_delete=models.CASCADE, related_name="uploads")
    key = models.CharField(max_length=1024)
    initiated_at = models.DateTimeField(default=timezone.now)

    @property
    def upload_id(self) -> str:
        return self.id.hex


class Part(models.Model):
    upload = models.ForeignKey(MultipartUpload, on_delete=models.CASCADE, related_name="parts")
    number = models.IntegerField()
    size = models.BigIntegerField()
    etag = models.CharField(max_length=64)
    last_modified = models.DateTimeField(default=timezone.now)
    blob = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "number"], name="part_unique_number")]
        ordering = ["number"]


class Notification(models.Model):
    """One entry of a bucket's notification configuration: a function, queue
    or topic (by ARN, resolved when an event is sent, as S3 does) that gets
    the events named in `events` for keys matching the filter. A Put
    replaces a bucket's whole set; `position` keeps the order it was given in."""

    KINDS = [("lambda", "Function"), ("queue", "Queue"), ("topic", "Topic")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    bucket = models.ForeignKey(Bucket, on_delete=models.CASCADE, related_name="notifications")
    position = models.IntegerField()
    kind = models.CharField(max_length=8, choices=KINDS)
    config_id = models.TextField()  # S3's `Id`, the event's configurationId
    target_arn = models.TextField()
    # "s3:ObjectCreated:*", "s3:ObjectRemoved:Delete", ...
    events = models.JSONField(default=list)
    # None: no such filter rule ("" is a rule that matches every key).
    prefix = models.CharField(max_length=1024, null=True, blank=True)
    suffix = models.CharField(max_length=1024, null=True, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.bucket.name}: {self.config_id} -> {self.target_arn}"

    def matches(self, event_name: str, key: str) -> bool:
        """Whether this entry wants `event_name` ("ObjectCreated:Put") for `key`."""
        kind = event_name.split(":", 1)[0]
        wanted = f"s3:{event_name}" in self.events or f"s3:{kind}:*" in self.events
        return (wanted and key.startswith(self.prefix or "") and key.endswith(self.suffix or ""))
