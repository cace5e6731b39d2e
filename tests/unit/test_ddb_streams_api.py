"""DynamoDB Streams through the AWS front door, driven by a real boto3
`dynamodbstreams` client (tests.unit.aws_clients): ListStreams,
DescribeStream, GetShardIterator and GetRecords over streams written with
tables.streams.record_change (the table rows are made directly here)."""

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from django.core import signing
from django.db import transaction
from django.utils import timezone

from awsapi.protocols.router import ServiceIndex
from tables import stream_iterators, streams
from tables.models import StreamRecord, Table
from tests.unit.aws_clients import aws_client, boto_client, code_of
from tests.unit.test_aws_protocols import wire

LABEL = "2026-11-30T10:00:00.000"
KEYS = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]


@pytest.fixture
def loose_ddbs(member_key):
    """No botocore parameter checks: the server's own are tested."""
    key, secret = member_key
    return boto_client("dynamodbstreams", key.access_key_id, secret)


def make_table(team, name="orders", view="NEW_AND_OLD_IMAGES", label=LABEL) -> Table:
    return Table.objects.create(
        team=team, name=name, key_schema=KEYS,
        attribute_definitions=[{"AttributeName": "pk", "AttributeType": "S"},
                               {"AttributeName": "sk", "AttributeType": "N"}],
        stream_view_type=view, stream_label=label if view else "",
    )


def item(pk: str, sk: str, **more) -> dict:
    found = {"pk": {"S": pk}, "sk": {"N": sk}}
    found.update({name: {"S": value} for name, value in more.items()})
    return found


def keys_of(found: dict) -> dict:
    return {"pk": found["pk"], "sk": found["sk"]}


def change(table, old, new, **kwargs):
    with transaction.atomic():
        return streams.record_change(table, keys_of(old or new), old, new, **kwargs)


def pks(ddbs, iterator) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in ddbs.get_records(ShardIterator=iterator)["Records"]]


def first_iterator(ddbs, arn, kind="TRIM_HORIZON", **more) -> str:
    shard = ddbs.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    answer = ddbs.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **more)
    return answer["ShardIterator"]


# The door ----------------------------------------------------------------------


def test_it_tells_dynamodb_streams_from_dynamodb_by_target():
    index = ServiceIndex(["dynamodb", "dynamodbstreams"])


    for service, operation in (("dynamodbstreams", "ListStreams"), ("dynamodb", "ListTables")):
        request = wire(service, operation, {})
        found = index.recognise(request)
        assert (found.service.service_name, found.operation.name) == (service, operation)


# ListStreams -------------------------------------------------------------------


def test_it_lists_a_teams_streams_by_table_and_in_pages(ddbs, team, users):
    orders = make_table(team, "orders")
    make_table(team, "people", view="KEYS_ONLY", label="2026-11-30T11:00:00.000")
    make_table(team, "plain", view="")
    listed = ddbs.list_streams()["Streams"]
    assert listed == [
        {"StreamArn": orders.stream_arn, "TableName": "orders", "StreamLabel": LABEL},
        {"StreamArn": f"{Table.objects.get(name='people').arn}/stream/2026-11-30T11:00:00.000",
         "TableName": "people", "StreamLabel": "2026-11-30T11:00:00.000"},
    ]
    assert ddbs.list_streams(TableName="orders")["Streams"] == listed[:1]
    page = ddbs.list_streams(Limit=1)
    assert page["Streams"] == listed[:1] and page["LastEvaluatedStreamArn"] == orders.stream_arn
    rest = ddbs.list_streams(Limit=1, ExclusiveStartStreamArn=page["LastEvaluatedStreamArn"])
    assert rest["Streams"] == listed[1:] and "LastEvaluatedStreamArn" not in rest
    # A page goes on after a stream that has gone since.
    Table.objects.filter(name="orders").delete()
    assert ddbs.list_streams(ExclusiveStartStreamArn=orders.stream_arn)["Streams"] == listed[1:]


def test_it_refuses_an_unknown_table_and_a_bad_limit(ddbs, loose_ddbs, team):
    with pytest.raises(ClientError) as e:
        ddbs.list_streams(TableName="nope")
    assert code_of(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        loose_ddbs.list_streams(Limit=101)
    assert code_of(e) == "ValidationException"
    assert "less than or equal to 100" in e.value.response["Error"]["Message"]


def test_it_shows_no_stream_of_another_team(ddbs, stranger_key, team):
    orders = make_table(team)
    key, secret = stranger_key
    other = aws_client("dynamodbstreams", key.access_key_id, secret)
    assert other.list_streams()["Streams"] == []
    with pytest.raises(ClientError) as e:
        other.describe_stream(StreamArn=orders.stream_arn)
    assert code_of(e) == "ResourceNotFoundException"


# DescribeStream ----------------------------------------------------------------


def test_it_describes_an_enabled_stream_with_one_open_shard(ddbs, team):
    orders = make_table(team)
    first = change(orders, None, item("a", "1"))
    change(orders, None, item("b", "2"))
    described = ddbs.describe_stream(StreamArn=orders.stream_arn)["StreamDescription"]
    assert described["StreamArn"] == orders.stream_arn
    assert described["StreamLabel"] == LABEL
    assert described["StreamStatus"] == "ENABLED"
    assert described["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert described["TableName"] == "orders"
    assert described["KeySchema"] == KEYS
    assert described["CreationRequestDateTime"].isoformat().startswith("2026-11-30T10:00:00")
    (shard,) = described["Shards"]
    assert shard["ShardId"].startswith("shardId-") and 28 <= len(shard["ShardId"]) <= 65
    assert shard["SequenceNumberRange"] == {"StartingSequenceNumber": str(first.id).zfill(21)}
    # Stable: the same id every time.
    again = ddbs.describe_stream(StreamArn=orders.stream_arn)["StreamDescription"]["Shards"][0]
    assert again["ShardId"] == shard["ShardId"]


def test_a_disabled_stream_is_closed_and_readable_and_a_new_label_is_a_new_stream(ddbs, team):
    orders = make_table(team)
    change(orders, None, item("a", "1"))
    last = change(orders, item("a", "1"), item("a", "1", note="x"))
    old_arn = orders.stream_arn
    orders.stream_view_type = ""
    orders.save()
    described = ddbs.describe_stream(StreamArn=old_arn)["StreamDescription"]
    assert described["StreamStatus"] == "DISABLED"
    assert described["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert described["Shards"][0]["SequenceNumberRange"]["EndingSequenceNumber"] == str(last.id).zfill(21)
    # Writes to a table whose stream is off are not recorded.
    assert change(orders, item("a", "1", note="x"), None) is None

    orders.stream_view_type, orders.stream_label = "KEYS_ONLY", "2026-11-30T12:00:00.000"
    orders.save()
    change(orders, None, item("c", "3"))
    listed = [s["StreamArn"] for s in ddbs.list_streams(TableName="orders")["Streams"]]
    assert listed == [old_arn, orders.stream_arn]
    old = ddbs.get_records(ShardIterator=first_iterator(ddbs, old_arn))
    assert [r["eventName"] for r in old["Records"]] == ["INSERT", "MODIFY"]
    assert "NextShardIterator" not in old  # closed, and read to its end
    new = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn))
    assert [(r["eventName"], r["dynamodb"]["StreamViewType"]) for r in new["Records"]] == [
        ("INSERT", "KEYS_ONLY")
    ]
    assert "NewImage" not in new["Records"][0]["dynamodb"]
    assert new["NextShardIterator"]


def test_it_refuses_an_unknown_or_malformed_stream(ddbs, loose_ddbs, team):
    orders = make_table(team)
    with pytest.raises(ClientError) as e:
        ddbs.describe_stream(StreamArn=orders.stream_arn.replace(LABEL, "2020-01-01T00:00:00.000"))
    assert code_of(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        loose_ddbs.describe_stream(StreamArn="arn:aws:dynamodb:us-east-1:123456789012:table/orders")
    assert code_of(e) == "ValidationException"


# GetShardIterator and GetRecords ----------------------------------------------


def test_it_reads_insert_modify_remove_with_the_images_of_the_view_type(ddbs, team):
    orders = make_table(team)
    a1, a2 = item("a", "1", note="one"), item("a", "1", note="two")
    change(orders, None, a1)
    change(orders, a1, a2)
    change(orders, a2, None)
    answer = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn))
    records = answer["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for r in records:
        assert (r["eventVersion"], r["eventSource"], r["awsRegion"]) == ("1.1", "aws:dynamodb", "us-east-1")
        assert len(r["eventID"]) == 32
        assert r["dynamodb"]["Keys"] == {"pk": {"S": "a"}, "sk": {"N": "1"}}
        assert r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert len(r["dynamodb"]["SequenceNumber"]) == 21 and r["dynamodb"]["SizeBytes"] > 0
        assert r["dynamodb"]["ApproximateCreationDateTime"].microsecond == 0
    assert len({r["eventID"] for r in records}) == 3
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers)
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == a1 and "OldImage" not in insert
    assert modify["OldImage"] == a1 and modify["NewImage"] == a2
    assert remove["OldImage"] == a2 and "NewImage" not in remove
    # Nothing more yet: the next iterator waits at the end.
    more = ddbs.get_records(ShardIterator=answer["NextShardIterator"])
    assert more["Records"] == [] and more["NextShardIterator"]
    change(orders, None, item("b", "2"))
    later = ddbs.get_records(ShardIterator=more["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"] for r in later["Records"]] == [{"S": "b"}]


@pytest.mark.parametrize("view, new, old", [
    ("KEYS_ONLY", False, False), ("NEW_IMAGE", True, False), ("OLD_IMAGE", False, True),
    ("NEW_AND_OLD_IMAGES", True, True),
])
def test_each_view_type_keeps_its_images(ddbs, team, view, new, old):
    orders = make_table(team, view=view)
    change(orders, item("a", "1"), item("a", "1", note="x"))
    (record,) = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn))["Records"]
    assert ("NewImage" in record["dynamodb"], "OldImage" in record["dynamodb"]) == (new, old)
    assert record["dynamodb"]["StreamViewType"] == view


def test_a_change_that_changes_nothing_emits_nothing(team):
    orders = make_table(team)
    same = {"pk": {"S": "a"}, "sk": {"N": "1"}, "tags": {"SS": ["x", "y"]}, "n": {"N": "1.50"}}
    reordered = {"n": {"N": "1.5"}, "tags": {"SS": ["y", "x"]}, "sk": {"N": "1"}, "pk": {"S": "a"}}
    assert change(orders, same, reordered) is None
    with transaction.atomic():
        assert streams.record_change(orders, keys_of(same), None, None) is None
    assert StreamRecord.objects.count() == 0


def test_a_rolled_back_write_leaves_no_record(team):
    orders = make_table(team)
    with pytest.raises(RuntimeError), transaction.atomic():
        streams.record_change(orders, keys_of(item("a", "1")), None, item("a", "1"))
        raise RuntimeError("the write failed")
    assert StreamRecord.objects.count() == 0


def test_it_pages_with_limit_and_positions_by_sequence_number(ddbs, loose_ddbs, team):
    orders = make_table(team)
    written = [change(orders, None, item(f"k{i}", str(i))) for i in range(5)]
    numbers = [str(r.id).zfill(21) for r in written]
    page = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn), Limit=2)
    assert [r["dynamodb"]["SequenceNumber"] for r in page["Records"]] == numbers[:2]
    page = ddbs.get_records(ShardIterator=page["NextShardIterator"], Limit=2)
    assert [r["dynamodb"]["SequenceNumber"] for r in page["Records"]] == numbers[2:4]
    at = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn, "AT_SEQUENCE_NUMBER",
                                                        SequenceNumber=numbers[1]))
    assert [r["dynamodb"]["SequenceNumber"] for r in at["Records"]] == numbers[1:]
    after = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn, "AFTER_SEQUENCE_NUMBER",
                                                           SequenceNumber=numbers[1]))
    assert [r["dynamodb"]["SequenceNumber"] for r in after["Records"]] == numbers[2:]
    latest = first_iterator(ddbs, orders.stream_arn, "LATEST")
    assert ddbs.get_records(ShardIterator=latest)["Records"] == []
    change(orders, None, item("new", "9"))
    assert pks(ddbs, latest) == ["new"]
    with pytest.raises(ClientError) as e:
        loose_ddbs.get_records(ShardIterator=latest, Limit=1001)
    assert code_of(e) == "ValidationException"


def test_it_positions_at_a_timestamp(ddbs, team):
    orders = make_table(team)
    old = change(orders, None, item("old", "1"))
    StreamRecord.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(hours=1))
    change(orders, None, item("new", "2"))
    iterator = first_iterator(ddbs, orders.stream_arn, "AT_TIMESTAMP",
                              Timestamp=timezone.now() - timedelta(minutes=30))
    assert pks(ddbs, iterator) == ["new"]


def test_it_refuses_bad_iterator_requests(ddbs, loose_ddbs, team):
    orders = make_table(team)
    gone = change(orders, None, item("a", "1"))
    change(orders, None, item("b", "2"))
    StreamRecord.objects.filter(id=gone.id).update(created_at=timezone.now() - timedelta(hours=25))
    assert streams.trim() == 1
    shard = ddbs.describe_stream(StreamArn=orders.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    with pytest.raises(ClientError) as e:
        ddbs.get_shard_iterator(StreamArn=orders.stream_arn, ShardId="shardId-00000000000000000000-00000000",
                                ShardIteratorType="LATEST")
    assert code_of(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        ddbs.get_shard_iterator(StreamArn=orders.stream_arn, ShardId=shard,
                                ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddbs.get_shard_iterator(StreamArn=orders.stream_arn, ShardId=shard,
                                ShardIteratorType="AT_SEQUENCE_NUMBER",
                                SequenceNumber=str(gone.id).zfill(21))
    assert code_of(e) == "TrimmedDataAccessException"
    with pytest.raises(ClientError) as e:
        loose_ddbs.get_shard_iterator(StreamArn=orders.stream_arn, ShardId=shard,
                                      ShardIteratorType="SOMEWHERE")
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddbs.get_records(ShardIterator="not-an-iterator")
    assert code_of(e) == "ValidationException"


def test_an_iterator_expires_after_15_minutes(ddbs, team, monkeypatch):
    orders = make_table(team)
    iterator = first_iterator(ddbs, orders.stream_arn)
    now = signing.time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + stream_iterators.LIFETIME_S + 1)
    with pytest.raises(ClientError) as e:
        ddbs.get_records(ShardIterator=iterator)
    assert code_of(e) == "ExpiredIteratorException"


def test_an_iterator_of_another_team_reads_nothing(ddbs, stranger_key, team):
    orders = make_table(team)
    change(orders, None, item("a", "1"))
    key, secret = stranger_key
    other = aws_client("dynamodbstreams", key.access_key_id, secret)
    with pytest.raises(ClientError) as e:
        other.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn))
    assert code_of(e) == "ResourceNotFoundException"


def test_a_ttl_deletion_carries_the_service_identity(ddbs, team):
    orders = make_table(team)
    ttl = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    change(orders, item("a", "1"), None, user_identity=ttl)
    (record,) = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn))["Records"]
    assert record["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


def test_a_read_only_member_reads_streams(reader_key, team):
    orders = make_table(team)
    change(orders, None, item("a", "1"))
    key, secret = reader_key
    reader = aws_client("dynamodbstreams", key.access_key_id, secret)
    assert len(reader.get_records(ShardIterator=first_iterator(reader, orders.stream_arn))["Records"]) == 1


def test_trimming_deletes_only_records_past_24_hours(team):
    orders = make_table(team)
    old, kept = change(orders, None, item("a", "1")), change(orders, None, item("b", "2"))
    now = timezone.now()
    StreamRecord.objects.filter(id=old.id).update(created_at=now - streams.RETENTION - timedelta(seconds=1))
    StreamRecord.objects.filter(id=kept.id).update(created_at=now - streams.RETENTION + timedelta(minutes=1))
    assert streams.trim(now) == 1
    assert list(StreamRecord.objects.values_list("id", flat=True)) == [kept.id]
    assert streams.trim(now) == 0


def test_the_trim_task_is_on_the_beat_schedule(settings):
    from tables import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["trim-table-streams"]
    assert entry["task"] == tasks.trim_streams.name == "tables.trim_streams"


def test_get_records_stops_at_1_mb(ddbs, team, monkeypatch):
    from tables import streams_api

    orders = make_table(team)
    written = [change(orders, None, item(f"k{i}", str(i))) for i in range(3)]
    monkeypatch.setattr(streams_api, "MAX_RECORDS_BYTES", written[0].size_bytes + written[1].size_bytes)
    page = ddbs.get_records(ShardIterator=first_iterator(ddbs, orders.stream_arn))
    assert len(page["Records"]) == 2
    assert len(ddbs.get_records(ShardIterator=page["NextShardIterator"])["Records"]) == 1


def test_it_names_each_calls_iam_action_and_stream(team):
    from tables import iam_resources

    orders = make_table(team)
    iterator = stream_iterators.issue(stream_iterators.Position(orders.stream_arn, "shardId-x", None))
    assert iam_resources.dynamodbstreams(None, "ListStreams", {}) == [("dynamodb:ListStreams", "*")]
    assert iam_resources.dynamodbstreams(None, "DescribeStream", {"StreamArn": orders.stream_arn}) == [
        ("dynamodb:DescribeStream", orders.stream_arn)
    ]
    assert iam_resources.dynamodbstreams(None, "GetRecords", {"ShardIterator": iterator}) == [
        ("dynamodb:GetRecords", orders.stream_arn)
    ]
    forged = iam_resources.dynamodbstreams(None, "GetRecords", {"ShardIterator": "forged"})
    assert forged == [("dynamodb:GetRecords", "*")]
