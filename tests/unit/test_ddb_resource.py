"""boto3's resource layer (`boto3.resource("dynamodb")`: Table, the
conditions builder Key/Attr, batch_writer) against the production ASGI
app, as application code uses DynamoDB; and a function's own credentials
under its execution policy (dynamodb:<Action> on the table's ARN)."""

from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from awsapi import principals
from functions.models import Function
from tables import iam_resources
from tests.unit.aws_clients import aws_client
from tests.unit.ddb_support import resource


@pytest.fixture
def db_resource(member_key):
    return resource(member_key)


@pytest.fixture
def orders(db_resource):
    table = db_resource.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "customer", "KeyType": "HASH"},
            {"AttributeName": "placed", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "customer", "AttributeType": "S"},
            {"AttributeName": "placed", "AttributeType": "N"},
        ],
    )
    table.wait_until_exists()
    return table


def test_the_resource_layer_writes_and_queries(orders):
    orders.put_item(Item={"customer": "ann", "placed": 3, "total": Decimal("9.99"), "tags": {"a", "b"}})
    with orders.batch_writer() as batch:
        for placed in range(1, 30):
            if placed != 3:
                batch.put_item(
                    Item={
                        "customer": "ann" if placed % 2 else "bob",
                        "placed": placed,
                        "total": Decimal(placed),
                    }
                )
    got = orders.get_item(Key={"customer": "ann", "placed": 3})["Item"]
    assert got["total"] == Decimal("9.99") and got["tags"] == {"a", "b"}
    found = orders.query(
        KeyConditionExpression=Key("customer").eq("ann") & Key("placed").between(5, 11),
        FilterExpression=Attr("total").gt(6),
        ScanIndexForward=False,
    )
    assert [i["placed"] for i in found["Items"]] == [11, 9, 7]
    scanned = orders.scan(FilterExpression=Attr("customer").eq("bob") & Attr("total").lt(5))
    assert sorted(i["placed"] for i in scanned["Items"]) == [2, 4]
    orders.update_item(
        Key={"customer": "ann", "placed": 3},
        # TOTAL is one of DynamoDB's reserved words: it needs a placeholder.
        UpdateExpression="SET #t = #t + :d",
        ExpressionAttributeNames={"#t": "total"},
        ExpressionAttributeValues={":d": Decimal("0.01")},
    )
    assert orders.get_item(Key={"customer": "ann", "placed": 3})["Item"]["total"] == Decimal("10.00")
    with pytest.raises(ClientError) as e:
        orders.put_item(
            Item={"customer": "ann", "placed": 3}, ConditionExpression=Attr("customer").not_exists()
        )
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    orders.delete()


def test_iam_resources_name_the_table_and_index():
    class Context:
        class team:
            account_id = "123456789012"

    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    assert iam_resources.dynamodb(Context, "PutItem", {"TableName": "orders"}) == [("dynamodb:PutItem", arn)]
    assert iam_resources.dynamodb(Context, "Query", {"TableName": "orders", "IndexName": "i"}) == [
        ("dynamodb:Query", arn + "/index/i")
    ]
    assert iam_resources.dynamodb(
        Context,
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": "orders"}}, {"ConditionCheck": {"TableName": "orders"}}]},
    ) == [("dynamodb:PutItem", arn), ("dynamodb:ConditionCheckItem", arn)]
    assert iam_resources.dynamodb(Context, "ListTables", {}) == [("dynamodb:ListTables", "*")]


@pytest.mark.django_db(transaction=True)
def test_a_function_may_write_the_table_its_policy_names(make_function, orders, team):
    fn = make_function("writer")
    Function.objects.filter(pk=fn.pk).update(
        execution_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
                    "Resource": f"arn:aws:dynamodb:us-east-1:{team.account_id}:table/orders",
                }
            ],
        }
    )
    credentials = principals.issue(fn)
    ddb = aws_client(
        "dynamodb",
        credentials["AWS_ACCESS_KEY_ID"],
        credentials["AWS_SECRET_ACCESS_KEY"],
        token=credentials["AWS_SESSION_TOKEN"],
    )
    key = {"customer": {"S": "fn"}, "placed": {"N": "1"}}
    ddb.put_item(TableName="orders", Item=key)
    assert ddb.get_item(TableName="orders", Key=key)["Item"] == key
    with pytest.raises(ClientError) as e:
        ddb.delete_item(TableName="orders", Key=key)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert ddb.get_item(TableName="orders", Key=key)["Item"] == key
