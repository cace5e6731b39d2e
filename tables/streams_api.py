"""DynamoDB Streams' operations, as boto3's `dynamodbstreams` client and the
AWS CLI (`aws dynamodbstreams ...`) call them through the AWS front door
(botocore service "dynamodbstreams": JSON 1.0, X-Amz-Target
`DynamoDBStreams_20120810.<Op>`, signed as "dynamodb"; the door tells it
from DynamoDB by the target). Streams and their records are
tables.stream_reads'; iterators tables.stream_iterators'; IAM's names
for its calls tables.iam_resources'.

Source: Amazon DynamoDB API Reference, "Amazon DynamoDB Streams":
ListStreams, DescribeStream, GetShardIterator, GetRecords, their limits
(Limit up to 100 streams or shards, up to 1000 records) and errors."""

from __future__ import annotations

from datetime import datetime

from awsapi import services
from awsapi.protocols import ServiceError
from tables import iam_resources, stream_iterators, stream_reads, wire
from tables.models import Table
from tables.stream_iterators import Position
from tables.stream_reads import Stream, sequence_number

MAX_STREAMS = 100
MAX_SHARDS = 100
MAX_RECORDS = 1000
# "GetRecords can retrieve a maximum of 1 MB of data or 1000 stream records,
# whichever comes first" (API Reference, GetRecords).
MAX_RECORDS_BYTES = 1024 * 1024
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP")


def _limit(params: dict, most: int) -> int:
    value = params.get("Limit")
    if value is None:
        return most
    if not isinstance(value, int) or not 1 <= value <= most:
        raise wire.constraint(
            value, "limit", f"have value less than or equal to {most} and greater than or equal to 1"
        )
    return value


def _required(params: dict, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise wire.validation(
            f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value


def _no_stream(arn: str) -> ServiceError:
    return wire.not_found(f"{wire.NOT_FOUND}: Stream: {arn} not found")


def _stream(context: services.Context, arn: str) -> Stream:
    if stream_reads.parse_arn(arn) is None:
        raise wire.validation(
            f"Invalid StreamArn: {arn!r} is not a stream ARN "
            "(arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>)."
        )
    found = stream_reads.find(context.team, arn)
    if found is None:
        raise _no_stream(arn)
    return found


def _shard(stream: Stream) -> dict:
    """The stream's one shard (Shard): its range starts at the oldest record
    kept (or, with none, at the next sequence number to come) and ends,
    once the stream is disabled, at its last record."""
    first, last = stream.bounds()
    starting = first if first is not None else stream_reads.next_id()
    numbers = {"StartingSequenceNumber": sequence_number(starting)}
    if not stream.enabled:
        numbers["EndingSequenceNumber"] = sequence_number(last if last is not None else starting)
    return {"ShardId": stream.shard_id, "SequenceNumberRange": numbers}


# Operations --------------------------------------------------------------------


def list_streams(context: services.Context, params: dict) -> dict:
    limit = _limit(params, MAX_STREAMS)
    table_name = params.get("TableName")
    if table_name is not None and not Table.objects.filter(team=context.team, name=table_name).exists():
        raise wire.table_not_found(table_name)
    streams = stream_reads.streams_of(context.team, table_name)
    start = params.get("ExclusiveStartStreamArn")
    if start:
        parts = stream_reads.parse_arn(start)
        if parts is None:
            raise wire.validation(f"Invalid ExclusiveStartStreamArn: {start!r} is not a stream ARN.")
        # After it in the listing's order, so a page goes on right even when
        # that stream has gone since (its records trimmed, its table deleted).
        streams = [s for s in streams if (s.table.name, s.label) > (parts["table"], parts["label"])]
    page = streams[:limit]
    output: dict = {
        "Streams": [{"StreamArn": s.arn, "TableName": s.table.name, "StreamLabel": s.label} for s in page]
    }
    if len(streams) > limit:
        output["LastEvaluatedStreamArn"] = page[-1].arn
    return output


def describe_stream(context: services.Context, params: dict) -> dict:
    stream = _stream(context, _required(params, "StreamArn"))
    limit = _limit(params, MAX_SHARDS)
    shards = [_shard(stream)]
    after = params.get("ExclusiveStartShardId")
    if after is not None:
        # One shard: a page after it is empty (and so after any other id).
        shards = []
    shard_filter = params.get("ShardFilter")
    if shard_filter:
        if shard_filter.get("Type") != "CHILD_SHARDS" or not shard_filter.get("ShardId"):
            raise wire.validation("ShardFilter needs Type CHILD_SHARDS and a ShardId.")
        shards = []  # a stream's one shard never splits, so it has no children
    description: dict = {
        "StreamArn": stream.arn, "StreamLabel": stream.label, "StreamStatus": stream.status,
        "CreationRequestDateTime": stream.created(), "TableName": stream.table.name,
        "KeySchema": stream.table.key_schema, "Shards": shards[:limit],
    }
    view = stream.view_type()
    if view:
        description["StreamViewType"] = view
    return {"StreamDescription": description}


def _start(stream: Stream, kind: str, params: dict) -> int | None:
    """`after` for a new iterator of type `kind` (see stream_iterators)."""
    number = params.get("SequenceNumber")
    if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if number is None:
            raise wire.validation(f"SequenceNumber is required for ShardIteratorType {kind}.")
        record_id = stream_reads.parse_sequence_number(number)
        if record_id is None:
            raise wire.validation(
                f"Invalid SequenceNumber: {number!r} is not a sequence number (21 to 40 digits)."
            )
        if not stream.records().filter(id=record_id).exists():
            first, _ = stream.bounds()
            if first is None or record_id < first:
                raise ServiceError(
                    "TrimmedDataAccessException",
                    f"The operation attempted to read past the oldest stream record in a shard: sequence "
                    f"number {number} is no longer kept (records are kept 24 hours).",
                )
            raise wire.validation(
                f"Invalid SequenceNumber: {number} is not a record of shard {stream.shard_id}."
            )
        return record_id - 1 if kind == "AT_SEQUENCE_NUMBER" else record_id
    if number is not None:
        raise wire.validation(
            f"SequenceNumber is only taken with AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER, not {kind}."
        )
    if kind == "TRIM_HORIZON":
        return None
    if kind == "LATEST":
        return stream.latest()
    at = params.get("Timestamp")
    if not isinstance(at, datetime):
        raise wire.validation("Timestamp is required for ShardIteratorType AT_TIMESTAMP.")
    return stream.before(at)


def get_shard_iterator(context: services.Context, params: dict) -> dict:
    arn = _required(params, "StreamArn")
    shard_id = _required(params, "ShardId")
    kind = _required(params, "ShardIteratorType")
    if kind not in ITERATOR_TYPES:
        raise wire.constraint(
            kind, "shardIteratorType", f"satisfy enum value set: [{', '.join(ITERATOR_TYPES)}]"
        )
    stream = _stream(context, arn)
    if shard_id != stream.shard_id:
        raise wire.not_found(f"{wire.NOT_FOUND}: Shard {shard_id} in stream {arn} not found")
    after = _start(stream, kind, params)
    return {"ShardIterator": stream_iterators.issue(Position(stream.arn, shard_id, after))}


def _within_bytes(records: list) -> list:
    """The records up to MAX_RECORDS_BYTES (SizeBytes), at least one."""
    total = 0
    for count, record in enumerate(records):
        total += record.size_bytes
        if total > MAX_RECORDS_BYTES and count:
            return records[:count]
    return records


def get_records(context: services.Context, params: dict) -> dict:
    position = stream_iterators.read(_required(params, "ShardIterator"))
    limit = _limit(params, MAX_RECORDS)
    stream = stream_reads.find(context.team, position.arn)
    if stream is None or stream.shard_id != position.shard_id:
        raise _no_stream(position.arn)
    records = _within_bytes(stream_reads.read(stream, position.after, limit))
    after = records[-1].id if records else position.after
    output: dict = {"Records": [stream_reads.record_shape(r, epoch=False) for r in records]}
    closed_and_read = not stream.enabled and not stream.records().filter(id__gt=after or 0).exists()
    if not closed_and_read:
        # No NextShardIterator: "the shard has been closed and the requested
        # iterator does not return any more data".
        output["NextShardIterator"] = stream_iterators.issue(Position(stream.arn, stream.shard_id, after))
    return output


def register() -> None:
    services.register(
        "dynamodbstreams",
        {
            "ListStreams": list_streams,
            "DescribeStream": describe_stream,
            "GetShardIterator": get_shard_iterator,
            "GetRecords": get_records,
        },
        reads={"ListStreams", "DescribeStream", "GetShardIterator", "GetRecords"},
        resources=iam_resources.dynamodbstreams,
    )
