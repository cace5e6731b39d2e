"""DynamoDB's item operations through boto3's `dynamodb` client against the
production ASGI app: PutItem, GetItem, UpdateItem, DeleteItem with
conditions and ReturnValues, key and size checks (nothing stored on a
refusal), stream records written with their change, and a hypothesis
round trip of typed items."""

import base64
from datetime import timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tables.models import Item, StreamRecord
from tests.unit.aws_clients import code_of, message_of
from tests.unit.ddb_support import make_table

KEY = {"pk": {"S": "a"}, "sk": {"S": "1"}}


@pytest.fixture
def table(ddb):
    return make_table(
        ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )


def stored() -> list[str]:
    return sorted(Item.objects.values_list("data", flat=True))


def test_it_puts_and_gets_an_item(ddb, table):
    item = {
        **KEY,
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\xff"},
        "l": {"L": [{"S": "x"}, {"NULL": True}]},
        "m": {"M": {"in": {"BOOL": False}}},
        "ss": {"SS": ["b", "a"]},
        "bs": {"BS": [b"1", b"2"]},
    }
    assert "Attributes" not in ddb.put_item(TableName="things", Item=item)
    got = ddb.get_item(TableName="things", Key=KEY, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "1.5"}
    assert got["b"] == {"B": b"\x00\xff"}
    assert got["bs"] == {"BS": [b"1", b"2"]}
    assert got["m"] == {"M": {"in": {"BOOL": False}}}
    assert ddb.get_item(TableName="things", Key={"pk": {"S": "a"}, "sk": {"S": "2"}}).get("Item") is None


def test_put_returns_the_old_item_and_records_insert_then_modify(ddb, table):
    ddb.put_item(TableName="things", Item={**KEY, "v": {"S": "one"}})
    old = ddb.put_item(TableName="things", Item={**KEY, "v": {"S": "two"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"]["v"] == {"S": "one"}
    ddb.put_item(TableName="things", Item={**KEY, "v": {"S": "two"}})  # no change: no record
    assert list(StreamRecord.objects.order_by("id").values_list("event_name", flat=True)) == [
        "INSERT",
        "MODIFY",
    ]
    gone = ddb.delete_item(TableName="things", Key=KEY, ReturnValues="ALL_OLD")
    assert gone["Attributes"]["v"] == {"S": "two"}
    assert StreamRecord.objects.order_by("-id").first().event_name == "REMOVE"
    assert not Item.objects.exists()


@pytest.mark.parametrize(
    "item, message",
    [
        ({"sk": {"S": "1"}}, "One or more parameter values were invalid: Missing the key pk in the item"),
        (
            {"pk": {"N": "1"}, "sk": {"S": "1"}},
            "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N",
        ),
        (
            {"pk": {"S": ""}, "sk": {"S": "1"}},
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
            "contain an empty string value. Key: pk",
        ),
        ({**KEY, "big": {"S": "x" * (400 * 1024)}}, "Item size has exceeded the maximum allowed size"),
        ({**KEY, "n": {"N": "abc"}}, None),
        ({**KEY, "s": {"SS": ["a", "a"]}}, None),
    ],
)
def test_it_refuses_bad_items_and_stores_nothing(raw_ddb, table, item, message):
    raw_ddb.put_item(TableName="things", Item={**KEY, "v": {"S": "kept"}})
    before = stored()
    with pytest.raises(ClientError) as e:
        raw_ddb.put_item(TableName="things", Item=item)
    assert code_of(e) == "ValidationException"
    if message:
        assert message_of(e) == message
    assert stored() == before


def test_a_key_must_match_the_schema(ddb, table):
    for key in ({"pk": {"S": "a"}}, {**KEY, "x": {"S": "1"}}, {"pk": {"S": "a"}, "sk": {"N": "1"}}):
        with pytest.raises(ClientError) as e:
            ddb.get_item(TableName="things", Key=key)
        assert message_of(e) == "The provided key element does not match the schema"


def test_a_missing_table_is_not_found(ddb):
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="nothing", Item=KEY)
    assert code_of(e) == "ResourceNotFoundException"
    assert message_of(e) == "Requested resource not found"


def test_put_returns_values_can_only_be_all_old_or_none(raw_ddb, table):
    with pytest.raises(ClientError) as e:
        raw_ddb.put_item(TableName="things", Item=KEY, ReturnValues="ALL_NEW")
    assert message_of(e) == "ReturnValues can only be ALL_OLD or NONE"
    assert not Item.objects.exists()


# Conditions and updates (tables.expressions) ---------------------------------------


def test_a_condition_guards_a_put(ddb, table):
    ddb.put_item(
        TableName="things", Item={**KEY, "v": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)"
    )
    with pytest.raises(ClientError) as e:
        ddb.put_item(
            TableName="things",
            Item={**KEY, "v": {"N": "2"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert code_of(e) == "ConditionalCheckFailedException"
    assert message_of(e) == "The conditional request failed"
    assert e.value.response["Item"]["v"] == {"N": "1"}
    assert ddb.get_item(TableName="things", Key=KEY)["Item"]["v"] == {"N": "1"}
    assert StreamRecord.objects.count() == 1


def test_update_item_with_every_return_value(ddb, table):
    ddb.put_item(TableName="things", Item={**KEY, "n": {"N": "1"}, "keep": {"S": "k"}})
    common = dict(
        TableName="things",
        Key=KEY,
        UpdateExpression="SET n = n + :one, t = :t",
        ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"S": "new"}},
    )
    assert "Attributes" not in ddb.update_item(**common)
    assert ddb.update_item(**common, ReturnValues="UPDATED_OLD")["Attributes"] == {
        "n": {"N": "2"},
        "t": {"S": "new"},
    }
    assert ddb.update_item(**common, ReturnValues="UPDATED_NEW")["Attributes"] == {
        "n": {"N": "4"},
        "t": {"S": "new"},
    }
    assert ddb.update_item(**common, ReturnValues="ALL_OLD")["Attributes"]["keep"] == {"S": "k"}
    assert ddb.update_item(**common, ReturnValues="ALL_NEW")["Attributes"]["n"] == {"N": "6"}


def test_update_creates_a_missing_item_and_refuses_key_changes(ddb, table):
    ddb.update_item(
        TableName="things",
        Key=KEY,
        UpdateExpression="ADD c :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert ddb.get_item(TableName="things", Key=KEY)["Item"] == {**KEY, "c": {"N": "1"}}
    with pytest.raises(ClientError) as e:
        ddb.update_item(
            TableName="things",
            Key=KEY,
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "b"}},
        )
    assert message_of(e) == (
        "One or more parameter values were invalid: Cannot update attribute pk. "
        "This attribute is part of the key"
    )


def test_an_update_that_does_not_fit_the_item_changes_nothing(ddb, table):
    ddb.put_item(TableName="things", Item={**KEY, "n": {"S": "text"}})
    before = stored()
    for expression in ("SET a = nothere + :v", "SET n = n + :v"):
        with pytest.raises(ClientError) as e:
            ddb.update_item(
                TableName="things",
                Key=KEY,
                UpdateExpression=expression,
                ExpressionAttributeValues={":v": {"N": "1"}},
            )
        assert code_of(e) == "ValidationException"
        assert "provided" in message_of(e) or "operand" in message_of(e), message_of(e)
    assert stored() == before


def test_update_condition_failure_changes_nothing(ddb, table):
    ddb.put_item(TableName="things", Item={**KEY, "n": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        ddb.update_item(
            TableName="things",
            Key=KEY,
            UpdateExpression="SET n = :v",
            ConditionExpression="n > :v",
            ExpressionAttributeValues={":v": {"N": "5"}},
        )
    assert code_of(e) == "ConditionalCheckFailedException"
    assert ddb.get_item(TableName="things", Key=KEY)["Item"]["n"] == {"N": "1"}


def test_unused_expression_values_are_refused(ddb, table):
    with pytest.raises(ClientError) as e:
        ddb.put_item(
            TableName="things",
            Item=KEY,
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert code_of(e) == "ValidationException"
    assert ":v" in message_of(e)
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="things", Item=KEY, ExpressionAttributeNames={"#n": "n"})
    assert message_of(e) == "ExpressionAttributeNames can only be specified when using expressions"
    assert not Item.objects.exists()


def test_delete_with_a_condition(ddb, table):
    ddb.put_item(TableName="things", Item={**KEY, "state": {"S": "open"}})
    with pytest.raises(ClientError):
        ddb.delete_item(
            TableName="things",
            Key=KEY,
            ConditionExpression="#s = :closed",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":closed": {"S": "x"}},
        )
    assert Item.objects.count() == 1
    ddb.delete_item(
        TableName="things",
        Key=KEY,
        ConditionExpression="#s = :open",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":open": {"S": "open"}},
    )
    assert not Item.objects.exists()


def test_get_item_projection(ddb, table):
    ddb.put_item(
        TableName="things", Item={**KEY, "a": {"S": "1"}, "b": {"M": {"c": {"S": "2"}, "d": {"S": "3"}}}}
    )
    got = ddb.get_item(TableName="things", Key=KEY, ProjectionExpression="a, b.c")["Item"]
    assert got == {"a": {"S": "1"}, "b": {"M": {"c": {"S": "2"}}}}


# Round trip -------------------------------------------------------------------------

names = st.text(alphabet="abcdefgh_", min_size=1, max_size=6).filter(lambda n: n not in ("pk", "sk"))
numbers = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d == 0 or (Decimal("1e-130") <= abs(d) < Decimal("1e126") and len(d.as_tuple().digits) <= 38)
)
scalars = st.one_of(
    st.text(max_size=20).map(lambda s: {"S": s}),
    numbers.map(lambda d: {"N": str(d)}),
    st.binary(max_size=20).map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.sets(st.text(max_size=5), min_size=1, max_size=4).map(lambda s: {"SS": sorted(s)}),
    st.sets(st.binary(max_size=5), min_size=1, max_size=4).map(lambda s: {"BS": sorted(s)}),
)
typed = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(names, inner, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=10,
)


def same(a, b) -> bool:
    """Equal as DynamoDB values: numbers by value, sets as sets."""
    ((kind, x),) = a.items()
    ((kind_b, y),) = b.items()
    if kind != kind_b:
        return False
    if kind == "N":
        return Decimal(x) == Decimal(y)
    if kind in ("SS", "BS"):
        return set(x) == set(y)
    if kind == "L":
        return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y, strict=True))
    if kind == "M":
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    return x == y


@settings(
    max_examples=40,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.dictionaries(names, typed, max_size=5))
def test_typed_items_round_trip(ddb, table, attributes):
    item = {**KEY, **attributes}
    ddb.put_item(TableName="things", Item=item)
    got = ddb.get_item(TableName="things", Key=KEY)["Item"]
    assert got.keys() == item.keys()
    for name, value in item.items():
        assert same(value, got[name]), name
    # Binaries travel as base64 and are stored as base64 text.
    for value in attributes.values():
        if "B" in value:
            assert base64.b64encode(value["B"]).decode() in Item.objects.get().data


def test_key_values_have_size_limits(raw_ddb, table):
    with pytest.raises(ClientError) as e:
        raw_ddb.put_item(TableName="things", Item={"pk": {"S": "é" * 1025}, "sk": {"S": "1"}})
    assert message_of(e) == (
        "One or more parameter values were invalid: "
        "Size of hashkey has exceeded the maximum size limit of 2048 bytes"
    )
    with pytest.raises(ClientError) as e:
        raw_ddb.get_item(TableName="things", Key={"pk": {"S": "a"}, "sk": {"S": "x" * 1025}})
    assert "Aggregated size of all range keys has exceeded the size limit of 1024 bytes" in message_of(e)
    raw_ddb.put_item(TableName="things", Item={"pk": {"S": "a" * 2048}, "sk": {"S": "x" * 1024}})
    assert Item.objects.count() == 1


def test_updated_values_are_only_the_written_paths(ddb, table):
    ddb.put_item(
        TableName="things", Item={**KEY, "m": {"M": {"a": {"N": "1"}, "b": {"N": "2"}}}, "l": {"L": []}}
    )
    answer = ddb.update_item(
        TableName="things",
        Key=KEY,
        UpdateExpression="SET m.a = :v, fresh = :v",
        ExpressionAttributeValues={":v": {"N": "9"}},
        ReturnValues="UPDATED_OLD",
    )
    assert answer["Attributes"] == {"m": {"M": {"a": {"N": "1"}}}}
    answer = ddb.update_item(
        TableName="things",
        Key=KEY,
        UpdateExpression="SET m.b = :v",
        ExpressionAttributeValues={":v": {"N": "7"}},
        ReturnValues="UPDATED_NEW",
    )
    assert answer["Attributes"] == {"m": {"M": {"b": {"N": "7"}}}}


def test_binary_values_in_expressions(ddb):
    make_table(ddb, "blobs", sort="sk", sort_type="B")
    ddb.put_item(TableName="blobs", Item={"pk": {"S": "p"}, "sk": {"B": b"\x01\x02"}, "data": {"B": b"\xff"}})
    ddb.put_item(TableName="blobs", Item={"pk": {"S": "p"}, "sk": {"B": b"\x01\x03"}, "data": {"B": b"\x00"}})
    ddb.put_item(TableName="blobs", Item={"pk": {"S": "p"}, "sk": {"B": b"\x02"}})
    found = ddb.query(
        TableName="blobs",
        KeyConditionExpression="pk = :p AND begins_with(sk, :prefix)",
        FilterExpression="#d = :ff",
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":p": {"S": "p"}, ":prefix": {"B": b"\x01"}, ":ff": {"B": b"\xff"}},
    )
    assert [i["sk"]["B"] for i in found["Items"]] == [b"\x01\x02"]
    assert found["ScannedCount"] == 2


def nested(wraps: int, leaf=None) -> dict:
    """A value of `wraps` maps (alternating with lists) around a scalar."""
    value = leaf or {"S": "leaf"}
    for i in range(wraps):
        value = {"M": {"n": value}} if i % 2 else {"L": [value]}
    return value


def test_values_nest_at_most_32_levels(ddb, raw_ddb, table):
    """"Quotas": 32 levels of nesting, the attribute the first; a deeper
    value is refused by PutItem and by the item an UpdateItem makes."""
    ddb.put_item(TableName="things", Item={**KEY, "deep": nested(31)})
    assert ddb.get_item(TableName="things", Key=KEY)["Item"]["deep"] == nested(31)
    before = stored()
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="things", Item={**KEY, "deep": nested(32)})
    assert code_of(e) == "ValidationException"
    assert message_of(e).startswith("Nesting Levels have exceeded supported limits")
    with pytest.raises(ClientError) as e:
        raw_ddb.put_item(TableName="things", Item={**KEY, "deep": nested(100)})
    assert message_of(e).startswith("Nesting Levels have exceeded supported limits")
    # SET inside the innermost list: the new item is one level deeper.
    path = "deep" + "".join("[0]" if i % 2 == 0 else ".n" for i in range(30, -1, -1))
    with pytest.raises(ClientError) as e:
        ddb.update_item(
            TableName="things",
            Key=KEY,
            UpdateExpression=f"SET {path} = :m",
            ExpressionAttributeValues={":m": {"M": {"x": {"S": "y"}}}},
        )
    assert message_of(e).startswith("Nesting Levels have exceeded supported limits")
    assert stored() == before


def test_empty_attribute_names_are_refused(ddb, table):
    """"Naming rules": attribute names are at least one character, at the
    top of an item, as a map's key, and as an ExpressionAttributeNames value."""
    for item in (
        {**KEY, "": {"S": "x"}},
        {**KEY, "m": {"M": {"": {"S": "x"}}}},
        {**KEY, "l": {"L": [{"M": {"ok": {"M": {"": {"N": "1"}}}}}]}},
    ):
        with pytest.raises(ClientError) as e:
            ddb.put_item(TableName="things", Item=item)
        assert code_of(e) == "ValidationException"
        assert message_of(e) == "Empty attribute name"
    assert stored() == []
    with pytest.raises(ClientError) as e:
        ddb.update_item(
            TableName="things",
            Key=KEY,
            UpdateExpression="SET #n = :v",
            ExpressionAttributeNames={"#n": ""},
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert message_of(e) == "ExpressionAttributeNames contains invalid value: Empty attribute name for key #n"
    with pytest.raises(ClientError) as e:
        ddb.update_item(
            TableName="things",
            Key=KEY,
            UpdateExpression="SET m = :v",
            ExpressionAttributeValues={":v": {"M": {"": {"S": "x"}}}},
        )
    assert "Empty attribute name" in message_of(e)
    assert stored() == []


def test_index_keys_have_the_key_limits_and_types(ddb, raw_ddb):
    """An index's key attributes have the table keys' size limits ("Quotas":
    2048 bytes partition, 1024 bytes sort) and their AttributeDefinitions
    type; a refused write stores nothing."""
    make_table(
        ddb,
        more_definitions=[
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "gs", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "gs", "KeyType": "RANGE"},
                ],
            }
        ],
    )
    with pytest.raises(ClientError) as e:
        raw_ddb.put_item(TableName="things", Item={**KEY, "g": {"S": "é" * 1025}, "gs": {"S": "1"}})
    assert code_of(e) == "ValidationException"
    assert message_of(e) == (
        "One or more parameter values were invalid: "
        "Size of hashkey has exceeded the maximum size limit of 2048 bytes"
    )
    with pytest.raises(ClientError) as e:
        raw_ddb.put_item(TableName="things", Item={**KEY, "g": {"S": "a"}, "gs": {"S": "x" * 1025}})
    assert "Aggregated size of all range keys has exceeded the size limit of 1024 bytes" in message_of(e)
    raw_ddb.put_item(TableName="things", Item={**KEY, "g": {"S": "a"}})
    with pytest.raises(ClientError) as e:
        raw_ddb.update_item(
            TableName="things",
            Key=KEY,
            UpdateExpression="SET gs = :v",
            ExpressionAttributeValues={":v": {"S": "x" * 1025}},
        )
    assert "Aggregated size of all range keys" in message_of(e)
    with pytest.raises(ClientError) as e:
        raw_ddb.put_item(TableName="things", Item={**KEY, "g": {"N": "1"}, "gs": {"S": "1"}})
    assert message_of(e) == (
        "One or more parameter values were invalid: "
        "Type mismatch for Index Key g Expected: S Actual: N IndexName: by-g"
    )
    assert [i["g"] for i in ddb.scan(TableName="things")["Items"]] == [{"S": "a"}]
    raw_ddb.put_item(TableName="things", Item={**KEY, "g": {"S": "é" * 1024}, "gs": {"S": "x" * 1024}})
    assert ddb.query(
        TableName="things",
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "é" * 1024}},
    )["Count"] == 1
