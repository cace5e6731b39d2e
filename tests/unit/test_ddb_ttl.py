"""Time to live: UpdateTimeToLive / DescribeTimeToLive through boto3, and
the background sweep (tables.ttl.sweep, the `tables.expire_items` task)
deleting expired items with a service-identity REMOVE stream record."""

import pytest
from botocore.exceptions import ClientError

from tables import ttl
from tables.models import Item, StreamRecord
from tests.unit.aws_clients import code_of
from tests.unit.ddb_support import make_table

NOW = 1_800_000_000


def put(ddb, pk, expires=None):
    item = {"pk": {"S": pk}}
    if expires is not None:
        item["expires"] = expires
    ddb.put_item(TableName="things", Item=item)


def test_expired_items_are_swept_with_stream_records(ddb):
    make_table(ddb, sort=None, StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"})
    assert ddb.describe_time_to_live(TableName="things")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    put(ddb, "before", {"N": str(NOW - 10)})  # written before TTL was on: counted when it is turned on
    answer = ddb.update_time_to_live(
        TableName="things", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    assert answer["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    assert ddb.describe_time_to_live(TableName="things")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    put(ddb, "past", {"N": str(NOW - 1)})
    put(ddb, "future", {"N": str(NOW + 100)})
    put(ddb, "text", {"S": str(NOW - 100)})  # not a number: never expires
    put(ddb, "none")
    assert ttl.sweep(now=NOW) == 2
    left = sorted(ddb.scan(TableName="things")["Items"], key=lambda i: i["pk"]["S"])
    assert [i["pk"]["S"] for i in left] == ["future", "none", "text"]
    removed = StreamRecord.objects.filter(event_name="REMOVE")
    assert removed.count() == 2
    assert all(
        r.user_identity == {"type": "Service", "principalId": "dynamodb.amazonaws.com"} for r in removed
    )
    assert ttl.sweep(now=NOW) == 0


def test_ttl_on_twice_is_refused_and_off_stops_expiry(ddb):
    make_table(ddb, sort=None)
    spec = {"Enabled": True, "AttributeName": "expires"}
    ddb.update_time_to_live(TableName="things", TimeToLiveSpecification=spec)
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="things", TimeToLiveSpecification=spec)
    assert code_of(e) == "ValidationException"
    put(ddb, "past", {"N": str(NOW - 1)})
    ddb.update_time_to_live(TableName="things", TimeToLiveSpecification={**spec, "Enabled": False})
    assert ttl.sweep(now=NOW) == 0
    assert Item.objects.count() == 1


def test_a_rewrite_moves_the_expiry(ddb):
    make_table(ddb, sort=None)
    ddb.update_time_to_live(
        TableName="things", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    ddb.put_item(TableName="things", Item={"pk": {"S": "a"}, "exp": {"N": str(NOW - 1)}})
    ddb.put_item(TableName="things", Item={"pk": {"S": "a"}, "exp": {"N": str(NOW + 1)}})
    assert ttl.sweep(now=NOW) == 0
    assert ttl.sweep(now=NOW + 1) == 1


def test_ttl_more_than_five_years_past_is_never_expired(ddb):
    """"Using DynamoDB Time to Live": a TTL more than five years in the past
    is not processed, so 0 and other small sentinels mean "keep"."""
    make_table(ddb, sort=None)
    ddb.update_time_to_live(
        TableName="things", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    put(ddb, "zero", {"N": "0"})
    put(ddb, "one", {"N": "1"})
    put(ddb, "six-years", {"N": str(NOW - 6 * 365 * 24 * 3600)})
    put(ddb, "four-years", {"N": str(NOW - 4 * 365 * 24 * 3600)})
    assert ttl.sweep(now=NOW) == 1
    left = sorted(i["pk"]["S"] for i in ddb.scan(TableName="things")["Items"])
    assert left == ["one", "six-years", "zero"]
