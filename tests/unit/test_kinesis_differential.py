"""Differential tests of Stratus's Kinesis and DynamoDB Streams APIs against
moto (tests.unit.diff_support): shard hash ranges and the routing of
partition keys to ShardIds, GetRecords order and each iterator type,
and the DynamoDB stream records (eventName, Keys, images) of each
StreamViewType. Sequence numbers, iterators and times differ by design
and are not compared; each side positions by its own."""

import pytest
from moto import mock_aws

from tests.unit.aws_clients import aws_client
from tests.unit.diff_support import Recorder, differences, moto_client


def both(member_key, scenario, *services):
    key, secret = member_key
    ours = [Recorder(aws_client(s, key.access_key_id, secret)) for s in services]
    scenario(*ours)
    with mock_aws():
        theirs = [Recorder(moto_client(s)) for s in services]
        scenario(*theirs)
    found = differences([e for r in ours for e in r.log], [e for r in theirs for e in r.log])
    assert not found, "\n\n".join(f"#{i}\n stratus: {a}\n moto:    {b}" for i, a, b in found)


def records(rec, stream, shard, kind="TRIM_HORIZON", **more):
    """The Data and PartitionKey of every record from an iterator of `kind`
    (GetRecords with Limit 2 until a page comes back empty)."""
    it = rec.client.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType=kind,
                                       **more)["ShardIterator"]
    out = []
    for _ in range(20):
        page = rec.client.get_records(ShardIterator=it, Limit=2)
        out += [(r["Data"], r["PartitionKey"]) for r in page["Records"]]
        if not page["Records"]:
            break
        it = page["NextShardIterator"]
    return out


def shard_layout(rec, stream):
    shards = rec.client.list_shards(StreamName=stream)["Shards"]
    return [(s["ShardId"], s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
            for s in shards]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 2, 3, 5, 6, 7, 16])
def test_shards_split_the_hash_space_and_keys_route_as_on_moto(member_key, count):
    def scenario(rec):
        rec.quiet("create_stream", StreamName="routes", ShardCount=count)
        rec.note("layout", shard_layout(rec, "routes"))
        for n in range(40):
            put = rec.client.put_record(StreamName="routes", Data=f"d{n}".encode(), PartitionKey=f"key-{n}")
            rec.note("shard", put["ShardId"])
        put = rec.client.put_records(StreamName="routes", Records=[
            {"Data": f"b{n}".encode(), "PartitionKey": f"batch-{n}"} for n in range(10)])
        rec.note("batch shards", [r.get("ShardId") for r in put["Records"]])

    both(member_key, scenario, "kinesis")


@pytest.mark.django_db
def test_get_records_order_and_iterator_types_as_on_moto(member_key):
    shard = "shardId-000000000000"

    def scenario(rec):
        rec.quiet("create_stream", StreamName="order", ShardCount=1)
        seqs = []
        for n in range(7):
            rec.put_record(StreamName="order", Data=f"r{n}".encode(), PartitionKey=f"p{n % 3}")
            seqs.append(rec.raw["SequenceNumber"])
        rec.note("trim horizon", records(rec, "order", shard))
        rec.note("latest", records(rec, "order", shard, "LATEST"))
        rec.note("at", records(rec, "order", shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[3]))
        rec.note("after", records(rec, "order", shard, "AFTER_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=seqs[3]))
        rec.note("after last", records(rec, "order", shard, "AFTER_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=seqs[-1]))
        rec.get_shard_iterator(StreamName="order", ShardId="shardId-000000000005", ShardIteratorType="LATEST")
        rec.get_shard_iterator(StreamName="nothere", ShardId=shard, ShardIteratorType="LATEST")
        rec.describe_stream(StreamName="nothere")
        rec.put_record(StreamName="nothere", Data=b"x", PartitionKey="k")
        rec.quiet("create_stream", StreamName="order2", ShardCount=1)
        rec.create_stream(StreamName="order2", ShardCount=1)

    both(member_key, scenario, "kinesis")


STREAM_VIEWS = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]


@pytest.mark.django_db
@pytest.mark.parametrize("view", STREAM_VIEWS)
def test_dynamodb_stream_records_as_on_moto(member_key, view):
    def scenario(ddb, streams):
        arn = ddb.quiet(
            "create_table", TableName="orders", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "N"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )["TableDescription"]["LatestStreamArn"]
        key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
        ddb.put_item(TableName="orders", Item={**key, "v": {"S": "one"}})
        ddb.put_item(TableName="orders", Item={**key, "v": {"S": "two"}})
        ddb.update_item(TableName="orders", Key=key, UpdateExpression="SET w = :w",
                        ExpressionAttributeValues={":w": {"N": "2"}})
        ddb.put_item(TableName="orders", Item={"pk": {"S": "b"}, "sk": {"N": "2"}, "l": {"L": []}})
        ddb.delete_item(TableName="orders", Key=key)
        ddb.delete_item(TableName="orders", Key=key)
        description = streams.client.describe_stream(StreamArn=arn)["StreamDescription"]
        streams.note("view", description["StreamViewType"])
        shard = description["Shards"][0]["ShardId"]
        it = streams.client.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = streams.client.get_records(ShardIterator=it)["Records"]
        streams.note("records", [
            {"eventName": r["eventName"], "eventSource": r["eventSource"],
             **{k: r["dynamodb"].get(k) for k in ("Keys", "NewImage", "OldImage", "StreamViewType")}}
            for r in got
        ])

    both(member_key, scenario, "dynamodb", "dynamodbstreams")


@pytest.mark.django_db
def test_an_update_that_creates_an_item_is_one_insert_with_the_whole_item(member_key):
    """moto records an UpdateItem that creates its item twice (an INSERT of
    the bare keys, then another with the values); DynamoDB Streams has one
    record per item change: here one INSERT whose NewImage is the item."""
    key, secret = member_key
    ddb = aws_client("dynamodb", key.access_key_id, secret)
    streams = aws_client("dynamodbstreams", key.access_key_id, secret)
    arn = ddb.create_table(
        TableName="upserts", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    ddb.update_item(TableName="upserts", Key={"pk": {"S": "c"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"S": "new"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    got = streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert [(r["eventName"], r["dynamodb"].get("NewImage"), r["dynamodb"].get("OldImage")) for r in got] == [
        ("INSERT", {"pk": {"S": "c"}, "v": {"S": "new"}}, None)
    ]


@pytest.mark.django_db
def test_an_explicit_hash_key_at_the_top_goes_to_the_last_shard(member_key):
    """ExplicitHashKey 2**128 - 1 belongs to the last shard's HashKeyRange
    (moto fails on it with an internal error)."""
    key, secret = member_key
    kin = aws_client("kinesis", key.access_key_id, secret)
    kin.create_stream(StreamName="top", ShardCount=6)
    put = kin.put_record(StreamName="top", Data=b"x", PartitionKey="any", ExplicitHashKey=str(2**128 - 1))
    assert put["ShardId"] == "shardId-000000000005"
