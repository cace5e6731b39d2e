"""Kinesis streams as a source of event source mappings (kind "kinesis",
ARN `arn:aws:kinesis:<region>:<account>:stream/<name>`), registered into
mappings.sources from KinesisConfig.ready().

`Record.event` is an entry of the Lambda event's `Records` as AWS Lambda
sends it (Lambda Developer Guide, "Using AWS Lambda with Amazon Kinesis",
example event): `kinesis` {kinesisSchemaVersion "1.0", partitionKey,
sequenceNumber, data (base64), approximateArrivalTimestamp (epoch seconds,
a float)}, eventSource "aws:kinesis", eventVersion "1.0", eventID
"<shardId>:<sequenceNumber>", eventName "aws:kinesis:record",
invokeIdentityArn, awsRegion, eventSourceARN. The source does not know the
mapping's function: invokeIdentityArn is the account's
`role/stratus-event-source-mapping` role, and the poller puts the
function's execution role (Function.role) there when it has one
(mappings.stream_batches.payload)."""

from __future__ import annotations

import base64
import functools
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from awsapi import arns
from functions.models import Team
from kinesis import records, streams
from kinesis.models import Record as Row
from kinesis.models import Shard as ShardRow
from kinesis.models import Stream, sequence_text, shard_id_of
from mappings import sources, wakeups
from mappings.sources import Record, Shard


def _name(arn: str) -> tuple[str, str] | None:
    """(account, stream name) of a Kinesis stream ARN of this region."""
    try:
        parsed = arns.parse(arn)
    except arns.ArnError:
        return None
    if parsed.service != "kinesis" or parsed.region != settings.STRATUS_REGION:
        return None
    if not parsed.resource.startswith("stream/") or "/" in parsed.resource[7:]:
        return None
    return parsed.account, parsed.resource[7:]


def event_of(row: Row, shard_id: str, stream_arn: str, account: str) -> dict:
    sequence = sequence_text(row.id)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": row.partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(bytes(row.data)).decode(),
            # Milliseconds, as Kinesis keeps them.
            "approximateArrivalTimestamp": round(row.arrival.timestamp(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{account}:role/stratus-event-source-mapping",
        "awsRegion": settings.STRATUS_REGION,
        "eventSourceARN": stream_arn,
    }


@functools.lru_cache(maxsize=256)
def _overlapping_before(ranges: tuple[tuple[int, str, str], ...]) -> tuple[tuple[str, ...], ...]:
    """For each kept shard, given as (index, hash_start, hash_end) in index
    order, the ids of the kept shards created before it whose hash ranges
    overlap its own: they hold older records of some of its keys, so a
    poller finishes them first. UNIFORM_SCALING (streams.reshard) can give a
    child more than the two parents ParentShardId and AdjacentParentShardId
    name (5 -> 3 shards); earlier ancestors are listed too, harmlessly (they
    finish before their children).

    Quadratic in the shards kept, and asked every poller round: cached by
    the layout, which only a reshard or the retention period changes (a
    shard's index and hash range never change, so equal layouts have equal
    answers, whichever stream)."""
    bounds = [(index, int(low), int(high)) for index, low, high in ranges]
    return tuple(
        tuple(
            shard_id_of(other) for other, other_low, other_high in bounds
            if other < index and other_low <= high and low <= other_high
        )
        for index, low, high in bounds
    )


class KinesisSource:
    kind = "kinesis"

    def matches(self, arn: str) -> bool:
        return _name(arn) is not None

    def _stream(self, arn: str) -> Stream | None:
        found = _name(arn)
        if found is None:
            return None
        account, name = found
        return Stream.objects.select_related("team").filter(team__account_id=account, name=name).first()

    def exists(self, team: Team, arn: str) -> bool:
        stream = self._stream(arn)
        return stream is not None and stream.team_id == team.id

    def shards(self, arn: str) -> list[Shard]:
        stream = self._stream(arn)
        if stream is None:
            return []
        # By index: a child is always created after its parents.
        kept = list(streams.kept_shards(stream))
        afters = _overlapping_before(tuple((s.index, s.hash_start, s.hash_end) for s in kept))
        return [Shard(s.shard_id, s.parent_shard_id, s.closed, s.adjacent_parent_shard_id,
                      after=after, generation=str(stream.id))
                for s, after in zip(kept, afters, strict=True)]

    def _shard(self, arn: str, shard_id: str) -> tuple[Stream, ShardRow] | None:
        stream = self._stream(arn)
        shard = None if stream is None else streams.shard_by_id(stream, shard_id)
        return None if shard is None else (stream, shard)

    def read(self, arn: str, shard_id: str, after: int | None, limit: int) -> list[Record]:
        found = self._shard(arn, shard_id)
        if found is None:
            return []
        stream, shard = found
        start = shard.starting_sequence - 1 if after is None else after
        rows, _ = records.read(stream, shard, start, limit)
        account = stream.team.account_id
        return [
            Record(row.id, row.arrival, len(row.data) + len(row.partition_key.encode()),
                   event_of(row, shard_id, arn, account))
            for row in rows
        ]

    def position(self, arn: str, shard_id: str, starting: str, at: datetime | None) -> int | None:
        found = self._shard(arn, shard_id)
        if found is None or starting == "TRIM_HORIZON":
            return None
        stream, shard = found
        if starting == "AT_TIMESTAMP" and at is None:
            return None
        if starting == "AT_TIMESTAMP" and at > timezone.now():
            starting = "LATEST"  # Nothing arrived after a time to come: from the newest on.
        after = records.start_after(stream, shard, starting, at=at)
        return None if after < shard.starting_sequence else after

    def wake_channel(self, arn: str) -> str:
        return wakeups.channel(arn)


def register() -> None:
    sources.register(KinesisSource())
