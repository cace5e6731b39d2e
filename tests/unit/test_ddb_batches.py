"""BatchGetItem, BatchWriteItem, TransactWriteItems and TransactGetItems
through boto3's `dynamodb` client against the production ASGI app: all or
nothing, DynamoDB's cancellation reasons, and nothing stored on a refusal."""

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from tables import transactions
from tables.models import Item, StreamRecord, TransactionToken
from tests.unit.aws_clients import code_of, message_of
from tests.unit.ddb_support import make_table


@pytest.fixture
def tables(ddb):
    make_table(
        ddb, "one", sort=None, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    make_table(ddb, "two", sort=None)


def key(pk: str) -> dict:
    return {"pk": {"S": pk}}


def stored() -> list:
    return sorted(Item.objects.values_list("data", flat=True))


def test_batch_write_then_batch_get(ddb, tables):
    ddb.batch_write_item(
        RequestItems={
            "one": [{"PutRequest": {"Item": {**key(str(i)), "v": {"N": str(i)}}}} for i in range(20)],
            "two": [{"PutRequest": {"Item": key("x")}}],
        }
    )
    out = ddb.batch_write_item(RequestItems={"one": [{"DeleteRequest": {"Key": key("0")}}]})
    assert out["UnprocessedItems"] == {}
    got = ddb.batch_get_item(
        RequestItems={
            "one": {"Keys": [key("0"), key("1"), key("19")], "ProjectionExpression": "v"},
            "two": {"Keys": [key("x"), key("missing")]},
        }
    )
    assert got["UnprocessedKeys"] == {}
    assert sorted(i["v"]["N"] for i in got["Responses"]["one"]) == ["1", "19"]
    assert got["Responses"]["two"] == [key("x")]
    assert StreamRecord.objects.filter(event_name="INSERT").count() == 20
    assert StreamRecord.objects.filter(event_name="REMOVE").count() == 1


def test_a_bad_batch_writes_nothing(ddb, tables):
    before = stored()
    for requests, message in [
        (
            {"one": [{"PutRequest": {"Item": key("a")}}, {"PutRequest": {"Item": key("a")}}]},
            "Provided list of item keys contains duplicates",
        ),
        (
            {"one": [{"PutRequest": {"Item": key("a")}}, {"PutRequest": {"Item": {"pk": {"N": "1"}}}}]},
            "The provided key element does not match the schema",
        ),
        (
            {"one": [{"PutRequest": {"Item": key(str(i))}} for i in range(26)]},
            "Too many items requested for the BatchWriteItem call",
        ),
    ]:
        with pytest.raises(ClientError) as e:
            ddb.batch_write_item(RequestItems=requests)
        assert code_of(e) == "ValidationException"
        assert message_of(e) == message
    assert stored() == before
    with pytest.raises(ClientError) as e:
        ddb.batch_write_item(RequestItems={"nope": [{"PutRequest": {"Item": key("a")}}]})
    assert code_of(e) == "ResourceNotFoundException"


def test_batch_get_refuses_duplicate_keys(ddb, tables):
    with pytest.raises(ClientError) as e:
        ddb.batch_get_item(RequestItems={"one": {"Keys": [key("a"), key("a")]}})
    assert message_of(e) == "Provided list of item keys contains duplicates"


def test_a_transaction_writes_everything(ddb, tables):
    ddb.put_item(TableName="one", Item={**key("acct"), "balance": {"N": "10"}})
    ddb.put_item(TableName="one", Item=key("old"))
    ddb.transact_write_items(
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": "one",
                    "Key": key("acct"),
                    "ConditionExpression": "balance >= :n",
                    "ExpressionAttributeValues": {":n": {"N": "5"}},
                }
            },
            {"Put": {"TableName": "two", "Item": {**key("order"), "n": {"N": "5"}}}},
            {"Delete": {"TableName": "one", "Key": key("old")}},
            {
                "Put": {
                    "TableName": "one",
                    "Item": {**key("new"), "n": {"N": "1"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    assert ddb.get_item(TableName="two", Key=key("order"))["Item"]["n"] == {"N": "5"}
    assert "Item" not in ddb.get_item(TableName="one", Key=key("old"))
    got = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": "one", "Key": key("new")}},
            {"Get": {"TableName": "one", "Key": key("none")}},
        ]
    )
    assert got["Responses"] == [{"Item": {**key("new"), "n": {"N": "1"}}}, {}]


def test_a_failed_condition_cancels_the_whole_transaction(ddb, tables):
    ddb.put_item(TableName="one", Item={**key("acct"), "balance": {"N": "1"}})
    before, records = stored(), StreamRecord.objects.count()
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "two", "Item": key("order")}},
                {
                    "ConditionCheck": {
                        "TableName": "one",
                        "Key": key("acct"),
                        "ConditionExpression": "balance >= :n",
                        "ExpressionAttributeValues": {":n": {"N": "5"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    assert code_of(e) == "TransactionCanceledException"
    assert message_of(e) == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]"
    )
    reasons = e.value.response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Item"]["balance"] == {"N": "1"}
    assert stored() == before and StreamRecord.objects.count() == records


def test_one_item_twice_in_a_transaction_is_refused(ddb, tables):
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "one", "Item": key("a")}},
                {"Delete": {"TableName": "one", "Key": key("a")}},
            ]
        )
    assert message_of(e) == "Transaction request cannot include multiple operations on one item"
    assert not Item.objects.exists()


def test_a_transaction_may_not_update_a_key(ddb, tables):
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "one",
                        "Key": key("a"),
                        "UpdateExpression": "SET pk = :v",
                        "ExpressionAttributeValues": {":v": {"S": "a"}},
                    }
                }
            ]
        )
    assert code_of(e) == "ValidationException"
    assert message_of(e) == (
        "One or more parameter values were invalid: Cannot update attribute pk. "
        "This attribute is part of the key"
    )
    assert not Item.objects.exists()


def test_a_client_request_token_makes_a_transaction_idempotent(ddb, tables):
    update = [
        {
            "Update": {
                "TableName": "one",
                "Key": key("c"),
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
    ]
    ddb.transact_write_items(TransactItems=update, ClientRequestToken="token-1")
    ddb.transact_write_items(TransactItems=update, ClientRequestToken="token-1")
    assert ddb.get_item(TableName="one", Key=key("c"))["Item"]["n"] == {"N": "1"}
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "one", "Item": key("d")}}], ClientRequestToken="token-1"
        )
    assert code_of(e) == "IdempotentParameterMismatchException"
    # The token is a row committed with the writes (any process sees it),
    # forgotten after its 10 minutes.
    token = TransactionToken.objects.get(token="token-1")
    assert transactions.forget_tokens(now=token.created_at + timedelta(minutes=9)) == 0
    assert transactions.forget_tokens(now=token.created_at + timedelta(minutes=11)) >= 1
    ddb.transact_write_items(TransactItems=update, ClientRequestToken="token-1")
    assert ddb.get_item(TableName="one", Key=key("c"))["Item"]["n"] == {"N": "2"}


def test_a_cancelled_transaction_keeps_no_token(ddb, tables):
    check = [
        {
            "ConditionCheck": {
                "TableName": "one",
                "Key": key("none"),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
    ]
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            ddb.transact_write_items(TransactItems=check, ClientRequestToken="token-2")
        assert code_of(e) == "TransactionCanceledException"
    assert not TransactionToken.objects.exists()


def test_a_batch_of_large_items_is_taken(ddb, tables):
    """25 items of 300 KB: past the door's usual 2 MB body, within DynamoDB's 16 MB."""
    big = "x" * (300 * 1024)
    ddb.batch_write_item(
        RequestItems={
            "two": [{"PutRequest": {"Item": {**key(str(i)), "big": {"S": big}}}} for i in range(25)]
        }
    )
    assert Item.objects.count() == 25


def test_consumed_capacity_per_table_when_asked(ddb, tables):
    out = ddb.batch_write_item(
        RequestItems={
            "one": [{"PutRequest": {"Item": key("a")}}],
            "two": [{"PutRequest": {"Item": key("b")}}],
        },
        ReturnConsumedCapacity="TOTAL",
    )
    assert sorted(c["TableName"] for c in out["ConsumedCapacity"]) == ["one", "two"]
    got = ddb.transact_get_items(
        TransactItems=[{"Get": {"TableName": "one", "Key": key("a")}}], ReturnConsumedCapacity="TOTAL"
    )
    assert got["ConsumedCapacity"] == [{"TableName": "one", "CapacityUnits": 2.0}]
    assert "ConsumedCapacity" not in ddb.batch_get_item(RequestItems={"one": {"Keys": [key("a")]}})


BIG = "x" * (390 * 1024)  # with its name and key, about 390 KB an item


def test_batch_get_answers_at_most_16_mb_and_the_rest_is_unprocessed(ddb, tables):
    """BatchGetItem: "returns a partial result if the response size limit
    is exceeded" (16 MB); the caller asks again for UnprocessedKeys."""
    for i in range(44):  # about 16.8 MB in all
        ddb.put_item(TableName="one", Item={**key(f"{i:02}"), "big": {"S": BIG}})
    ddb.put_item(TableName="two", Item=key("small"))
    request = {
        "one": {"Keys": [key(f"{i:02}") for i in range(44)], "ProjectionExpression": "pk, big"},
        "two": {"Keys": [key("small")], "ConsistentRead": True},
    }
    answer = ddb.batch_get_item(RequestItems=request)
    got = {i["pk"]["S"] for items in answer["Responses"].values() for i in items}
    assert 0 < len(got) < 45
    assert sum(len(i["big"]["S"]) for i in answer["Responses"]["one"]) <= 16 * 1024 * 1024
    left = answer["UnprocessedKeys"]
    assert left["one"]["ProjectionExpression"] == "pk, big"
    assert left["two"] == {"Keys": [key("small")], "ConsistentRead": True}
    rounds = 1
    while left:
        answer = ddb.batch_get_item(RequestItems=left)
        got |= {i["pk"]["S"] for items in answer["Responses"].values() for i in items}
        left = answer["UnprocessedKeys"]
        rounds += 1
    assert got == {f"{i:02}" for i in range(44)} | {"small"}
    assert rounds == 2


def test_a_transaction_of_more_than_4_mb_is_refused(ddb, tables):
    """TransactWriteItems / TransactGetItems: "The aggregate size of the
    items in the transaction cannot exceed 4 MB"."""
    puts = [{"Put": {"TableName": "one", "Item": {**key(str(i)), "big": {"S": BIG}}}} for i in range(11)]
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(TransactItems=puts)
    assert code_of(e) == "ValidationException"
    assert message_of(e) == "Transaction request cannot be larger than 4 MB"
    assert stored() == []
    ddb.transact_write_items(TransactItems=puts[:10])
    ddb.put_item(TableName="one", Item={**key("10"), "big": {"S": BIG}})
    gets = [{"Get": {"TableName": "one", "Key": key(str(i))}} for i in range(11)]
    with pytest.raises(ClientError) as e:
        ddb.transact_get_items(TransactItems=gets)
    assert code_of(e) == "ValidationException"
    assert message_of(e) == "Transaction request cannot be larger than 4 MB"
    assert len(ddb.transact_get_items(TransactItems=gets[:10])["Responses"]) == 10
