"""Kinesis data streams as rows: a stream, its shards (open and closed)
and their records, so records outlive Redis and workers and are backed up
with everything else.

Sequence numbers come from `Record.id` (the database's auto id): they
increase within a shard, and across a reshard a child's records come after
its parents'. On the wire they are 56-digit decimal strings (Kinesis's
length; `sequence_text`). Hash keys are 128-bit integers, kept as 39-digit
zero-padded decimal text so that text order is number order under any
collation (`hash_text`)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from awsapi import arns
from functions.models import Team

SEQUENCE_DIGITS = 56
HASH_DIGITS = 39
MODES = [("PROVISIONED", "PROVISIONED"), ("ON_DEMAND", "ON_DEMAND")]


def sequence_text(number: int) -> str:
    """A sequence number as Kinesis writes it: decimal, 56 digits."""
    return f"{number:0{SEQUENCE_DIGITS}d}"


def hash_text(number: int) -> str:
    """A hash key as stored: decimal, zero-padded to 39 digits (2**128 has 39)."""
    return f"{number:0{HASH_DIGITS}d}"


def default_retention_hours() -> int:
    return settings.STRATUS_KINESIS_RETENTION_HOURS


class Stream(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="streams")
    name = models.CharField(max_length=128)  # StreamName: 1-128 of [a-zA-Z0-9_.-]
    mode = models.CharField(max_length=16, choices=MODES, default="PROVISIONED")  # StreamModeDetails
    retention_hours = models.PositiveIntegerField(default=default_retention_hours)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The index of the next shard created (shardId-000000000007 is index 7).
    next_shard_index = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_stream_name_per_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def arn(self) -> str:
        return arns.kinesis_stream_arn(self.team.account_id, self.name)


class Shard(models.Model):
    """A shard: the records whose partition key hashes into
    [hash_start, hash_end]. Closed by a reshard (`ending_sequence` set,
    `closed_at`): it takes no more records but its records stay readable
    until they pass the stream's retention."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    parent_index = models.PositiveIntegerField(null=True, blank=True)
    adjacent_parent_index = models.PositiveIntegerField(null=True, blank=True)
    hash_start = models.CharField(max_length=HASH_DIGITS)
    hash_end = models.CharField(max_length=HASH_DIGITS)
    # StartingSequenceNumber: below every record the shard will hold.
    starting_sequence = models.PositiveBigIntegerField()
    # EndingSequenceNumber once closed: at or above every record it holds.
    ending_sequence = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["stream", "index"], name="one_shard_index_per_stream")]
        indexes = [models.Index(fields=["stream", "closed_at", "hash_start"], name="kinesis_open_shard_hash")]

    def __str__(self) -> str:
        return self.shard_id

    @property
    def shard_id(self) -> str:
        return shard_id_of(self.index)

    @property
    def parent_shard_id(self) -> str | None:
        return None if self.parent_index is None else shard_id_of(self.parent_index)

    @property
    def adjacent_parent_shard_id(self) -> str | None:
        return None if self.adjacent_parent_index is None else shard_id_of(self.adjacent_parent_index)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


def shard_id_of(index: int) -> str:
    """Kinesis's shard ids: `shardId-` and 12 digits."""
    return f"shardId-{index:012d}"


class Record(models.Model):
    """One record; its id is its sequence number."""

    shard = models.ForeignKey(Shard, on_delete=models.CASCADE, related_name="records")
    # The partition key's UTF-8 bytes: any Unicode text is a partition key,
    # NUL included, which PostgreSQL's text columns refuse.
    partition_key_utf8 = models.BinaryField(max_length=1024)
    data = models.BinaryField()
    # ApproximateArrivalTimestamp; retention counts from it.
    arrival = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["shard", "id"], name="kinesis_record_shard_seq")]

    @property
    def sequence_number(self) -> str:
        return sequence_text(self.id)

    @property
    def partition_key(self) -> str:
        return bytes(self.partition_key_utf8).decode("utf-8")
