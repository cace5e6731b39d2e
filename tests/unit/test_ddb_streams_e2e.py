"""DynamoDB writes through boto3's `dynamodb` client, read back through
boto3's `dynamodbstreams` client, both against the production ASGI app:
PutItem, UpdateItem and DeleteItem become INSERT, MODIFY and REMOVE with
the images of the table's StreamViewType; a write that changes nothing,
a failed conditional write and a cancelled transaction emit nothing;
UpdateTable's stream off and on makes a new stream; TTL deletions carry
DynamoDB's service identity."""

import pytest
from botocore.exceptions import ClientError

from tables import ttl
from tests.unit.aws_clients import code_of
from tests.unit.ddb_support import make_table

KEY = {"pk": {"S": "a"}, "sk": {"S": "1"}}


def streamed(ddb, view="NEW_AND_OLD_IMAGES", name="things") -> str:
    """A new table with a stream of `view`; its LatestStreamArn."""
    table = make_table(ddb, name, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return table["LatestStreamArn"]


def records(ddbs, arn: str) -> list[dict]:
    shard = ddbs.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = ddbs.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return ddbs.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def test_put_update_delete_are_insert_modify_remove(ddb, ddbs):
    arn = streamed(ddb)
    ddb.put_item(TableName="things", Item={**KEY, "n": {"N": "1"}})
    ddb.update_item(TableName="things", Key=KEY, UpdateExpression="SET n = n + :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    ddb.delete_item(TableName="things", Key=KEY)
    found = records(ddbs, arn)
    assert [r["eventName"] for r in found] == ["INSERT", "MODIFY", "REMOVE"]
    assert all(r["dynamodb"]["Keys"] == KEY for r in found)
    insert, modify, remove = (r["dynamodb"] for r in found)
    assert insert["NewImage"] == {**KEY, "n": {"N": "1"}} and "OldImage" not in insert
    assert (modify["OldImage"]["n"], modify["NewImage"]["n"]) == ({"N": "1"}, {"N": "2"})
    assert remove["OldImage"] == {**KEY, "n": {"N": "2"}} and "NewImage" not in remove
    numbers = [int(r["SequenceNumber"]) for r in (insert, modify, remove)]
    assert numbers == sorted(set(numbers))


@pytest.mark.parametrize("view, images", [
    ("KEYS_ONLY", set()), ("NEW_IMAGE", {"NewImage"}), ("OLD_IMAGE", {"OldImage"}),
    ("NEW_AND_OLD_IMAGES", {"NewImage", "OldImage"}),
])
def test_a_modify_carries_the_images_of_the_view_type(ddb, ddbs, view, images):
    arn = streamed(ddb, view)
    ddb.put_item(TableName="things", Item={**KEY, "v": {"S": "old"}})
    ddb.put_item(TableName="things", Item={**KEY, "v": {"S": "new"}})
    modify = records(ddbs, arn)[1]
    assert modify["eventName"] == "MODIFY" and modify["dynamodb"]["StreamViewType"] == view
    assert {"NewImage", "OldImage"} & set(modify["dynamodb"]) == images
    if "NewImage" in images:
        assert modify["dynamodb"]["NewImage"]["v"] == {"S": "new"}
    if "OldImage" in images:
        assert modify["dynamodb"]["OldImage"]["v"] == {"S": "old"}


def test_writes_that_change_nothing_or_fail_emit_nothing(ddb, ddbs):
    arn = streamed(ddb)
    ddb.put_item(TableName="things", Item={**KEY, "tags": {"SS": ["x", "y"]}, "n": {"N": "1.50"}})
    # The same item again, its set in another order and its number written otherwise.
    ddb.put_item(TableName="things", Item={**KEY, "tags": {"SS": ["y", "x"]}, "n": {"N": "1.5"}})
    ddb.update_item(TableName="things", Key=KEY, UpdateExpression="SET n = :same",
                    ExpressionAttributeValues={":same": {"N": "1.5"}})
    ddb.update_item(TableName="things", Key=KEY, UpdateExpression="ADD tags :old",
                    ExpressionAttributeValues={":old": {"SS": ["x"]}})
    ddb.delete_item(TableName="things", Key={"pk": {"S": "nothing"}, "sk": {"S": "here"}})
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName="things", Key=KEY, UpdateExpression="SET n = :nine",
                        ConditionExpression="n = :nine", ExpressionAttributeValues={":nine": {"N": "9"}})
    assert code_of(e) == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="things", Item={**KEY, "n": {"N": "9"}},
                     ConditionExpression="attribute_not_exists(pk)")
    assert code_of(e) == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as e:
        ddb.delete_item(TableName="things", Key=KEY, ConditionExpression="n = :nine",
                        ExpressionAttributeValues={":nine": {"N": "9"}})
    assert code_of(e) == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "things", "Item": {"pk": {"S": "b"}, "sk": {"S": "1"}}}},
            {"ConditionCheck": {"TableName": "things", "Key": KEY,
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    assert code_of(e) == "TransactionCanceledException"
    assert [r["eventName"] for r in records(ddbs, arn)] == ["INSERT"]


def test_a_stream_turned_off_and_on_is_a_new_stream(ddb, ddbs):
    first = streamed(ddb, "KEYS_ONLY")
    ddb.put_item(TableName="things", Item=KEY)
    ddb.update_table(TableName="things", StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName="things", Item={**KEY, "off": {"BOOL": True}})  # not recorded: no stream
    assert ddbs.describe_stream(StreamArn=first)["StreamDescription"]["StreamStatus"] == "DISABLED"
    ddb.update_table(TableName="things",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    second = ddb.describe_table(TableName="things")["Table"]["LatestStreamArn"]
    assert second != first
    ddb.delete_item(TableName="things", Key=KEY)
    assert [s["StreamArn"] for s in ddbs.list_streams(TableName="things")["Streams"]] == [first, second]
    assert [r["eventName"] for r in records(ddbs, first)] == ["INSERT"]
    (remove,) = records(ddbs, second)
    assert remove["eventName"] == "REMOVE" and remove["dynamodb"]["StreamViewType"] == "NEW_IMAGE"
    assert ddbs.describe_stream(StreamArn=second)["StreamDescription"]["StreamStatus"] == "ENABLED"


def test_a_ttl_deletion_is_a_remove_by_the_service(ddb, ddbs):
    arn = streamed(ddb)
    ddb.update_time_to_live(TableName="things",
                            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    ddb.put_item(TableName="things", Item={**KEY, "expires": {"N": "1000"}})
    assert ttl.sweep(now=2000) == 1
    insert, remove = records(ddbs, arn)
    assert remove["eventName"] == "REMOVE"
    assert remove["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in insert
