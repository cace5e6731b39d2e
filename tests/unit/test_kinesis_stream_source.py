"""The Kinesis stream as a source of event source mappings
(kinesis.stream_source, registered as kind "kinesis" in mappings.sources):
its shards, reads, starting positions, and the Lambda event records it
builds, compared key for key and type for type with AWS's documented
Kinesis event (tests/fixtures/aws_events/kinesis_event.json) and parsed
with AWS Lambda Powertools' KinesisDataStreamModel."""

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel
from django.utils import timezone

from awsapi import arns
from kinesis import records, streams
from kinesis.models import Record as Row
from mappings import sources, wakeups
from tests.integration.test_event_shapes import mismatches

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "aws_events" / "kinesis_event.json"


@pytest.fixture
def stream(team):
    return streams.create(team, "events", 2)


def put(stream, *pairs):
    return records.put(stream, [records.entry(key, data) for key, data in pairs])


def test_the_kind_is_registered_for_kinesis_stream_arns(stream, team):
    source = sources.for_arn(stream.arn)
    assert source is sources.of_kind("kinesis") and source.kind == "kinesis"
    assert sources.for_arn(f"arn:aws:sqs:us-east-1:{team.account_id}:events") is not source
    assert not source.matches(f"arn:aws:kinesis:eu-west-1:{team.account_id}:stream/events")
    assert source.exists(team, stream.arn)
    assert not source.exists(team, arns.kinesis_stream_arn(team.account_id, "other"))


def test_a_stream_belongs_to_its_team_only(stream, users):
    from functions.models import Team

    other = Team.objects.create(name="beta")
    assert not sources.of_kind("kinesis").exists(other, stream.arn)


def test_shards_come_parents_first_with_closed_flags(stream):
    source = sources.of_kind("kinesis")
    assert [(s.shard_id, s.parent_shard_id, s.closed) for s in source.shards(stream.arn)] == [
        ("shardId-000000000000", None, False), ("shardId-000000000001", None, False)]
    streams.reshard(stream, 3)
    shards = source.shards(stream.arn)
    assert [s.shard_id for s in shards] == [f"shardId-00000000000{n}" for n in range(5)]
    assert [s.closed for s in shards] == [True, True, False, False, False]
    seen = set()
    for shard in shards:
        assert shard.parent_shard_id is None or shard.parent_shard_id in seen
        seen.add(shard.shard_id)


def test_read_returns_records_after_a_sequence_number_in_order(stream):
    source = sources.of_kind("kinesis")
    stored = put(stream, *[("same-key", b"%d" % n) for n in range(6)])
    shard_id = stored[0][0].shard_id
    numbers = [row.id for _, row in stored]
    got = source.read(stream.arn, shard_id, None, 4)
    assert [r.sequence_number for r in got] == numbers[:4]
    assert [base64.b64decode(r.event["kinesis"]["data"]) for r in got] == [b"0", b"1", b"2", b"3"]
    assert [r.sequence_number for r in source.read(stream.arn, shard_id, numbers[3], 10)] == numbers[4:]
    assert source.read(stream.arn, shard_id, numbers[-1], 10) == []
    assert got[0].size == len(b"0") + len(b"same-key")


def test_positions_for_each_starting_kind(stream):
    source = sources.of_kind("kinesis")
    stored = put(stream, *[("k", b"%d" % n) for n in range(3)])
    shard_id = stored[0][0].shard_id
    numbers = [row.id for _, row in stored]
    assert source.position(stream.arn, shard_id, "TRIM_HORIZON", None) is None
    assert source.position(stream.arn, shard_id, "LATEST", None) == numbers[-1]
    Row.objects.filter(id=numbers[0]).update(arrival=timezone.now() - timedelta(hours=2))
    at = timezone.now() - timedelta(hours=1)
    assert source.position(stream.arn, shard_id, "AT_TIMESTAMP", at) == numbers[0]
    assert [r.sequence_number for r in source.read(stream.arn, shard_id, numbers[0], 10)] == numbers[1:]
    future = timezone.now() + timedelta(hours=1)
    assert source.position(stream.arn, shard_id, "AT_TIMESTAMP", future) == numbers[-1]
    assert source.wake_channel(stream.arn) == wakeups.channel(stream.arn)


def test_the_event_record_has_aws_lambdas_shape(stream, team):
    source = sources.of_kind("kinesis")
    stored = put(stream, ("1", b"Hello, this is a test."), ("1", bytes([0, 255, 10])))
    shard_id = stored[0][0].shard_id
    got = source.read(stream.arn, shard_id, None, 10)
    documented = json.loads(FIXTURE.read_text())
    event = {"Records": [r.event for r in got]}
    assert mismatches(event, documented) == []
    first = got[0].event
    sequence = f"{stored[0][1].id:056d}"
    assert first["kinesis"] == {
        "kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": sequence,
        "data": base64.b64encode(b"Hello, this is a test.").decode(),
        "approximateArrivalTimestamp": round(stored[0][1].arrival.timestamp(), 3),
    }
    assert first["eventID"] == f"{shard_id}:{sequence}"
    assert first["eventSourceARN"] == stream.arn
    assert first["awsRegion"] == "us-east-1"
    assert first["invokeIdentityArn"].startswith(f"arn:aws:iam::{team.account_id}:role/")
    parsed = KinesisDataStreamModel(**event)
    assert [r.kinesis.data for r in parsed.Records] == [b"Hello, this is a test.", bytes([0, 255, 10])]


def test_records_past_retention_are_not_read(stream):
    source = sources.of_kind("kinesis")
    stored = put(stream, ("k", b"old"), ("k", b"new"))
    Row.objects.filter(id=stored[0][1].id).update(arrival=timezone.now() - timedelta(hours=25))
    got = source.read(stream.arn, stored[0][0].shard_id, None, 10)
    assert [base64.b64decode(r.event["kinesis"]["data"]) for r in got] == [b"new"]


def test_a_merged_shard_names_its_adjacent_parent_too(stream):
    """2 -> 1 merges both shards: the child has a parent and an adjacent
    parent, and the pollers finish both before reading it."""
    source = sources.of_kind("kinesis")
    streams.reshard(stream, 1)
    child = source.shards(stream.arn)[-1]
    assert not child.closed
    parents = {child.parent_shard_id, child.adjacent_parent_shard_id}
    assert parents == {"shardId-000000000000", "shardId-000000000001"}
