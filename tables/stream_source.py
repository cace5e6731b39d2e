"""DynamoDB streams as event sources of Lambda mappings: the
`mappings.sources.StreamSource` of kind "dynamodb", registered from
tables.apps. ARNs: `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`.
Each stream has one shard (tables.stream_reads), so a mapping reads it
in one ordered line; `Record.event` is the entry of the Lambda event's
`Records` exactly as Lambda sends it (tables.stream_reads.lambda_event)."""

from __future__ import annotations

from datetime import datetime

from functions.models import Team
from mappings import wakeups
from mappings.sources import Record, Shard
from tables import stream_reads


class DynamoDBStreamSource:
    kind = "dynamodb"

    def matches(self, arn: str) -> bool:
        return stream_reads.parse_arn(arn) is not None

    def exists(self, team: Team, arn: str) -> bool:
        return stream_reads.find(team, arn) is not None

    def shards(self, arn: str) -> list[Shard]:
        """The stream's one shard, `closed` once the stream is disabled (its
        records stay readable); none when the stream is gone."""
        stream = stream_reads.find(None, arn)
        if stream is None:
            return []
        return [Shard(stream.shard_id, closed=not stream.enabled)]

    def read(self, arn: str, shard_id: str, after: int | None, limit: int) -> list[Record]:
        stream = stream_reads.find(None, arn)
        if stream is None or shard_id != stream.shard_id:
            return []
        return [
            Record(
                sequence_number=r.id, arrival=r.created_at, size=r.size_bytes,
                event=stream_reads.lambda_event(r, stream.arn),
            )
            for r in stream_reads.read(stream, after, limit)
        ]

    def position(self, arn: str, shard_id: str, starting: str, at: datetime | None) -> int | None:
        """TRIM_HORIZON: None; LATEST: the shard's last record (0 when it
        has none); AT_TIMESTAMP: the last record created before `at`."""
        stream = stream_reads.find(None, arn)
        if stream is None or starting == "TRIM_HORIZON":
            return None
        if starting == "AT_TIMESTAMP" and at is not None:
            return stream.before(at)
        return stream.latest()

    def wake_channel(self, arn: str) -> str:
        return wakeups.channel(arn)
