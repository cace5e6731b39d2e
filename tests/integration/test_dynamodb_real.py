"""DynamoDB on the real stack (uvicorn web, Celery workers and beat, Redis,
Docker): boto3's `dynamodb` client and resource from outside, boto3 inside
a function held to its execution policy, the AWS CLI's `aws dynamodb`,
and time to live deleting an expired item in the background (the beat's
`tables.expire_items`) with its REMOVE stream record."""

import time
from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from tests.integration.helpers import aws_client, aws_resource, id_table, login, wait_for
from tests.integration.test_aws_cli_real import SERVICE_ERROR_RCS, Cli
from tests.integration.test_boto3_inside_real import deploy, invoke, set_policy

pytestmark = pytest.mark.integration

WRITER = """
import os
import boto3

def handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
    table.put_item(Item={"user": event["user"], "at": event["at"], "by": "function"})
    got = table.get_item(Key={"user": event["user"], "at": event["at"]})["Item"]
    try:
        table.delete_item(Key={"user": event["user"], "at": event["at"]})
        deleted = "yes"
    except Exception as exc:
        deleted = type(exc).__name__ + ":" + exc.response["Error"]["Code"]
    return {"by": got["by"], "deleted": deleted}
"""


@pytest.fixture(scope="module")
def ddb(stack):
    return aws_client(stack, "dynamodb")


@pytest.fixture(scope="module")
def resource(stack):
    return aws_resource(stack, "dynamodb")


@pytest.fixture(scope="module")
def events(resource):
    table = resource.create_table(
        TableName="events",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "user", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "N"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    table.wait_until_exists()
    return table


def test_boto3_client_and_resource(ddb, events):
    with events.batch_writer() as batch:
        for at in range(1, 41):
            batch.put_item(
                Item={
                    "user": f"u{at % 2}",
                    "at": at,
                    "kind": "click" if at % 4 else "buy",
                    "price": Decimal(at) / 4,
                }
            )
    found = events.query(
        KeyConditionExpression=Key("user").eq("u1") & Key("at").gt(30), ScanIndexForward=False
    )
    assert [i["at"] for i in found["Items"]] == [39, 37, 35, 33, 31]
    buys = events.query(
        IndexName="by-kind",
        KeyConditionExpression=Key("kind").eq("buy"),
        FilterExpression=Attr("price").gte(5),
    )
    assert [i["at"] for i in buys["Items"]] == [20, 24, 28, 32, 36, 40]
    pages = ddb.get_paginator("scan").paginate(TableName="events", PaginationConfig={"PageSize": 7})
    assert sum(page["Count"] for page in pages) == 40
    updated = ddb.update_item(
        TableName="events",
        Key={"user": {"S": "u0"}, "at": {"N": "2"}},
        UpdateExpression="SET price = price + :p ADD seen :one",
        ExpressionAttributeValues={":p": {"N": "0.25"}, ":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    assert updated["Attributes"] == {"price": {"N": "0.75"}, "seen": {"N": "1"}}
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "events", "Item": {"user": {"S": "u9"}, "at": {"N": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "events",
                        "Key": {"user": {"S": "u0"}, "at": {"N": "2"}},
                        "ConditionExpression": "seen > :n",
                        "ExpressionAttributeValues": {":n": {"N": "5"}},
                    }
                },
            ]
        )
    assert e.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in e.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName="events", Key={"user": {"S": "u9"}, "at": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="events", Item={"user": {"S": "u0"}, "at": {"S": "x"}})
    assert e.value.response["Error"]["Message"] == (
        "One or more parameter values were invalid: Type mismatch for key at expected: N actual: S"
    )


def test_boto3_inside_a_function_under_its_policy(stack, events):
    key, secret = stack.api_key()
    clients = {"lambda": aws_client(stack, "lambda", key, secret, read_timeout=120)}
    deploy(
        clients,
        "ddb-writer",
        {"app.py": WRITER},
        "app.handler",
        Environment={"Variables": {"TABLE": "events"}},
    )
    set_policy(
        stack,
        login(stack),
        "ddb-writer",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
                    "Resource": events.table_arn,
                }
            ],
        },
    )
    answer = invoke(clients, "ddb-writer", {"user": "fn", "at": 7})
    assert answer == {"by": "function", "deleted": "ClientError:AccessDeniedException"}
    assert events.get_item(Key={"user": "fn", "at": 7})["Item"]["by"] == "function"


def test_the_aws_cli(stack, tmp_path):
    aws = Cli(stack, tmp_path)
    made = aws(
        "dynamodb",
        "create-table",
        "--table-name",
        "cli-notes",
        "--attribute-definitions",
        "AttributeName=id,AttributeType=S",
        "--key-schema",
        "AttributeName=id,KeyType=HASH",
        "--billing-mode",
        "PAY_PER_REQUEST",
    )
    assert made["TableDescription"]["TableStatus"] == "ACTIVE"
    aws("dynamodb", "wait", "table-exists", "--table-name", "cli-notes")
    aws(
        "dynamodb",
        "put-item",
        "--table-name",
        "cli-notes",
        "--item",
        '{"id": {"S": "n1"}, "text": {"S": "hello"}, "n": {"N": "1.50"}}',
    )
    got = aws("dynamodb", "get-item", "--table-name", "cli-notes", "--key", '{"id": {"S": "n1"}}')
    assert got["Item"] == {"id": {"S": "n1"}, "text": {"S": "hello"}, "n": {"N": "1.5"}}
    assert "cli-notes" in aws("dynamodb", "list-tables")["TableNames"]
    failed = aws.run(
        "dynamodb",
        "put-item",
        "--table-name",
        "cli-notes",
        "--item",
        '{"id": {"S": "n1"}}',
        "--condition-expression",
        "attribute_not_exists(id)",
    )
    assert failed.returncode in SERVICE_ERROR_RCS
    assert "ConditionalCheckFailedException" in failed.stderr


def test_time_to_live_deletes_in_the_background(ddb, stack):
    id_table(ddb, "sessions", stream="KEYS_ONLY")
    ddb.update_time_to_live(
        TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    ddb.put_item(
        TableName="sessions", Item={"id": {"S": "old"}, "expires": {"N": str(int(time.time()) - 60)}}
    )
    ddb.put_item(
        TableName="sessions", Item={"id": {"S": "live"}, "expires": {"N": str(int(time.time()) + 3600)}}
    )
    wait_for(lambda: "Item" not in ddb.get_item(TableName="sessions", Key={"id": {"S": "old"}}), timeout=90)
    assert "Item" in ddb.get_item(TableName="sessions", Key={"id": {"S": "live"}})
    records = stack.rows(
        "__import__('tables.models').models.StreamRecord.objects"
        ".filter(table__name='sessions', event_name='REMOVE').values_list('keys', 'user_identity')"
    )
    assert records == [['{"id":{"S":"old"}}', {"type": "Service", "principalId": "dynamodb.amazonaws.com"}]]


def test_concurrent_updates_lose_nothing(stack, ddb):
    """8 clients adding to one counter at once, and racing to create one
    item with attribute_not_exists: every ADD counts, exactly one create wins."""
    from concurrent.futures import ThreadPoolExecutor

    id_table(ddb, "counters")
    clients = [aws_client(stack, "dynamodb") for _ in range(8)]

    def add(client):
        for _ in range(15):
            client.update_item(
                TableName="counters",
                Key={"id": {"S": "hits"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    def create(client):
        try:
            client.put_item(
                TableName="counters",
                Item={"id": {"S": "once"}, "by": {"S": str(id(client))}},
                ConditionExpression="attribute_not_exists(id)",
            )
            return True
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, clients))
        wins = list(pool.map(create, clients))
    assert ddb.get_item(TableName="counters", Key={"id": {"S": "hits"}})["Item"]["n"] == {"N": "120"}
    assert wins.count(True) == 1
