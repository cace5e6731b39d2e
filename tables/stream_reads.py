"""Reading DynamoDB streams: which streams a team has, their one shard,
and their records in the shapes of the DynamoDB Streams API and of
Lambda's event (used by tables.streams_api and tables.stream_source).

A stream is a table's stream label (`Table.stream_label`, a new one each
time a stream is enabled). It is ENABLED while it is the table's current
label and the table's StreamSpecification is on, DISABLED otherwise; a
disabled stream stays readable for as long as its records are kept (24 h,
tables.streams.RETENTION). Each stream has exactly one shard, so the
order of its records (their ids) is both the per-item order DynamoDB
promises and a global one.

Source of the shapes: Amazon DynamoDB API Reference, "Amazon DynamoDB
Streams" (ListStreams, DescribeStream, GetShardIterator, GetRecords and
the Record, StreamRecord, StreamDescription, Shard data types)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Max, Min

from awsapi import arns
from functions.models import Team
from tables.models import StreamRecord, Table

# arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
STREAM_ARN_RE = re.compile(
    r"^arn:aws:dynamodb:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"table/(?P<table>[a-zA-Z0-9_.-]{3,255})/stream/(?P<label>[^/]{1,32})$"
)
# SequenceNumber: the record's id, in decimal, padded (the model asks 21 to 40 digits).
SEQUENCE_DIGITS = 21
EVENT_VERSION = "1.1"
EVENT_SOURCE = "aws:dynamodb"


@dataclass(frozen=True)
class Stream:
    """One stream: a table and one of its stream labels."""

    table: Table
    label: str

    @property
    def arn(self) -> str:
        return arns.table_stream_arn(self.table.team.account_id, self.table.name, self.label)

    @property
    def enabled(self) -> bool:
        return bool(self.table.stream_view_type) and self.table.stream_label == self.label

    @property
    def status(self) -> str:
        """StreamStatus: ENABLED or DISABLED (enabling and disabling are instant here)."""
        return "ENABLED" if self.enabled else "DISABLED"

    def records(self):
        return StreamRecord.objects.filter(table=self.table, stream_label=self.label)

    def view_type(self) -> str | None:
        """StreamViewType: the table's while enabled, else the one its
        records were written with (None when it has none left)."""
        if self.enabled:
            return self.table.stream_view_type
        last = self.records().order_by("-id").values_list("view_type", flat=True).first()
        return last

    def created(self) -> datetime:
        """CreationRequestDateTime: the label is the time the stream was
        enabled (DynamoDB's labels are ISO 8601 timestamps); the table's
        creation time when the label is not one."""
        try:
            when = datetime.fromisoformat(self.label)
        except ValueError:
            return self.table.created_at
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    @property
    def shard_id(self) -> str:
        """The one shard's id, stable for the stream, shaped as DynamoDB's
        (`shardId-<20 digits>-<8 hex>`): the creation time in ms, then a
        digest of the table and label."""
        millis = int(self.created().timestamp() * 1000)
        digest = hashlib.sha256(f"{self.table.id}/{self.label}".encode()).hexdigest()[:8]
        return f"shardId-{millis:020d}-{digest}"

    def bounds(self) -> tuple[int | None, int | None]:
        """(first, last) id of the records kept, (None, None) when none."""
        found = self.records().aggregate(first=Min("id"), last=Max("id"))
        return found["first"], found["last"]

    def latest(self) -> int:
        """Where LATEST starts reading (GetShardIterator, a mapping): after
        the last record, 0 when none. Its later records take higher ids and
        commit in id order (tables.streams.hold_order)."""
        return self.bounds()[1] or 0

    def before(self, at: datetime) -> int | None:
        """Where AT_TIMESTAMP starts reading: after the last record created
        before `at`; None (from the oldest kept) when none was."""
        return self.records().filter(created_at__lt=at).order_by("-id").values_list("id", flat=True).first()


def sequence_number(record_id: int) -> str:
    return str(record_id).zfill(SEQUENCE_DIGITS)


def parse_sequence_number(text: str) -> int | None:
    """The record id of a SequenceNumber, or None when it is not one."""
    if not isinstance(text, str) or not text.isdigit() or not 21 <= len(text) <= 40:
        return None
    return int(text)


def next_id() -> int:
    """An id no record has yet: every record written from now on has this
    one or a higher one (ids only grow)."""
    return (StreamRecord.objects.aggregate(last=Max("id"))["last"] or 0) + 1


def parse_arn(arn: str) -> dict | None:
    found = STREAM_ARN_RE.match(arn or "")
    return found.groupdict() if found else None


def find(team: Team | None, arn: str) -> Stream | None:
    """The stream `arn` names, when it exists (and belongs to `team`, unless
    None: the mapping poller reads for any team that owns the mapping)."""
    parts = parse_arn(arn)
    if parts is None or parts["region"] != settings.STRATUS_REGION:
        return None
    if team is not None and parts["account"] != team.account_id:
        return None
    table = (Table.objects.select_related("team")
             .filter(name=parts["table"], team__account_id=parts["account"]).first())
    if table is None:
        return None
    label = parts["label"]
    if table.stream_label == label or StreamRecord.objects.filter(table=table, stream_label=label).exists():
        return Stream(table, label)
    return None


def streams_of(team: Team, table_name: str | None = None) -> list[Stream]:
    """The team's streams (of table `table_name` only, when given), ordered
    by table name then label: each table's current stream and every older
    one that still has records."""
    tables = Table.objects.filter(team=team).select_related("team").order_by("name")
    if table_name is not None:
        tables = tables.filter(name=table_name)
    tables = list(tables)
    older: dict = {}
    rows = (StreamRecord.objects.filter(table__in=tables).values_list("table_id", "stream_label").distinct())
    for table_id, label in rows:
        older.setdefault(table_id, set()).add(label)
    found = []
    for table in tables:
        labels = older.get(table.id, set()) | ({table.stream_label} if table.stream_label else set())
        found += [Stream(table, label) for label in sorted(labels)]
    return found


def read(stream: Stream, after: int | None, limit: int) -> list[StreamRecord]:
    """Up to `limit` records of the stream with an id above `after` (None:
    from the oldest kept), in order."""
    records = stream.records()
    if after is not None:
        records = records.filter(id__gt=after)
    return list(records.order_by("id")[:limit])


def _load(text: str | None) -> dict | None:
    return json.loads(text) if text is not None else None


def event_id(record: StreamRecord) -> str:
    """eventID: unique per record (32 hex digits, as DynamoDB's)."""
    return hashlib.md5(f"{record.table_id}/{record.id}".encode(), usedforsecurity=False).hexdigest()


def record_shape(record: StreamRecord, *, epoch: bool) -> dict:
    """The record as DynamoDB Streams' `Record`: eventID, eventName,
    eventVersion, eventSource, awsRegion, dynamodb (StreamRecord) and,
    for TTL deletions, userIdentity. ApproximateCreationDateTime is
    rounded down to the second ("in UNIX epoch time format and rounded
    down to the closest second"): an int when `epoch` (Lambda's event),
    else a datetime for the API's serializer."""
    created = record.created_at.replace(microsecond=0)
    body: dict = {
        "ApproximateCreationDateTime": int(created.timestamp()) if epoch else created,
        "Keys": json.loads(record.keys),
    }
    if record.new_image is not None:
        body["NewImage"] = _load(record.new_image)
    if record.old_image is not None:
        body["OldImage"] = _load(record.old_image)
    body.update(
        SequenceNumber=sequence_number(record.id), SizeBytes=record.size_bytes,
        StreamViewType=record.view_type,
    )
    shape = {
        "eventID": event_id(record), "eventName": record.event_name, "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE, "awsRegion": settings.STRATUS_REGION, "dynamodb": body,
    }
    if record.user_identity:
        # Identity: {"type": "Service", "principalId": "dynamodb.amazonaws.com"};
        # the API names its members PrincipalId / Type.
        identity = record.user_identity
        shape["userIdentity"] = identity if epoch else {
            "PrincipalId": identity.get("principalId"), "Type": identity.get("type"),
        }
    return shape


def lambda_event(record: StreamRecord, stream_arn: str) -> dict:
    """The entry of a Lambda event's `Records` for the record (AWS Lambda
    Developer Guide, "Using AWS Lambda with Amazon DynamoDB"): the
    stream's record with eventSourceARN."""
    shape = record_shape(record, epoch=True)
    shape["eventSourceARN"] = stream_arn
    return shape
