"""DynamoDB's table operations through the AWS front door, driven by boto3's
`dynamodb` client (JSON 1.0, SigV4) against the production ASGI app:
CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable, tags,
time to live, and the wire (X-Amz-Target routing, `__type` errors)."""

import json

import pytest
from botocore.exceptions import ClientError

from tables.models import IndexEntry, Item, Table, TableIndex
from awsapi.protocols import AwsRequest, ServiceIndex
from tests.unit.aws_clients import code_of, message_of
from tests.unit.ddb_support import client, make_table


def test_it_creates_and_describes_a_table(ddb, team):
    created = make_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    assert created["TableStatus"] == "ACTIVE"
    assert created["TableArn"] == f"arn:aws:dynamodb:us-east-1:{team.account_id}:table/things"
    assert created["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert created["LatestStreamArn"].startswith(created["TableArn"] + "/stream/")
    described = ddb.describe_table(TableName="things")["Table"]
    assert described["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert described["ItemCount"] == 0
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ddb.get_waiter("table_exists").wait(TableName="things", WaiterConfig={"Delay": 0, "MaxAttempts": 1})


def test_it_refuses_a_second_table_of_the_same_name(ddb):
    make_table(ddb)
    with pytest.raises(ClientError) as e:
        make_table(ddb)
    assert code_of(e) == "ResourceInUseException"
    assert message_of(e) == "Table already exists: things"


def test_table_names_are_per_team(ddb, stranger_key):
    make_table(ddb)
    other = client(stranger_key)
    assert other.list_tables()["TableNames"] == []
    with pytest.raises(ClientError) as e:
        other.describe_table(TableName="things")
    assert code_of(e) == "ResourceNotFoundException"
    assert message_of(e) == "Requested resource not found: Table: things not found"
    make_table(other)
    assert Table.objects.count() == 2


@pytest.mark.parametrize(
    "change, message",
    [
        (
            dict(
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
            ),
            "One or more parameter values were invalid: Some index key attributes are not defined in "
            "AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
        ),
        (
            dict(
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "x", "AttributeType": "S"},
                ],
            ),
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly "
            "match number of attributes defined in AttributeDefinitions",
        ),
        (
            dict(
                KeySchema=[{"AttributeName": "pk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            ),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
    ],
)
def test_it_refuses_a_bad_schema_and_stores_nothing(raw_ddb, change, message):
    with pytest.raises(ClientError) as e:
        raw_ddb.create_table(TableName="bad", BillingMode="PAY_PER_REQUEST", **change)
    assert code_of(e) == "ValidationException"
    assert message_of(e) == message
    assert not Table.objects.exists()


def test_it_checks_billing_and_throughput(raw_ddb):
    key = dict(
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    with pytest.raises(ClientError) as e:
        raw_ddb.create_table(TableName="tt1", BillingMode="PROVISIONED", **key)
    assert "ReadCapacityUnits and WriteCapacityUnits must both be specified" in message_of(e)
    with pytest.raises(ClientError) as e:
        raw_ddb.create_table(
            TableName="tt1",
            BillingMode="PAY_PER_REQUEST",
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            **key,
        )
    assert "Neither ReadCapacityUnits nor WriteCapacityUnits" in message_of(e)
    with pytest.raises(ClientError) as e:
        raw_ddb.create_table(TableName="x", BillingMode="PAY_PER_REQUEST", **key)
    assert message_of(e) == (
        "1 validation error detected: Value 'x' at 'tableName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 3"
    )
    made = raw_ddb.create_table(
        TableName="tt1", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3}, **key
    )["TableDescription"]
    assert made["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert made["BillingModeSummary"]["BillingMode"] == "PROVISIONED"


def test_it_lists_tables_in_pages(ddb):
    for name in ("aaa", "bbb", "ccc"):
        make_table(ddb, name)
    first = ddb.list_tables(Limit=2)
    assert first["TableNames"] == ["aaa", "bbb"]
    assert first["LastEvaluatedTableName"] == "bbb"
    rest = ddb.list_tables(ExclusiveStartTableName="bbb", Limit=2)
    assert rest == {"TableNames": ["ccc"], "ResponseMetadata": rest["ResponseMetadata"]}
    names = [
        n
        for page in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 1})
        for n in page["TableNames"]
    ]
    assert names == ["aaa", "bbb", "ccc"]


def test_it_creates_indexes_and_updates_them(ddb):
    make_table(
        ddb,
        more_definitions=[
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "l", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-l",
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]},
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
            }
        ],
    )
    ddb.put_item(TableName="things", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "h": {"S": "x"}})
    ddb.put_item(TableName="things", Item={"pk": {"S": "b"}, "sk": {"S": "1"}})
    described = ddb.describe_table(TableName="things")["Table"]
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["by-g"]
    assert described["LocalSecondaryIndexes"][0]["Projection"]["NonKeyAttributes"] == ["x"]
    updated = ddb.update_table(
        TableName="things",
        AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-h",
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
                }
            },
            {"Delete": {"IndexName": "by-g"}},
        ],
    )["TableDescription"]
    assert [i["IndexName"] for i in updated["GlobalSecondaryIndexes"]] == ["by-h"]
    # The new index holds the item already there that has its key (sparse).
    assert updated["GlobalSecondaryIndexes"][0]["ItemCount"] == 1
    assert {d["AttributeName"] for d in updated["AttributeDefinitions"]} == {"pk", "sk", "l", "h"}
    assert not TableIndex.objects.filter(name="by-g").exists()


def test_it_switches_billing_and_streams(ddb):
    first = make_table(ddb)
    assert "LatestStreamArn" not in first
    on = ddb.update_table(
        TableName="things", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )
    label = on["TableDescription"]["LatestStreamLabel"]
    with pytest.raises(ClientError) as e:
        ddb.update_table(
            TableName="things", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
        )
    assert code_of(e) == "ValidationException"
    off = ddb.update_table(TableName="things", StreamSpecification={"StreamEnabled": False})
    assert "StreamSpecification" not in off["TableDescription"]
    table = Table.objects.get()
    table.stream_label = "2020-01-01T00:00:00.000"  # the clock may not have moved since
    table.save()
    again = ddb.update_table(
        TableName="things",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    assert again["TableDescription"]["LatestStreamLabel"] not in (label, "2020-01-01T00:00:00.000")
    provisioned = ddb.update_table(
        TableName="things",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
    )
    assert provisioned["TableDescription"]["BillingModeSummary"]["BillingMode"] == "PROVISIONED"


def test_it_deletes_a_table_with_its_items(ddb):
    make_table(
        ddb,
        more_definitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            }
        ],
    )
    ddb.put_item(TableName="things", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "x"}})
    gone = ddb.delete_table(TableName="things")["TableDescription"]
    assert gone["TableStatus"] == "DELETING"
    assert not Item.objects.exists() and not IndexEntry.objects.exists() and not Table.objects.exists()
    with pytest.raises(ClientError) as e:
        ddb.delete_table(TableName="things")
    assert code_of(e) == "ResourceNotFoundException"


def test_deletion_protection_keeps_the_table(ddb):
    make_table(ddb, DeletionProtectionEnabled=True)
    with pytest.raises(ClientError) as e:
        ddb.delete_table(TableName="things")
    assert code_of(e) == "ValidationException"
    assert Table.objects.exists()


def test_it_tags_tables(ddb):
    arn = make_table(ddb, Tags=[{"Key": "team", "Value": "a"}])["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"},
        {"Key": "team", "Value": "a"},
    ]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as e:
        ddb.list_tags_of_resource(ResourceArn=arn.replace("things", "nope"))
    assert code_of(e) == "ResourceNotFoundException"


def test_a_read_only_member_reads_but_does_not_write(ddb, reader_key):
    make_table(ddb)
    reader = client(reader_key)
    assert reader.list_tables()["TableNames"] == ["things"]
    with pytest.raises(ClientError) as e:
        reader.put_item(TableName="things", Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert not Item.objects.exists()


def test_errors_are_json_1_0_with_type(ddb):
    answers = []
    ddb.meta.events.register("after-call.dynamodb", lambda http_response, **kw: answers.append(http_response))
    with pytest.raises(ClientError):
        ddb.describe_table(TableName="missing")
    body = json.loads(answers[0].content)
    assert answers[0].headers["Content-Type"] == "application/x-amz-json-1.0"
    assert body["__type"].endswith("ResourceNotFoundException")


def test_streams_targets_are_not_taken_for_dynamodb(ddbs):
    """dynamodbstreams signs as "dynamodb" too: X-Amz-Target tells them apart,
    so a Streams request never reaches a DynamoDB handler."""
    index = ServiceIndex(["dynamodb", "dynamodbstreams"])
    for target, service in (
        ("DynamoDB_20120810.ListTables", "dynamodb"),
        ("DynamoDBStreams_20120810.ListStreams", "dynamodbstreams"),
    ):
        headers = {
            "X-Amz-Target": target,
            "Authorization": (
                "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        }
        found = index.recognise(AwsRequest("POST", "/", "", headers, b"{}"))
        assert found.service.service_name == service
    try:
        answer = ddbs.list_streams()
    except ClientError as e:
        answer = e.response
    assert "TableNames" not in answer


def test_describe_endpoints_names_this_server(ddb):
    assert ddb.describe_endpoints()["Endpoints"][0]["Address"] == "testserver"


def test_an_update_table_that_changes_nothing_is_refused(ddb):
    make_table(ddb)
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="things")
    assert message_of(e).startswith("At least one of ProvisionedThroughput, BillingMode")
    with pytest.raises(ClientError) as e:
        ddb.update_table(
            TableName="things", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}]
        )
    assert code_of(e) == "ValidationException"
    assert message_of(e).startswith("At least one of ProvisionedThroughput, BillingMode")


def test_a_table_arn_names_the_table_in_its_own_account_only(ddb, team):
    arn = make_table(ddb)["TableArn"]
    assert ddb.describe_table(TableName=arn)["Table"]["TableName"] == "things"
    ddb.put_item(TableName=arn, Item={"pk": {"S": "a"}, "sk": {"S": "1"}})
    other = arn.replace(team.account_id, "999999999999")
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName=other, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert code_of(e) == "ResourceNotFoundException"


def test_global_indexes_follow_the_billing_mode(ddb):
    gsi = {
        "IndexName": "by-g",
        "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
    }
    make_table(
        ddb, more_definitions=[{"AttributeName": "g", "AttributeType": "S"}], GlobalSecondaryIndexes=[gsi]
    )
    units = {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="things", BillingMode="PROVISIONED", ProvisionedThroughput=units)
    assert message_of(e) == (
        "One or more parameter values were invalid: "
        "ProvisionedThroughput must be specified for index: by-g"
    )
    done = ddb.update_table(
        TableName="things",
        BillingMode="PROVISIONED",
        ProvisionedThroughput=units,
        GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "by-g", "ProvisionedThroughput": units}}],
    )["TableDescription"]
    assert done["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    back = ddb.update_table(TableName="things", BillingMode="PAY_PER_REQUEST")["TableDescription"]
    assert back["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["WriteCapacityUnits"] == 0
    ddb.put_item(TableName="things", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "x" * 10}})
    described = ddb.describe_table(TableName="things")["Table"]["GlobalSecondaryIndexes"][0]
    assert described["ItemCount"] == 1 and described["IndexSizeBytes"] > 10
