"""DynamoDB streams as a source of event source mappings
(tables.stream_source, registered as kind "dynamodb"): its one shard,
reads after a checkpoint, starting positions, the wake channel, and the
Lambda event's records against AWS's documented DynamoDB stream event
(tests/fixtures/aws_events/dynamodb_stream_event.json; its source is in
the README there), key for key and type for type, and through AWS Lambda
Powertools' DynamoDBStreamModel."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel
from django.utils import timezone

from mappings import sources, wakeups
from tables.models import StreamRecord
from tables.stream_source import DynamoDBStreamSource
from tests.integration.test_event_shapes import mismatches
from tests.unit.test_ddb_streams_api import change, item, keys_of, make_table

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "aws_events" / "dynamodb_stream_event.json"
TTL = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


@pytest.fixture
def source():
    return DynamoDBStreamSource()


def test_it_is_registered_for_stream_arns_only(team):
    orders = make_table(team)
    found = sources.for_arn(orders.stream_arn)
    assert isinstance(found, DynamoDBStreamSource) and sources.of_kind("dynamodb") is found
    assert not found.matches(orders.arn)  # a table is not a stream
    assert not found.matches("arn:aws:kinesis:us-east-1:123456789012:stream/orders")


def test_it_knows_which_streams_a_team_owns(source, team, stranger_key):
    orders = make_table(team)
    other_team = stranger_key[0].team
    assert source.exists(team, orders.stream_arn)
    assert not source.exists(other_team, orders.stream_arn)
    assert not source.exists(team, orders.stream_arn.replace("orders", "nothere"))


def test_it_reads_one_shard_in_order_after_a_checkpoint(source, team):
    orders = make_table(team)
    written = [change(orders, None, item(f"k{i}", str(i))) for i in range(4)]
    (shard,) = source.shards(orders.stream_arn)
    assert shard.shard_id.startswith("shardId-") and not shard.closed
    first = source.read(orders.stream_arn, shard.shard_id, None, 2)
    assert [r.sequence_number for r in first] == [w.id for w in written[:2]]
    rest = source.read(orders.stream_arn, shard.shard_id, first[-1].sequence_number, 10)
    assert [r.sequence_number for r in rest] == [w.id for w in written[2:]]
    assert rest[0].size == written[2].size_bytes and rest[0].arrival == written[2].created_at
    assert source.read(orders.stream_arn, "shardId-00000000000000000000-00000000", None, 10) == []
    orders.stream_view_type = ""
    orders.save()
    assert source.shards(orders.stream_arn)[0].closed


def test_it_starts_at_the_horizon_the_latest_or_a_time(source, team):
    orders = make_table(team)
    old = change(orders, None, item("old", "1"))
    StreamRecord.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(hours=2))
    new = change(orders, None, item("new", "2"))
    shard = source.shards(orders.stream_arn)[0].shard_id
    assert source.position(orders.stream_arn, shard, "TRIM_HORIZON", None) is None
    assert source.position(orders.stream_arn, shard, "LATEST", None) == new.id
    an_hour_ago = timezone.now() - timedelta(hours=1)
    assert source.position(orders.stream_arn, shard, "AT_TIMESTAMP", an_hour_ago) == old.id
    empty = make_table(team, "empty")
    empty_shard = source.shards(empty.stream_arn)[0].shard_id
    assert source.position(empty.stream_arn, empty_shard, "LATEST", None) == 0


def test_it_wakes_on_the_streams_channel(source, team):
    orders = make_table(team)
    assert source.wake_channel(orders.stream_arn) == wakeups.channel(orders.stream_arn)


def test_a_write_wakes_the_stream_once_it_commits(team, monkeypatch):
    orders = make_table(team)
    woken = []
    monkeypatch.setattr(wakeups, "notify", woken.append)
    change(orders, None, item("a", "1"))
    assert woken == [orders.stream_arn]


# The event, against AWS's documented one ------------------------------------------


def envelope(event: dict) -> dict:
    """The event with its items left out: Keys, NewImage and OldImage are
    the table's own attributes (the example's are a Woofer table's), so
    only their presence and type are compared."""
    copied = json.loads(json.dumps(event))
    for name in ("Keys", "NewImage", "OldImage"):
        if name in copied["dynamodb"]:
            copied["dynamodb"][name] = {}
    return copied


def events_of(source, table) -> list[dict]:
    shard = source.shards(table.stream_arn)[0].shard_id
    return [r.event for r in source.read(table.stream_arn, shard, None, 100)]


def test_an_insert_has_the_documented_shape(source, team):
    documented = envelope(json.loads(FIXTURE.read_text())["Records"][0])
    bark = make_table(team, "BarkTable", view="NEW_IMAGE")
    new = item("John Doe", "1", Message="This is a bark from the Woofer social network")
    change(bark, None, new)
    (event,) = events_of(source, bark)
    assert mismatches(envelope(event), documented) == []
    assert event["eventSourceARN"] == bark.stream_arn
    assert (event["eventName"], event["eventVersion"]) == ("INSERT", "1.1")
    assert event["eventSource"] == "aws:dynamodb" and event["awsRegion"] == "us-east-1"
    assert event["dynamodb"]["NewImage"] == new and event["dynamodb"]["Keys"] == keys_of(new)
    assert event["dynamodb"]["SequenceNumber"] == str(StreamRecord.objects.get().id).zfill(21)
    parsed = DynamoDBStreamModel.model_validate({"Records": [event]})
    assert parsed.Records[0].dynamodb.NewImage["Message"] == "This is a bark from the Woofer social network"


def test_modify_remove_and_ttl_records_differ_only_as_documented(source, team):
    documented = envelope(json.loads(FIXTURE.read_text())["Records"][0])
    orders = make_table(team, view="NEW_AND_OLD_IMAGES")
    one, two = item("a", "1", note="one"), item("a", "1", note="two")
    change(orders, None, one)
    change(orders, one, two)
    change(orders, two, None, user_identity=TTL)
    insert, modify, remove = events_of(source, orders)
    assert mismatches(envelope(insert), documented) == []
    assert mismatches(envelope(modify), documented) == ["$.dynamodb.OldImage: not in the documented example"]
    assert mismatches(envelope(remove), documented, may_lack=frozenset({"$.dynamodb.NewImage"})) == [
        "$.dynamodb.OldImage: not in the documented example", "$.userIdentity: not in the documented example",
    ]
    assert remove["userIdentity"] == TTL
    assert (modify["dynamodb"]["OldImage"], modify["dynamodb"]["NewImage"]) == (one, two)
    parsed = DynamoDBStreamModel.model_validate({"Records": [insert, modify, remove]})
    assert [r.eventName for r in parsed.Records] == ["INSERT", "MODIFY", "REMOVE"]
    assert parsed.Records[2].userIdentity.principalId == "dynamodb.amazonaws.com"
