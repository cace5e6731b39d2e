"""Kinesis Data Streams' operations, as boto3's `kinesis` client and the
AWS CLI call them through the AWS front door (awsapi.door; JSON 1.1,
`X-Amz-Target: Kinesis_20131202.<Op>`). Each handler is named after the
operation, takes the caller's context and the parsed parameters (Data as
bytes, timestamps as aware datetimes) and returns the output as boto3
shows it. Streams belong to the caller's team; wherever boto3 offers
StreamARN it names the stream as StreamName does. Shapes and words:
Amazon Kinesis Data Streams API Reference."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.core import signing
from django.db.models import Q
from django.utils import timezone

from awsapi import services
from kinesis import errors, iam_resources, records, streams
from kinesis.models import Shard, Stream, sequence_text, shard_id_of
from kinesis.records import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_GET_RECORDS

_TOKEN_SALT = "kinesis.next-token"
SHARD_ID_RE = r"^shardId-\d{12}$"


def _number(params: dict, name: str, member: str, low: int, high: int, default=None):
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.validation(value, member, f"Member must have value between {low} and {high}")
    return value


def _stream_name(context: services.Context, params: dict) -> str:
    name, arn = params.get("StreamName"), params.get("StreamARN")
    if arn:
        from_arn = streams.name_of_arn(context.team, arn)
        if name and name != from_arn:
            raise errors.invalid(f"StreamARN {arn} and StreamName {name} name different streams.")
        return from_arn
    if not name:
        raise errors.invalid("Either StreamName or StreamARN should be provided.")
    return streams.check_name(name)


def _stream(context: services.Context, params: dict) -> Stream:
    return streams.get(context.team, _stream_name(context, params))


def _mode(stream: Stream) -> dict:
    return {"StreamMode": stream.mode}


def _hash_range(shard: Shard) -> dict:
    return {"StartingHashKey": str(int(shard.hash_start)), "EndingHashKey": str(int(shard.hash_end))}


def _shard_out(shard: Shard) -> dict:
    out = {"ShardId": shard.shard_id}
    if shard.parent_shard_id:
        out["ParentShardId"] = shard.parent_shard_id
    if shard.adjacent_parent_shard_id:
        out["AdjacentParentShardId"] = shard.adjacent_parent_shard_id
    out["HashKeyRange"] = _hash_range(shard)
    sequences = {"StartingSequenceNumber": sequence_text(shard.starting_sequence)}
    if shard.ending_sequence is not None:
        sequences["EndingSequenceNumber"] = sequence_text(shard.ending_sequence)
    out["SequenceNumberRange"] = sequences
    return out


def _shard(stream: Stream, shard_id) -> Shard:
    found = None
    if isinstance(shard_id, str) and re.fullmatch(SHARD_ID_RE, shard_id):
        found = streams.kept_shards(stream).filter(index=int(shard_id[8:])).first()
    if found is None:
        raise errors.not_found_shard(shard_id, stream)
    return found


# Streams -----------------------------------------------------------------------


def create_stream(context: services.Context, params: dict) -> dict:
    name = streams.check_name(params.get("StreamName"))
    mode = (params.get("StreamModeDetails") or {}).get("StreamMode") or "PROVISIONED"
    if mode not in ("PROVISIONED", "ON_DEMAND"):
        raise errors.validation(mode, "streamModeDetails.streamMode",
                                "Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]")
    count = _number(params, "ShardCount", "shardCount", 1, 10000)
    if mode == "ON_DEMAND":
        count = streams.ON_DEMAND_SHARDS
    elif count is None:
        raise errors.invalid("ShardCount is required for a stream in PROVISIONED mode; "
                             "give ShardCount or StreamModeDetails={'StreamMode': 'ON_DEMAND'}.")
    streams.create(context.team, name, count, mode, _tags_in(params.get("Tags") or {}))
    return {}


def delete_stream(context: services.Context, params: dict) -> dict:
    # EnforceConsumerDeletion is accepted: Stratus streams have no registered consumers.
    streams.delete(_stream(context, params))
    return {}


def describe_stream(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    limit = _number(params, "Limit", "limit", 1, 10000, 100)
    shards = streams.kept_shards(stream)
    start = params.get("ExclusiveStartShardId")
    if start:
        shards = shards.filter(index__gt=_index_of(start))
    page = list(shards[: limit + 1])
    return {"StreamDescription": {
        "StreamName": stream.name, "StreamARN": stream.arn, "StreamStatus": "ACTIVE",
        "StreamModeDetails": _mode(stream),
        "Shards": [_shard_out(s) for s in page[:limit]], "HasMoreShards": len(page) > limit,
        "RetentionPeriodHours": stream.retention_hours, "StreamCreationTimestamp": stream.created_at,
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}], "EncryptionType": "NONE",
    }}


def describe_stream_summary(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    return {"StreamDescriptionSummary": {
        "StreamName": stream.name, "StreamARN": stream.arn, "StreamStatus": "ACTIVE",
        "StreamModeDetails": _mode(stream), "RetentionPeriodHours": stream.retention_hours,
        "StreamCreationTimestamp": stream.created_at, "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE", "OpenShardCount": len(streams.open_shards(stream)), "ConsumerCount": 0,
    }}


def list_streams(context: services.Context, params: dict) -> dict:
    limit = _number(params, "Limit", "limit", 1, 10000, 100)
    found = Stream.objects.select_related("team").filter(team=context.team).order_by("name")
    after = params.get("ExclusiveStartStreamName")
    if params.get("NextToken"):
        after = _token(params["NextToken"], "stream")
    if after:
        found = found.filter(name__gt=after)
    page = list(found[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    output = {
        "StreamNames": [s.name for s in page], "HasMoreStreams": more,
        "StreamSummaries": [{
            "StreamName": s.name, "StreamARN": s.arn, "StreamStatus": "ACTIVE",
            "StreamModeDetails": _mode(s), "StreamCreationTimestamp": s.created_at,
        } for s in page],
    }
    if more:
        output["NextToken"] = signing.dumps({"stream": page[-1].name}, salt=_TOKEN_SALT)
    return output


def _token(text, kind: str):
    try:
        return signing.loads(str(text), salt=_TOKEN_SALT)[kind]
    except (signing.BadSignature, KeyError, TypeError):
        raise errors.invalid(f"NextToken {str(text)[:64]} is invalid: give the NextToken "
                             "the previous call answered.") from None


def _index_of(shard_id) -> int:
    if not isinstance(shard_id, str) or not re.fullmatch(SHARD_ID_RE, shard_id):
        raise errors.invalid(f"Invalid shard id {shard_id}: shard ids look like shardId-000000000000.")
    return int(shard_id[8:])


def update_shard_count(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    target = params.get("TargetShardCount")
    if target is None:
        raise errors.validation(None, "targetShardCount", "Member must not be null")
    _number(params, "TargetShardCount", "targetShardCount", 1, 10000)
    if params.get("ScalingType") != "UNIFORM_SCALING":
        raise errors.validation(params.get("ScalingType"), "scalingType",
                                "Member must satisfy enum value set: [UNIFORM_SCALING]")
    current = streams.reshard(stream, target)
    return {"StreamName": stream.name, "CurrentShardCount": current, "TargetShardCount": target,
            "StreamARN": stream.arn}


def list_shards(context: services.Context, params: dict) -> dict:
    limit = _number(params, "MaxResults", "maxResults", 1, 10000, 1000)
    token = params.get("NextToken")
    if token:
        if params.get("StreamName") or params.get("StreamARN"):
            raise errors.invalid("NextToken and StreamName cannot be provided together.")
        if params.get("ExclusiveStartShardId") or params.get("ShardFilter"):
            raise errors.invalid("NextToken cannot be given with ExclusiveStartShardId or ShardFilter.")
        state = _token(token, "shards")
        stream = Stream.objects.select_related("team").filter(team=context.team, id=state["s"]).first()
        if stream is None:
            raise errors.invalid("NextToken names a stream that no longer exists.")
        shards = streams.kept_shards(stream).filter(index__gt=state["i"])
        shards = _filtered(shards, state.get("f"))
    else:
        stream = _stream(context, params)
        shards = streams.kept_shards(stream)
        if params.get("ExclusiveStartShardId"):
            shards = shards.filter(index__gt=_index_of(params["ExclusiveStartShardId"]))
        shard_filter = _filter_in(stream, params.get("ShardFilter"))
        shards = _filtered(shards, shard_filter)
        state = {"f": shard_filter}
    page = list(shards[: limit + 1])
    output: dict = {"Shards": [_shard_out(s) for s in page[:limit]]}
    if len(page) > limit:
        output["NextToken"] = signing.dumps(
            {"shards": {"s": str(stream.id), "i": page[limit - 1].index, "f": state.get("f")}},
            salt=_TOKEN_SALT,
        )
    return output


def _filter_in(stream: Stream, given) -> dict | None:
    """ShardFilter as {"type", "after" (shard index), "at" (epoch seconds)}."""
    if not given:
        return None
    kind = given.get("Type")
    kinds = ("AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP",
             "FROM_TIMESTAMP")
    if kind not in kinds:
        raise errors.validation(kind, "shardFilter.type",
                                "Member must satisfy enum value set: [" + ", ".join(kinds) + "]")
    out = {"type": kind}
    if kind == "AFTER_SHARD_ID":
        if not given.get("ShardId"):
            raise errors.invalid("ShardFilter of type AFTER_SHARD_ID needs a ShardId.")
        out["after"] = _index_of(given["ShardId"])
    if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
        if not given.get("Timestamp"):
            raise errors.invalid(f"ShardFilter of type {kind} needs a Timestamp.")
        out["at"] = given["Timestamp"].timestamp()
    if kind in ("AT_TRIM_HORIZON", "FROM_TRIM_HORIZON"):
        out["type"] = kind.replace("TRIM_HORIZON", "TIMESTAMP")
        out["at"] = (timezone.now() - timedelta(hours=stream.retention_hours)).timestamp()
    return out


def _filtered(shards, shard_filter: dict | None):
    """ShardFilter's types: AT_LATEST the open shards; AFTER_SHARD_ID those
    after the given one; AT_TIMESTAMP those open at the time (an original
    shard counts as open since before the stream's start, so a trim horizon
    before it finds them); FROM_TIMESTAMP those and every shard after them.
    The TRIM_HORIZON types are the TIMESTAMP ones at the trim horizon."""
    if not shard_filter:
        return shards
    kind = shard_filter["type"]
    if kind == "AT_LATEST":
        return shards.filter(closed_at__isnull=True)
    if kind == "AFTER_SHARD_ID":
        return shards.filter(index__gt=shard_filter["after"])
    at = datetime.fromtimestamp(shard_filter["at"], UTC)
    still_open = Q(closed_at__isnull=True) | Q(closed_at__gt=at)
    if kind == "FROM_TIMESTAMP":
        return shards.filter(still_open)
    return shards.filter(still_open).filter(Q(created_at__lte=at) | Q(parent_index__isnull=True))


def _retention(increase: bool):
    def handler(context: services.Context, params: dict) -> dict:
        streams.set_retention(_stream(context, params), params.get("RetentionPeriodHours"), increase=increase)
        return {}

    return handler


# Tags --------------------------------------------------------------------------


def _tags_in(tags) -> dict:
    if not isinstance(tags, dict):
        raise errors.invalid("Tags must be a map of tag keys to values.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise errors.invalid(f"Tag key {key!r} must be 1 to 128 characters long.")
        if len(value) > 256:
            raise errors.invalid(f"Tag value of {key} must be at most 256 characters long.")
    return dict(tags)


def add_tags_to_stream(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    tags = _tags_in(params.get("Tags") or {})
    if not tags:
        raise errors.validation(None, "tags", "Member must have length greater than or equal to 1")
    if len(tags) > 10:
        raise errors.invalid(
            f"Failed to add tags to stream {stream.name} under account {context.team.account_id} "
            "because a given request cannot have more than 10 tags."
        )
    merged = {**stream.tags, **tags}
    if len(merged) > 50:
        raise errors.limit(f"Failed to add tags to stream {stream.name} under account "
                           f"{context.team.account_id} because a stream cannot have more than 50 tags.")
    Stream.objects.filter(pk=stream.pk).update(tags=merged)
    return {}


def list_tags_for_stream(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    limit = _number(params, "Limit", "limit", 1, 50, 50)
    keys = sorted(stream.tags)
    start = params.get("ExclusiveStartTagKey")
    if start:
        keys = [k for k in keys if k > start]
    return {"Tags": [{"Key": k, "Value": stream.tags[k]} for k in keys[:limit]],
            "HasMoreTags": len(keys) > limit}


def remove_tags_from_stream(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    keys = params.get("TagKeys") or []
    if not keys:
        raise errors.validation(None, "tagKeys", "Member must have length greater than or equal to 1")
    if len(keys) > 50:
        raise errors.validation(keys, "tagKeys", "Member must have length less than or equal to 50")
    Stream.objects.filter(pk=stream.pk).update(tags={k: v for k, v in stream.tags.items() if k not in keys})
    return {}


# Records -----------------------------------------------------------------------


def put_record(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    one = records.entry(params.get("PartitionKey"), params.get("Data"), params.get("ExplicitHashKey"))
    if params.get("DryRun"):
        raise errors.dry_run()
    # SequenceNumberForOrdering is accepted: sequence numbers already increase per partition key.
    ((shard, row),) = records.put(stream, [one])
    return {"ShardId": shard.shard_id, "SequenceNumber": row.sequence_number}


def put_records(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    given = params.get("Records") or []
    if not 1 <= len(given) <= MAX_BATCH_RECORDS:
        bound = "less than or equal to 500" if given else "greater than or equal to 1"
        raise errors.validation(None, "records", f"Member must have length {bound}")
    entries = [
        records.entry(r.get("PartitionKey"), r.get("Data"), r.get("ExplicitHashKey"), f"records.{n}.member.")
        for n, r in enumerate(given, 1)
    ]
    total = sum(len(e.data) + len(e.partition_key.encode()) for e in entries)
    if total > MAX_BATCH_BYTES:
        raise errors.invalid(f"Records size exceeds {MAX_BATCH_BYTES // 1024 // 1024} MB limit: the "
                             f"request holds {total} bytes of data and partition keys.")
    if params.get("DryRun"):
        raise errors.dry_run()
    stored = records.put(stream, entries)
    # Per-record failures (ProvisionedThroughputExceededException,
    # InternalFailure) come from throughput and service faults, which
    # Stratus does not have: a record either goes in with the batch or the
    # whole request is refused.
    return {"FailedRecordCount": 0, "Records": [
        {"SequenceNumber": row.sequence_number, "ShardId": shard.shard_id} for shard, row in stored
    ]}


def get_shard_iterator(context: services.Context, params: dict) -> dict:
    stream = _stream(context, params)
    shard = _shard(stream, params.get("ShardId"))
    after = records.start_after(stream, shard, params.get("ShardIteratorType"),
                                params.get("StartingSequenceNumber"), params.get("Timestamp"))
    if params.get("DryRun"):
        raise errors.dry_run()
    return {"ShardIterator": records.iterator(stream, shard, after)}


def get_records(context: services.Context, params: dict) -> dict:
    if not params.get("ShardIterator"):
        raise errors.validation(None, "shardIterator", "Member must not be null")
    position = records.decode(params["ShardIterator"])
    limit = _number(params, "Limit", "limit", 1, MAX_GET_RECORDS, MAX_GET_RECORDS)
    stream = Stream.objects.select_related("team").filter(team=context.team, id=position.stream_id).first()
    if stream is None:
        raise errors.gone("The stream this ShardIterator reads no longer exists.")
    if params.get("StreamARN") and params["StreamARN"] != stream.arn:
        raise errors.invalid(f"StreamARN {params['StreamARN']} is not the stream of this ShardIterator "
                             f"({stream.arn}).")
    shard = Shard.objects.filter(stream=stream, index=position.shard_index).first()
    if shard is None:
        raise errors.not_found_shard(shard_id_of(position.shard_index), stream)
    if params.get("DryRun"):
        raise errors.dry_run()
    now = timezone.now()
    rows, at_end = records.read(stream, shard, position.after, limit, records.MAX_GET_BYTES, now=now)
    output: dict = {"Records": [records.record_out(r) for r in rows]}
    last = rows[-1].id if rows else position.after
    output["MillisBehindLatest"] = 0 if at_end or not rows else max(
        0, int((now - rows[-1].arrival).total_seconds() * 1000))
    if shard.closed and at_end:
        output["ChildShards"] = [{
            "ShardId": c.shard_id, "HashKeyRange": _hash_range(c),
            "ParentShards": [p for p in (c.parent_shard_id, c.adjacent_parent_shard_id) if p],
        } for c in records.child_shards(shard)]
    else:
        output["NextShardIterator"] = records.iterator(stream, shard, last)
    return output


READS = {"DescribeStream", "DescribeStreamSummary", "ListStreams", "ListShards", "ListTagsForStream",
         "GetShardIterator", "GetRecords"}


def register() -> None:
    services.register(
        "kinesis",
        {
            "CreateStream": create_stream,
            "DeleteStream": delete_stream,
            "DescribeStream": describe_stream,
            "DescribeStreamSummary": describe_stream_summary,
            "ListStreams": list_streams,
            "UpdateShardCount": update_shard_count,
            "ListShards": list_shards,
            "IncreaseStreamRetentionPeriod": _retention(True),
            "DecreaseStreamRetentionPeriod": _retention(False),
            "AddTagsToStream": add_tags_to_stream,
            "ListTagsForStream": list_tags_for_stream,
            "RemoveTagsFromStream": remove_tags_from_stream,
            "PutRecord": put_record,
            "PutRecords": put_records,
            "GetShardIterator": get_shard_iterator,
            "GetRecords": get_records,
        },
        reads=READS,
        resources=iam_resources.kinesis,
        # PutRecords: 5 MiB of data, base64 in JSON (4/3), with room for the framing.
        max_body=8 * 1024 * 1024,
    )
