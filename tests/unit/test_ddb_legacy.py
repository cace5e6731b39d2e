"""DynamoDB's legacy conditional parameters (Expected, KeyConditions,
QueryFilter, ScanFilter, AttributesToGet, AttributeUpdates,
ConditionalOperator) through boto3, rewritten as expressions
(tables.legacy), and refused when mixed with expressions."""

import pytest
from botocore.exceptions import ClientError

from tables.models import Item
from tests.unit.aws_clients import code_of, message_of
from tests.unit.ddb_support import make_table

KEY = {"pk": {"S": "a"}, "sk": {"S": "1"}}


@pytest.fixture
def ddb(ddb):
    """The shared `ddb` client, with the `things` table made."""
    make_table(ddb)
    return ddb


def test_expected_guards_writes(ddb):
    ddb.put_item(TableName="things", Item={**KEY, "v": {"N": "1"}}, Expected={"pk": {"Exists": False}})
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="things", Item=KEY, Expected={"pk": {"Exists": False}})
    assert code_of(e) == "ConditionalCheckFailedException"
    ddb.delete_item(
        TableName="things",
        Key=KEY,
        Expected={
            "v": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "0"}]},
            "x": {"Exists": False},
        },
    )
    assert not Item.objects.exists()
    ddb.put_item(TableName="things", Item={**KEY, "v": {"N": "1"}})
    with pytest.raises(ClientError):
        ddb.delete_item(TableName="things", Key=KEY, Expected={"v": {"Value": {"N": "2"}}})
    ddb.delete_item(
        TableName="things",
        Key=KEY,
        Expected={"v": {"Value": {"N": "2"}}, "w": {"ComparisonOperator": "NULL"}},
        ConditionalOperator="OR",
    )
    assert not Item.objects.exists()


def test_attribute_updates(ddb):
    ddb.put_item(TableName="things", Item={**KEY, "gone": {"S": "x"}, "tags": {"SS": ["a", "b"]}})
    answer = ddb.update_item(
        TableName="things",
        Key=KEY,
        AttributeUpdates={
            "n": {"Action": "ADD", "Value": {"N": "5"}},
            "s": {"Value": {"S": "put"}},
            "gone": {"Action": "DELETE"},
            "tags": {"Action": "DELETE", "Value": {"SS": ["a"]}},
        },
        ReturnValues="ALL_NEW",
    )
    assert answer["Attributes"] == {**KEY, "n": {"N": "5"}, "s": {"S": "put"}, "tags": {"SS": ["b"]}}


def test_key_conditions_filters_and_attributes_to_get(ddb):
    for n in range(6):
        ddb.put_item(TableName="things", Item={"pk": {"S": "a"}, "sk": {"S": f"k{n}"}, "n": {"N": str(n)}})
    found = ddb.query(
        TableName="things",
        KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
            "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"S": "k1"}, {"S": "k4"}]},
        },
        QueryFilter={
            "n": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "2"}, {"N": "3"}, {"N": "9"}]}
        },
        AttributesToGet=["sk"],
    )
    assert found["Items"] == [{"sk": {"S": "k2"}}, {"sk": {"S": "k3"}}]
    scanned = ddb.scan(
        TableName="things",
        ScanFilter={
            "n": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "3"}]},
            "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "k0"}]},
        },
        ConditionalOperator="OR",
    )
    assert sorted(i["sk"]["S"] for i in scanned["Items"]) == ["k0", "k4", "k5"]
    got = ddb.get_item(TableName="things", Key={"pk": {"S": "a"}, "sk": {"S": "k1"}}, AttributesToGet=["n"])
    assert got["Item"] == {"n": {"N": "1"}}


def test_legacy_and_expressions_do_not_mix(ddb):
    with pytest.raises(ClientError) as e:
        ddb.put_item(
            TableName="things",
            Item=KEY,
            Expected={"pk": {"Exists": False}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert message_of(e) == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    )
    with pytest.raises(ClientError) as e:
        ddb.scan(TableName="things", ConditionalOperator="OR")
    assert code_of(e) == "ValidationException"
    assert not Item.objects.exists()
