"""Fuzzing what issue 9 added, with hypothesis, through the production ASGI
app (as tests/unit/test_fuzz_api.py does for SQS, SNS, S3 and Lambda; Kinesis
is tests/unit/test_kinesis_fuzz.py): every DynamoDB and DynamoDB Streams
operation, the Lambda API's event source mapping operations, and the
console's table, item, Kinesis stream and stream-mapping forms.

Inputs are drawn from botocore's model of each operation: mostly values of
the right type with real names (the fuzzed table, its stream, a mapping),
sometimes boundary values (empty and huge strings, NUL, lone surrogates,
numbers DynamoDB cannot hold, negative limits, unknown enums, deep nesting)
or anything JSON. Whatever comes in:
- the answer is below 500;
- an error is the service's own shape (JSON `__type` + message for
  DynamoDB; Lambda's X-Amzn-ErrorType + message) with a code the
  operation's model lists or the protocol's common ones;
- a refused request leaves the stored rows (tables, indexes, items, stream
  records, mappings, streams) as they were.

Most requests start valid (so they reach the tables' and mappings' own
rules) with a member or two replaced by a wild one. Bounded: FUZZ_EACH
examples per operation (FUZZ_EXAMPLES=1000 for a deeper run by hand;
FUZZ_STATS=1 with -s prints how the answers spread, to see how many get
past the parser)."""

import base64
import collections
import os
import json
import uuid
from urllib.parse import quote, urlencode

import pytest
from botocore.serialize import create_serializer
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from awsapi import services
from kinesis import streams as kinesis_streams
from kinesis.models import Record, Shard, Stream
from mappings.models import EventSourceMapping, ShardCheckpoint
from messaging import queues
from tables.models import IndexEntry, Item, StreamRecord, Table, TableIndex
from tests.unit.test_fuzz_api import (
    ACCOUNT,
    FUZZ_EACH,
    _json_typed,
    _model,
    _signed,
    _wild,
    aws,  # noqa: F401 - the fixture
    json_texts,
    json_values,
    raw_bad_bodies,
    texts,
)

# Codes any operation of a JSON service may answer (the door's and the
# protocol's own), beside the errors its model lists.
COMMON_JSON = frozenset(
    {
        "ValidationException",
        "SerializationException",
        "AccessDeniedException",
        "UnknownOperationException",
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "ThrottlingException",
        "RequestEntityTooLarge",
    }
)
COMMON_LAMBDA = frozenset(
    {
        "ValidationException",
        "InvalidRequestContentException",
        "AccessDeniedException",
        "UnknownOperationException",
        "RequestTooLargeException",
        "InvalidParameterValueException",
        "ResourceNotFoundException",
    }
)


def allowed_codes(service: str, operation: str, common: frozenset) -> frozenset:
    model = _model(service).operation_model(operation)
    return common | {shape.name for shape in model.error_shapes}


STATS = collections.Counter()


def assert_json_error(service: str, operation: str, resp, body: bytes) -> None:
    if os.environ.get("FUZZ_STATS"):
        STATS[(operation, resp.status_code, resp.content[:60])] += 1
    assert resp.status_code < 500, (operation, body[:300], resp.content[:300])
    if resp.status_code >= 400:
        error = resp.json()
        code = error["__type"].rpartition("#")[2]
        assert error["message"], error
        assert code in allowed_codes(service, operation, COMMON_JSON), (operation, error, body[:300])


# DynamoDB values ------------------------------------------------------------------

NUMBERS = st.sampled_from(
    [
        "1",
        "-1",
        "0",
        "-0",
        "0.5",
        "1e3",
        "1E-130",
        "1E-131",
        "9.9999999999999999999999999999999999999E+125",
        "1E+126",
        "1e400",
        "NaN",
        "Infinity",
        "123456789012345678901234567890123456789",
        " 1",
        "1 ",
        "",
        "x",
        "00001",
        "+1",
        ".5",
        "5.",
        "0x10",
    ]
)
ATTRIBUTE_TEXTS = st.one_of(texts, json_texts, st.sampled_from(["", "a" * 2000, "é😀"]))
b64 = st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())


def _nested(wraps: int) -> dict:
    """A value inside `wraps` maps (DynamoDB takes 31)."""
    value: dict = {"S": "x"}
    for _ in range(wraps):
        value = {"M": {"a": value}}
    return value


def _attribute_values(depth: int = 0):
    scalars = st.one_of(
        st.builds(lambda v: {"S": v}, ATTRIBUTE_TEXTS),
        st.builds(lambda v: {"N": v}, NUMBERS),
        st.builds(lambda v: {"B": v}, st.one_of(b64, st.just("not base64!"))),
        st.builds(lambda v: {"BOOL": v}, st.booleans()),
        st.builds(lambda v: {"NULL": v}, st.booleans()),
        st.builds(lambda v: {"SS": v}, st.lists(ATTRIBUTE_TEXTS, max_size=3)),
        st.builds(lambda v: {"NS": v}, st.lists(NUMBERS, max_size=3)),
        st.builds(lambda v: {"BS": v}, st.lists(b64, max_size=3)),
        st.sampled_from([{}, {"S": "a", "N": "1"}, {"S": 1}, {"X": "1"}, {"N": 1}, {"L": {}}, {"M": []}]),
        st.sampled_from([31, 32, 120]).map(_nested),
    )
    if depth >= 2:
        return scalars
    inner = _attribute_values(depth + 1)
    return st.one_of(
        scalars,
        scalars,
        scalars,
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        st.builds(lambda v: {"M": v}, st.dictionaries(ATTRIBUTE_TEXTS, inner, max_size=3)),
    )


attribute_values = _attribute_values()
KEY_NAMES = st.sampled_from(["pk", "sk", "pk", "sk", "g", "v", "", "#a", "a" * 300])


def _keys():
    good = st.fixed_dictionaries(
        {
            "pk": st.one_of(st.sampled_from(["a", "b"]).map(lambda v: {"S": v}), attribute_values),
            "sk": st.one_of(st.sampled_from(["1", "2"]).map(lambda v: {"N": v}), attribute_values),
        }
    )
    return st.one_of(good, good, st.dictionaries(KEY_NAMES, attribute_values, max_size=3), json_values)


def _items():
    good = st.fixed_dictionaries(
        {
            "pk": st.one_of(st.sampled_from(["a", "b"]).map(lambda v: {"S": v}), attribute_values),
            "sk": st.one_of(st.sampled_from(["1", "2"]).map(lambda v: {"N": v}), attribute_values),
        },
        optional={"g": attribute_values, "v": attribute_values, "ttl": attribute_values},
    )
    return st.one_of(good, good, st.dictionaries(KEY_NAMES, attribute_values, max_size=4), json_values)


keys, items = _keys(), _items()
CONDITIONS = st.sampled_from(
    [
        "attribute_exists(pk)",
        "attribute_not_exists(pk)",
        "#a = :v",
        "#a < :v AND :v > #a",
        "v BETWEEN :v AND :w",
        "begins_with(#a, :v)",
        "contains(v, :v)",
        "size(v) > :v",
        "attribute_type(v, :v)",
        "v IN (:v, :w)",
        "NOT (#a = :v)",
        "(" * 300 + "#a = :v" + ")" * 300,
        "#a =",
        "= :v",
        "",
        " ",
        "pk = :nope",
        "a.b[1] = :v",
        "v[99999999999999999999] = :v",
        "#a = :v OR " * 200 + "#a = :v",
        "\x00",
        "\ud800",
        "#a.#a = :v",
        "NOT " * 1000 + "attribute_exists(v)",
        " AND ".join(["attribute_exists(v)"] * 250),
    ]
)
KEY_CONDITIONS = st.sampled_from(
    [
        "pk = :v",
        "#a = :v",
        "pk = :v AND sk > :w",
        "pk = :v AND sk BETWEEN :v AND :w",
        "pk = :v AND begins_with(sk, :w)",
        "sk = :v",
        "pk = :v OR sk = :w",
        "pk < :v",
        "",
        "pk = :v AND v = :w",
    ]
)
UPDATES = st.sampled_from(
    [
        "SET v = :v",
        "SET #a = :v",
        "SET v = v + :v",
        "SET v = if_not_exists(v, :v)",
        "SET v = list_append(v, :v)",
        "REMOVE v",
        "REMOVE v[0]",
        "ADD v :v",
        "DELETE v :v",
        "SET v = :v REMOVE v",
        "SET pk = :v",
        "SET sk = :v",
        "SET v = :v, g = :w",
        "SET v[5] = :v",
        "SET a.b.c = :v",
        "SET",
        "",
        "SET v = :v SET g = :w",
        "SET " + ", ".join(f"x{i} = :v" for i in range(400)),
        "ADD v :v, v :w",
    ]
)
PROJECTIONS = st.sampled_from(["pk", "pk, sk, v", "#a", "v[0]", "a.b", "", ",", "pk, pk", "v[-1]"])
expression_names = st.one_of(
    st.fixed_dictionaries({"#a": st.sampled_from(["pk", "sk", "v", "", "a" * 300])}),
    st.dictionaries(st.sampled_from(["#a", "#b", "a", "#", ""]), ATTRIBUTE_TEXTS, max_size=2),
    json_values,
)
expression_values = st.one_of(
    st.fixed_dictionaries({":v": attribute_values}, optional={":w": attribute_values}),
    st.dictionaries(st.sampled_from([":v", ":w", "v", ":", ""]), attribute_values, max_size=2),
    json_values,
)
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/tbl"
table_names = st.one_of(
    st.just("tbl"),
    st.just("tbl"),
    st.just("tbl"),
    st.sampled_from(["nope", "ab", "a" * 256, "bad name", ""]),
    json_values,
)


def _ddb_signed(prefix: str, key, secret, op: str, body: dict | bytes):
    """A request signed for "dynamodb" (DynamoDB Streams signs so too) to
    X-Amz-Target `prefix`.`op`; a dict body is sent as JSON."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _signed(
        "dynamodb", "POST", "/", raw,
        {"X-Amz-Target": f"{prefix}.{op}", "Content-Type": "application/x-amz-json-1.0"},
        key, secret,
    )


def _ddb(key, secret, op: str, body: dict | bytes):
    return _ddb_signed("DynamoDB_20120810", key, secret, op, body)


def _table_setup(key, secret) -> None:
    """Table "t" (pk S, sk N; a global index on g; a stream; two items),
    made through the API, unless it exists."""
    if Table.objects.filter(name="tbl").exists():
        return
    made = _ddb(
        key,
        secret,
        "CreateTable",
        {
            "TableName": "tbl",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        },
    )
    assert made.status_code == 200, made.content
    for pk, sk in (("a", "1"), ("b", "2")):
        put = _ddb(
            key,
            secret,
            "PutItem",
            {
                "TableName": "tbl",
                "Item": {
                    "pk": {"S": pk},
                    "sk": {"N": sk},
                    "g": {"S": "x"},
                    "v": {"L": [{"N": "1"}]},
                },
            },
        )
        assert put.status_code == 200, put.content


def ddb_snapshot() -> tuple:
    return (
        tuple(
            Table.objects.order_by("pk").values_list(
                "pk",
                "name",
                "key_schema",
                "attribute_definitions",
                "billing_mode",
                "provisioned_throughput",
                "status",
                "deletion_protection",
                "tags",
                "stream_view_type",
                "stream_label",
                "ttl_attribute",
                "ttl_enabled",
            )
        ),
        tuple(
            TableIndex.objects.order_by("pk").values_list("pk", "name", "key_schema", "projection", "status")
        ),
        tuple(Item.objects.order_by("pk").values_list("pk", "table_id", "hash_digest", "sort_key", "data")),
        IndexEntry.objects.count(),
        StreamRecord.objects.count(),
    )


def _ddb_names(op: str) -> dict:
    names = {
        "TableName": table_names,
        "Key": keys,
        "Item": items,
        "ExclusiveStartKey": keys,
        "ConditionExpression": _wild(CONDITIONS),
        "FilterExpression": _wild(CONDITIONS),
        "KeyConditionExpression": _wild(KEY_CONDITIONS),
        "UpdateExpression": _wild(UPDATES),
        "ProjectionExpression": _wild(PROJECTIONS),
        "ExpressionAttributeNames": expression_names,
        "ExpressionAttributeValues": expression_values,
        "IndexName": st.sampled_from(["by-g", "nope", ""]),
        "Limit": st.one_of(st.integers(-2, 3), st.sampled_from([0, 2**31, 2**40, -(2**40)]), json_values),
        "ResourceArn": st.one_of(
            st.just(TABLE_ARN), st.sampled_from([TABLE_ARN + "x", "arn:aws:x", ""]), json_values
        ),
        "Segment": st.one_of(st.integers(-1, 3), json_values),
        "TotalSegments": st.one_of(st.integers(-1, 3), st.just(1000001), json_values),
        "ClientRequestToken": st.one_of(st.sampled_from(["tok", "a" * 37, ""]), json_values),
    }
    if op == "BatchWriteItem":
        request = st.one_of(
            st.fixed_dictionaries({"PutRequest": st.fixed_dictionaries({"Item": items})}),
            st.fixed_dictionaries({"DeleteRequest": st.fixed_dictionaries({"Key": keys})}),
            st.just({}),
            st.just(
                {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}}, "DeleteRequest": {"Key": {}}}
            ),
            json_values,
        )
        names["RequestItems"] = st.one_of(
            st.dictionaries(
                st.sampled_from(["tbl", "tbl", "nope", ""]), st.lists(request, max_size=4), max_size=2
            ),
            json_values,
        )
    elif op == "BatchGetItem":
        names["RequestItems"] = st.one_of(
            st.dictionaries(
                st.sampled_from(["tbl", "tbl", "nope", ""]),
                st.fixed_dictionaries(
                    {"Keys": st.lists(keys, max_size=4)},
                    optional={
                        "ProjectionExpression": PROJECTIONS,
                        "ExpressionAttributeNames": expression_names,
                    },
                ),
                max_size=2,
            ),
            json_values,
        )
    elif op in ("CreateTable", "UpdateTable"):
        names["TableName"] = st.one_of(st.sampled_from(["tbl", "fresh", "fresh", "ab"]), json_values)
        names["AttributeDefinitions"] = st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "AttributeName": KEY_NAMES,
                        "AttributeType": st.sampled_from(["S", "N", "B", "X", "BOOL"]),
                    }
                ),
                max_size=3,
            ),
            json_values,
        )
        names["KeySchema"] = st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "AttributeName": KEY_NAMES,
                        "KeyType": st.sampled_from(["HASH", "RANGE", "hash"]),
                    }
                ),
                max_size=3,
            ),
            json_values,
        )
    return names


# Valid requests, so that most reach the tables' own rules (a member or two
# is then replaced by a wild one).
SAFE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
good_values = st.one_of(
    SAFE_TEXT.map(lambda v: {"S": v}),
    st.sampled_from(["1", "-2.5", "0", "1E+10"]).map(lambda v: {"N": v}),
    b64.map(lambda v: {"B": v}),
    st.booleans().map(lambda v: {"BOOL": v}),
    st.just({"NULL": True}),
    st.lists(SAFE_TEXT, min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
    st.lists(st.sampled_from([{"N": "1"}, {"S": "x"}]), max_size=3).map(lambda v: {"L": v}),
    st.dictionaries(st.sampled_from(["a", "b"]), st.just({"S": "x"}), max_size=2).map(lambda v: {"M": v}),
)
good_keys = st.fixed_dictionaries(
    {
        "pk": st.sampled_from(["a", "b", "c"]).map(lambda v: {"S": v}),
        "sk": st.sampled_from(["1", "2", "3"]).map(lambda v: {"N": v}),
    }
)
good_items = st.builds(
    lambda k, extra: {**k, **extra},
    good_keys,
    st.fixed_dictionaries(
        {},
        optional={
            "g": SAFE_TEXT.filter(bool).map(lambda v: {"S": v}),
            "v": good_values,
            "ttl": st.just({"N": "1"}),
        },
    ),
)


def _combo(text: str, names: dict | None = None, values=None):
    """An expression with its names and values (values: a strategy)."""
    return st.fixed_dictionaries(
        {
            "text": st.just(text),
            "names": st.just(names),
            "values": values if values is not None else st.none(),
        }
    )


CONDITION_COMBOS = st.one_of(
    _combo("attribute_exists(pk)"),
    _combo("attribute_not_exists(pk)"),
    _combo("#a = :v", {"#a": "v"}, st.fixed_dictionaries({":v": good_values})),
    _combo("size(v) > :v", None, st.just({":v": {"N": "0"}})),
    _combo("v IN (:v, :w)", None, st.fixed_dictionaries({":v": good_values, ":w": good_values})),
    _combo("begins_with(g, :v)", None, st.just({":v": {"S": "x"}})),
)
UPDATE_COMBOS = st.one_of(
    _combo("SET v = :v", None, st.fixed_dictionaries({":v": good_values})),
    _combo("SET v = v + :v", None, st.just({":v": {"N": "1"}})),
    _combo("ADD v :v", None, st.sampled_from([{":v": {"N": "1"}}, {":v": {"SS": ["x"]}}])),
    _combo("REMOVE v, g"),
    _combo("REMOVE v[0]"),
    _combo(
        "SET v = list_append(if_not_exists(v, :e), :v)",
        None,
        st.just({":v": {"L": [{"N": "1"}]}, ":e": {"L": []}}),
    ),
    _combo("SET #a = :v", {"#a": "g"}, st.just({":v": {"S": "y"}})),
    _combo("DELETE v :v", None, st.just({":v": {"SS": ["x"]}})),
    _combo("SET pk = :v", None, st.just({":v": {"S": "z"}})),
)
KEY_COMBOS = st.one_of(
    _combo("pk = :v", None, st.just({":v": {"S": "a"}})),
    _combo("#a = :v AND sk > :w", {"#a": "pk"}, st.just({":v": {"S": "a"}, ":w": {"N": "0"}})),
    _combo(
        "pk = :v AND sk BETWEEN :v2 AND :w",
        None,
        st.just({":v": {"S": "b"}, ":v2": {"N": "1"}, ":w": {"N": "9"}}),
    ),
)


@st.composite
def _with_expressions(draw, base: dict, slots: list[tuple[str, st.SearchStrategy]]) -> dict:
    """`base` plus, per (member, combos) slot, sometimes an expression
    with its names and values merged in."""
    body = dict(base)
    for member, combos in slots:
        if draw(st.booleans()):
            combo = draw(combos)
            body[member] = combo["text"]
            if combo["names"]:
                body.setdefault("ExpressionAttributeNames", {}).update(combo["names"])
            if combo["values"]:
                body.setdefault("ExpressionAttributeValues", {}).update(combo["values"])
    return body


RETURN_VALUES = st.sampled_from(["NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"])
write_requests = st.one_of(
    st.fixed_dictionaries({"PutRequest": st.fixed_dictionaries({"Item": good_items})}),
    st.fixed_dictionaries({"DeleteRequest": st.fixed_dictionaries({"Key": good_keys})}),
)
transact_items = st.one_of(
    st.fixed_dictionaries({"Put": st.fixed_dictionaries({"TableName": st.just("tbl"), "Item": good_items})}),
    st.fixed_dictionaries({"Delete": st.fixed_dictionaries({"TableName": st.just("tbl"), "Key": good_keys})}),
    st.fixed_dictionaries(
        {
            "Update": st.fixed_dictionaries(
                {
                    "TableName": st.just("tbl"),
                    "Key": good_keys,
                    "UpdateExpression": st.just("SET v = :v"),
                    "ExpressionAttributeValues": st.fixed_dictionaries({":v": good_values}),
                }
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "ConditionCheck": st.fixed_dictionaries(
                {
                    "TableName": st.just("tbl"),
                    "Key": good_keys,
                    "ConditionExpression": st.just("attribute_exists(pk)"),
                }
            )
        }
    ),
)
TBL = st.just("tbl")


def _valid(op: str) -> st.SearchStrategy:
    fixed = st.fixed_dictionaries
    bases = {
        "PutItem": _with_expressions(
            {"TableName": "tbl"},
            [("ConditionExpression", CONDITION_COMBOS)],
        ).flatmap(
            lambda b: fixed(
                {**{k: st.just(v) for k, v in b.items()}, "Item": good_items},
                optional={
                    "ReturnValues": st.sampled_from(["NONE", "ALL_OLD"]),
                    "ReturnValuesOnConditionCheckFailure": st.just("ALL_OLD"),
                },
            )
        ),
        "GetItem": fixed(
            {"TableName": TBL, "Key": good_keys},
            optional={"ConsistentRead": st.booleans(), "ProjectionExpression": PROJECTIONS},
        ),
        "DeleteItem": _with_expressions(
            {"TableName": "tbl"}, [("ConditionExpression", CONDITION_COMBOS)]
        ).flatmap(
            lambda b: fixed(
                {**{k: st.just(v) for k, v in b.items()}, "Key": good_keys},
                optional={"ReturnValues": st.sampled_from(["NONE", "ALL_OLD"])},
            )
        ),
        "UpdateItem": _with_expressions(
            {"TableName": "tbl"},
            [("UpdateExpression", UPDATE_COMBOS), ("ConditionExpression", CONDITION_COMBOS)],
        ).flatmap(
            lambda b: fixed(
                {**{k: st.just(v) for k, v in b.items()}, "Key": good_keys},
                optional={"ReturnValues": RETURN_VALUES},
            )
        ),
        "Query": _with_expressions(
            {"TableName": "tbl"},
            [("KeyConditionExpression", KEY_COMBOS), ("FilterExpression", CONDITION_COMBOS)],
        ).flatmap(
            lambda b: fixed(
                {k: st.just(v) for k, v in b.items()},
                optional={
                    "Limit": st.integers(1, 3),
                    "ScanIndexForward": st.booleans(),
                    "ExclusiveStartKey": good_keys,
                    "Select": st.sampled_from(["COUNT", "ALL_ATTRIBUTES"]),
                },
            )
        ),
        "Scan": _with_expressions({"TableName": "tbl"}, [("FilterExpression", CONDITION_COMBOS)]).flatmap(
            lambda b: fixed(
                {k: st.just(v) for k, v in b.items()},
                optional={
                    "Limit": st.integers(1, 3),
                    "ExclusiveStartKey": good_keys,
                    "IndexName": st.just("by-g"),
                    "Segment": st.integers(0, 2),
                    "TotalSegments": st.integers(1, 3),
                },
            )
        ),
        "BatchWriteItem": fixed(
            {"RequestItems": fixed({"tbl": st.lists(write_requests, min_size=1, max_size=5)})}
        ),
        "BatchGetItem": fixed(
            {
                "RequestItems": fixed(
                    {
                        "tbl": fixed(
                            {
                                "Keys": st.lists(
                                    good_keys, min_size=1, max_size=4, unique_by=lambda k: json.dumps(k)
                                ),
                            }
                        )
                    }
                )
            }
        ),
        "TransactWriteItems": fixed(
            {"TransactItems": st.lists(transact_items, min_size=1, max_size=4)},
            optional={"ClientRequestToken": st.sampled_from(["tok-1", "tok-2"])},
        ),
        "TransactGetItems": fixed(
            {
                "TransactItems": st.lists(
                    fixed({"Get": fixed({"TableName": TBL, "Key": good_keys})}), min_size=1, max_size=4
                )
            }
        ),
        "CreateTable": fixed(
            {
                "TableName": st.sampled_from(["fresh", "tbl", "other"]),
                "BillingMode": st.just("PAY_PER_REQUEST"),
                "AttributeDefinitions": st.just([{"AttributeName": "id", "AttributeType": "S"}]),
                "KeySchema": st.just([{"AttributeName": "id", "KeyType": "HASH"}]),
            },
            optional={"StreamSpecification": st.just({"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})},
        ),
        "UpdateTable": fixed(
            {"TableName": TBL},
            optional={
                "StreamSpecification": st.sampled_from(
                    [{"StreamEnabled": False}, {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}]
                ),
                "GlobalSecondaryIndexUpdates": st.sampled_from([[{"Delete": {"IndexName": "by-g"}}]]),
                "DeletionProtectionEnabled": st.booleans(),
            },
        ),
        "UpdateTimeToLive": fixed(
            {
                "TableName": TBL,
                "TimeToLiveSpecification": fixed(
                    {"Enabled": st.booleans(), "AttributeName": st.sampled_from(["ttl", "other"])}
                ),
            }
        ),
        "TagResource": fixed(
            {
                "ResourceArn": st.just(TABLE_ARN),
                "Tags": st.lists(
                    fixed({"Key": st.sampled_from(["k", "aws:x", ""]), "Value": SAFE_TEXT}), max_size=3
                ),
            }
        ),
        "UntagResource": fixed(
            {"ResourceArn": st.just(TABLE_ARN), "TagKeys": st.lists(st.just("k"), max_size=2)}
        ),
    }
    return bases.get(op, fixed({"TableName": TBL}))


def near_valid_requests(service: str, op: str, valid: st.SearchStrategy, names: dict) -> st.SearchStrategy:
    """Mostly a valid request with up to two members replaced by wild
    ones (or one left out), else a wholly model-shaped wild one."""
    shape = _model(service).operation_model(op).input_shape
    wild = {
        name: _wild(names[name] if name in names else _json_typed(member, names, 1))
        for name, member in shape.members.items()
    }

    @st.composite
    def near(draw) -> dict:
        body = dict(draw(valid))
        for name in draw(st.lists(st.sampled_from(sorted(wild)), max_size=2, unique=True)) if wild else []:
            body[name] = draw(wild[name])
        if body and draw(st.integers(0, 5)) == 0:
            del body[draw(st.sampled_from(sorted(body)))]
        return body

    return st.one_of(near(), near(), near(), _json_typed(shape, names))


@pytest.mark.parametrize("op", sorted(services.get("dynamodb").handlers))
def test_fuzz_every_dynamodb_operation(aws, op):  # noqa: F811
    team, key, secret = aws
    requests = near_valid_requests("dynamodb", op, _valid(op), _ddb_names(op))

    @FUZZ_EACH
    @given(params=requests, raw=st.one_of(st.none(), st.none(), st.none(), raw_bad_bodies))
    def run(params, raw):
        _table_setup(key, secret)
        body = raw if raw is not None else json.dumps(params).encode()
        before = ddb_snapshot()
        resp = _ddb(key, secret, op, body)
        assert_json_error("dynamodb", op, resp, body)
        if resp.status_code >= 400:
            assert ddb_snapshot() == before, "a refused request changed stored data"

    run()


# DynamoDB Streams -------------------------------------------------------------------


def _streams_call(key, secret, op: str, body: dict | bytes):
    return _ddb_signed("DynamoDBStreams_20120810", key, secret, op, body)


@pytest.mark.parametrize("op", sorted(services.get("dynamodbstreams").handlers))
def test_fuzz_every_dynamodb_streams_operation(aws, op):  # noqa: F811
    team, key, secret = aws
    _table_setup(key, secret)
    arn = Table.objects.get(name="tbl").stream_arn
    described = _streams_call(key, secret, "DescribeStream", {"StreamArn": arn}).json()
    shard = described["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = _streams_call(
        key,
        secret,
        "GetShardIterator",
        {
            "StreamArn": arn,
            "ShardId": shard,
            "ShardIteratorType": "TRIM_HORIZON",
        },
    ).json()["ShardIterator"]
    records = _streams_call(key, secret, "GetRecords", {"ShardIterator": iterator}).json()["Records"]
    sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in records] + ["1", "9" * 21]
    names = {
        "StreamArn": st.one_of(
            st.just(arn), st.just(arn), st.sampled_from([arn + "x", TABLE_ARN, ""]), json_values
        ),
        "TableName": table_names,
        "ShardId": st.one_of(st.just(shard), st.just(shard), st.sampled_from(["shardId-x", ""]), json_values),
        "ShardIterator": st.one_of(
            st.just(iterator),
            st.just(iterator),
            st.just(iterator[:-3] + "abc"),
            st.text(max_size=20),
            json_values,
        ),
        "SequenceNumber": st.one_of(st.sampled_from(["1", "0", "-1", "9" * 40, "x", ""]), json_values),
        "Limit": st.one_of(st.integers(-2, 3), st.sampled_from([0, 1001, 2**40]), json_values),
        "ExclusiveStartShardId": st.one_of(st.just(shard), texts),
        "ExclusiveStartStreamArn": st.one_of(st.just(arn), texts),
    }
    fixed = st.fixed_dictionaries
    valid = {
        "DescribeStream": fixed({"StreamArn": st.just(arn)}, optional={"Limit": st.integers(1, 3)}),
        "GetShardIterator": st.one_of(
            fixed(
                {
                    "StreamArn": st.just(arn),
                    "ShardId": st.just(shard),
                    "ShardIteratorType": st.sampled_from(["TRIM_HORIZON", "LATEST"]),
                }
            ),
            fixed(
                {
                    "StreamArn": st.just(arn),
                    "ShardId": st.just(shard),
                    "ShardIteratorType": st.sampled_from(["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"]),
                    "SequenceNumber": st.sampled_from(sequence_numbers),
                }
            ),
        ),
        "GetRecords": fixed({"ShardIterator": st.just(iterator)}, optional={"Limit": st.integers(1, 3)}),
        "ListStreams": fixed({}, optional={"TableName": st.just("tbl"), "Limit": st.integers(1, 3)}),
    }[op]
    requests = near_valid_requests("dynamodbstreams", op, valid, names)

    @FUZZ_EACH
    @given(params=requests, raw=st.one_of(st.none(), st.none(), st.none(), raw_bad_bodies))
    def run(params, raw):
        body = raw if raw is not None else json.dumps(params).encode()
        before = ddb_snapshot()
        resp = _streams_call(key, secret, op, body)
        assert_json_error("dynamodbstreams", op, resp, body)
        assert ddb_snapshot() == before, "a stream read changed stored data"

    run()


# The Lambda API's event source mappings ------------------------------------------------

ESM_OPERATIONS = sorted(op for op in services.get("lambda").handlers if "EventSourceMapping" in op)


def test_the_fuzzed_mapping_operations_are_the_five():
    assert ESM_OPERATIONS == [
        "CreateEventSourceMapping",
        "DeleteEventSourceMapping",
        "GetEventSourceMapping",
        "ListEventSourceMappings",
        "UpdateEventSourceMapping",
    ]


def esm_snapshot() -> tuple:
    return (
        tuple(
            EventSourceMapping.objects.order_by("pk").values_list(
                "pk",
                "function_id",
                "event_source_arn",
                "kind",
                "batch_size",
                "batching_window_s",
                "enabled",
                "state",
                "filter_criteria",
                "function_response_types",
                "max_concurrency",
                "starting_position",
                "starting_position_at",
                "parallelization_factor",
                "max_retry_attempts",
                "max_record_age_s",
                "bisect_on_error",
                "tumbling_window_s",
                "on_failure_arn",
            )
        ),
        ShardCheckpoint.objects.count(),
    )


FILTER_PATTERNS = st.sampled_from(
    [
        '{"body": {"a": ["x"]}}',
        '{"dynamodb": {"Keys": {"pk": {"S": ["a"]}}}}',
        '{"data": {"n": [{"numeric": [">", 1]}]}}',
        "{",
        "[]",
        '{"a":' * 2000 + '["x"]' + "}" * 2000,
        '{"a": []}',
        "",
        "null",
        '{"a": [{"prefix": 1}]}',
    ]
)


@pytest.mark.parametrize("op", ESM_OPERATIONS)
def test_fuzz_every_event_source_mapping_operation(aws, make_function, op):  # noqa: F811
    team, key, secret = aws
    make_function("target")
    queue = queues.create_queue(team, "q")
    kinesis_streams.create(team, "s", 1)
    _table_setup(key, secret)
    stream_arn = Table.objects.get(name="tbl").stream_arn
    kinesis_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"
    make_function("other")

    def a_mapping() -> str:
        """The UUID of a mapping that exists (made again once deleted)."""
        found = EventSourceMapping.objects.order_by("created_at").first()
        if found is not None:
            return str(found.id)
        made = _signed(
            "lambda",
            "POST",
            "/2015-03-31/event-source-mappings/",
            json.dumps(
                {
                    "FunctionName": "target",
                    "EventSourceArn": kinesis_arn,
                    "StartingPosition": "LATEST",
                }
            ).encode(),
            {"Content-Type": "application/json"},
            key,
            secret,
        )
        assert made.status_code == 202, made.content
        return made.json()["UUID"]

    sources = st.one_of(
        st.sampled_from([queue.arn, kinesis_arn, stream_arn]),
        st.sampled_from(
            [
                kinesis_arn + "x",
                stream_arn + "x",
                f"arn:aws:sqs:us-east-1:{ACCOUNT}:nope",
                "arn:aws:s3:::b",
                "",
            ]
        ),
        json_texts,
    )
    function_names = st.sampled_from(
        ["target", "other", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:target"]
    )
    names = {
        "FunctionName": st.one_of(
            function_names, st.sampled_from(["nope", "target:1", "target:$LATEST", ""]), json_texts
        ),
        "EventSourceArn": sources,
        "UUID": st.one_of(
            st.just("EXISTING"), st.just("EXISTING"), st.sampled_from([str(uuid.uuid4()), "x", "%"])
        ),
        "StartingPosition": st.sampled_from(["LATEST", "TRIM_HORIZON", "AT_TIMESTAMP", "latest", ""]),
        "BatchSize": st.one_of(st.integers(-1, 20000), st.sampled_from([0, 2**31, 2**40])),
        "FilterCriteria": st.one_of(
            st.fixed_dictionaries(
                {"Filters": st.lists(st.fixed_dictionaries({"Pattern": FILTER_PATTERNS}), max_size=6)}
            ),
            json_values,
        ),
        "MaxItems": st.integers(-1, 20000),
        "Marker": st.one_of(texts, st.just("1")),
    }
    fixed = st.fixed_dictionaries
    stream_settings = {
        "BatchSize": st.integers(1, 100),
        "MaximumBatchingWindowInSeconds": st.integers(0, 5),
        "ParallelizationFactor": st.integers(1, 10),
        "MaximumRetryAttempts": st.integers(-1, 3),
        "MaximumRecordAgeInSeconds": st.sampled_from([-1, 60, 604800]),
        "BisectBatchOnFunctionError": st.booleans(),
        "TumblingWindowInSeconds": st.integers(0, 900),
        "Enabled": st.booleans(),
        "FunctionResponseTypes": st.just(["ReportBatchItemFailures"]),
        "FilterCriteria": fixed(
            {
                "Filters": st.lists(
                    fixed(
                        {
                            "Pattern": st.sampled_from(
                                ['{"data": {"a": ["x"]}}', '{"dynamodb": {"Keys": {"pk": {"S": ["a"]}}}}']
                            )
                        }
                    ),
                    max_size=2,
                )
            }
        ),
    }
    valid = {
        "CreateEventSourceMapping": st.one_of(
            fixed(
                {"FunctionName": function_names, "EventSourceArn": st.just(queue.arn)},
                optional={
                    "BatchSize": st.integers(1, 10),
                    "Enabled": st.booleans(),
                    "ScalingConfig": fixed({"MaximumConcurrency": st.integers(2, 5)}),
                },
            ),
            fixed(
                {
                    "FunctionName": function_names,
                    "EventSourceArn": st.sampled_from([kinesis_arn, stream_arn]),
                    "StartingPosition": st.sampled_from(["LATEST", "TRIM_HORIZON"]),
                },
                optional=stream_settings,
            ),
        ),
        "UpdateEventSourceMapping": fixed({"UUID": st.just("EXISTING")}, optional=stream_settings),
        "GetEventSourceMapping": fixed({"UUID": st.just("EXISTING")}),
        "DeleteEventSourceMapping": fixed({"UUID": st.just("EXISTING")}),
        "ListEventSourceMappings": fixed(
            {},
            optional={
                "FunctionName": function_names,
                "EventSourceArn": st.sampled_from([queue.arn, kinesis_arn, stream_arn]),
                "MaxItems": st.integers(1, 3),
            },
        ),
    }[op]
    operation = _model("lambda").operation_model(op)
    serializer = create_serializer("rest-json")
    wild = {
        name: _wild(names[name] if name in names else _json_typed(member, names, 1))
        for name, member in operation.input_shape.members.items()
    }

    @st.composite
    def near(draw) -> dict:
        body = dict(draw(valid))
        for name in draw(st.lists(st.sampled_from(sorted(wild)), max_size=2, unique=True)):
            body[name] = draw(wild[name])
        if body and draw(st.integers(0, 5)) == 0:
            del body[draw(st.sampled_from(sorted(body)))]
        return body

    requests = st.one_of(near(), near(), near(), _json_typed(operation.input_shape, names))

    @FUZZ_EACH
    @given(params=requests, raw=st.one_of(st.none(), st.none(), st.none(), st.none(), raw_bad_bodies))
    # A lone surrogate in the path (found by hypothesis): sent as its bytes.
    @example(params={"UUID": "\ud800"}, raw=None)
    def run(params, raw):
        if params.get("UUID") == "EXISTING":
            params = {**params, "UUID": a_mapping()}
        if op == "CreateEventSourceMapping":
            EventSourceMapping.objects.all().delete()  # else most are conflicts (409)
        try:
            request = serializer.serialize_to_request(params, operation)
            path = request["url_path"]
            query = request["query_string"]
            body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
        except Exception:  # a value botocore cannot write: send it raw
            path = operation.http["requestUri"].replace(
                "{UUID}", quote(str(params.get("UUID", "x")), safe="", errors="surrogatepass")
            )
            query, body = {}, json.dumps(params).encode()
        if raw is not None and operation.http["method"] in ("POST", "PUT"):
            body = raw
        url = path + ("?" + urlencode(query, doseq=True, errors="surrogatepass") if query else "")
        before = esm_snapshot()
        resp = _signed(
            "lambda", operation.http["method"], url, body, {"Content-Type": "application/json"}, key, secret
        )
        assert resp.status_code < 500, (op, url, body[:300], resp.content[:300])
        if os.environ.get("FUZZ_STATS"):
            STATS[(op, resp.status_code, resp.content[:60])] += 1
        if resp.status_code >= 400:
            code = resp.headers.get("x-amzn-errortype", "").partition(":")[0]
            assert code in allowed_codes("lambda", op, COMMON_LAMBDA), (
                op,
                url,
                body[:300],
                resp.content[:300],
            )
            assert resp.json()["message"]
            assert esm_snapshot() == before, "a refused request changed stored data"

    run()


# The console's forms ---------------------------------------------------------------------

form_texts = st.one_of(
    st.text(max_size=15),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a" * 300,
            "-1",
            "0",
            "1",
            "10000",
            "10001",
            "1e400",
            "NaN",
            "t",
            "pk",
            "sk",
            "S",
            "N",
            "B",
            "X",
            "LATEST",
            "NEW_IMAGE",
            '{"pk": "a", "sk": 1}',
            '{"pk": {"S": "a"}, "sk": {"N": "1"}}',
            "{",
            "[]",
            "[" * 300 + "]" * 300,
            '{"pk": "a", "sk": 1e400}',
            '{"pk": "a"}',
            '{"pk": "\\ud800", "sk": 1}',
        ]
    ),
)


def _near_valid(valid: dict):
    @st.composite
    def build(draw) -> dict:
        data = draw(st.fixed_dictionaries(valid))
        for name in draw(st.lists(st.sampled_from(sorted(data)), max_size=2, unique=True)) if data else []:
            data[name] = draw(form_texts)
        return data

    return build()


def console_snapshot() -> tuple:
    return (
        ddb_snapshot(),
        esm_snapshot(),
        tuple(Stream.objects.order_by("pk").values_list("pk", "name", "mode", "retention_hours", "tags")),
        tuple(Shard.objects.order_by("pk").values_list("pk", "closed_at")),
        Record.objects.count(),
    )


@pytest.fixture
def console(client, users, aws, make_function):  # noqa: F811
    team, key, secret = aws
    client.force_login(users["member"])
    _table_setup(key, secret)
    kinesis_streams.create(team, "s", 1)
    return client, team, make_function("target"), key, secret


def _post(client, path: str, data: dict):
    before = console_snapshot()
    resp = client.post(path, data)
    assert resp.status_code < 500, (path, data, resp.status_code)
    if os.environ.get("FUZZ_STATS"):
        STATS[(path, resp.status_code, b"")] += 1
    if resp.status_code in (200, 400):  # a form shown again with its errors: nothing changed
        assert console_snapshot() == before, ("a refused form changed stored data", path, data)
    return resp


def test_fuzz_the_table_forms(console):
    client, team, fn, key, secret = console
    table_url = f"/tables/{ACCOUNT}/tbl/"
    forms = {
        reverse("tbl-list"): {
            "team": st.just(str(team.pk)),
            "name": st.from_regex(r"[a-zA-Z0-9_.-]{3,20}", fullmatch=True),
            "partition_key": st.just("id"),
            "partition_type": st.sampled_from(["S", "N", "B"]),
            "sort_key": st.sampled_from(["", "at", "id"]),
            "sort_type": st.sampled_from(["S", "N", "B"]),
            "stream_view_type": st.sampled_from(["", "NEW_IMAGE", "KEYS_ONLY"]),
        },
        table_url + "items/new/": {
            "item": st.sampled_from(['{"pk": "c", "sk": 3}', '{"pk": {"S": "c"}, "sk": {"N": "3"}}']),
            "plain": st.sampled_from(["on", ""]),
        },
        table_url + "items/edit/": {
            "key": st.sampled_from(['{"pk": {"S": "a"}, "sk": {"N": "1"}}', '{"pk": "a", "sk": 1}']),
            "item": st.sampled_from(['{"pk": "a", "sk": 1, "v": 2}', '{"pk": "a", "sk": 2}']),
            "plain": st.sampled_from(["on", ""]),
        },
        table_url + "items/delete/": {"key": st.sampled_from(['{"pk": {"S": "b"}, "sk": {"N": "2"}}'])},
        table_url + "stream/": {
            "enabled": st.sampled_from(["", "false", "true"]),
            "stream_view_type": st.sampled_from(
                ["NEW_IMAGE", "KEYS_ONLY", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
            ),
        },
        table_url + "ttl/": {
            "enabled": st.sampled_from(["", "false"]),
            "attribute": st.sampled_from(["ttl", "x"]),
        },
        reverse("tbl-fn-map-stream", args=[fn.id]): {
            "stream": st.sampled_from([Table.objects.get(name="tbl").stream_arn]),
            "batch_size": st.integers(1, 10000).map(str),
            "starting_position": st.sampled_from(["LATEST", "TRIM_HORIZON"]),
        },
    }

    @FUZZ_EACH
    @given(path=st.sampled_from(sorted(forms)), data=st.data())
    def run(path, data):
        _table_setup(key, secret)
        _post(client, path, data.draw(_near_valid(forms[path])))

    run()


def test_fuzz_the_table_page_and_its_deletion(console):
    client, team, fn, key, secret = console
    table_url = f"/tables/{ACCOUNT}/tbl/"
    query = _near_valid(
        {
            "index": st.sampled_from(["", "by-g", "nope"]),
            "pk": st.sampled_from(["a", "x"]),
            "sk_op": st.sampled_from(["", "=", "<", "between", "begins_with"]),
            "sk": st.sampled_from(["1", ""]),
            "sk2": st.sampled_from(["2", ""]),
            "order": st.sampled_from(["forward", "backward"]),
            "start": st.sampled_from(['{"pk": {"S": "a"}, "sk": {"N": "1"}}', "{", "[]"]),
        }
    )

    @FUZZ_EACH
    @given(params=query, name=st.sampled_from(["tbl", "tbl", "nope", "%00"]), delete=st.integers(0, 5))
    def run(params, name, delete):
        _table_setup(key, secret)
        before = console_snapshot()
        resp = client.get(f"/tables/{ACCOUNT}/{name}/?" + urlencode(params))
        assert resp.status_code < 500, (params, resp.status_code)
        assert console_snapshot() == before
        if delete == 0:
            resp = client.post(table_url + "delete/", {"confirm": params.get("pk", "")})
            assert resp.status_code < 500

    run()


def test_fuzz_the_kinesis_stream_forms(console):
    client, team, fn, key, secret = console

    def stream_id():
        found = Stream.objects.filter(team=team, name="s").first() or kinesis_streams.create(team, "s", 1)
        return found.id

    forms = {
        "kin-stream-list": {
            "team": st.just(str(team.pk)),
            "name": st.from_regex(r"[a-zA-Z0-9_.-]{1,20}", fullmatch=True),
            "mode": st.sampled_from(["PROVISIONED", "ON_DEMAND"]),
            "shard_count": st.integers(1, 4).map(str),
        },
        "kin-stream-put": {
            "partition_key": st.sampled_from(["k", "é"]),
            "data": st.sampled_from(["hello", ""]),
            "explicit_hash_key": st.sampled_from(["", "0", str(2**128 - 1), str(2**128), "-1"]),
        },
        "kin-stream-reshard": {"target": st.integers(1, 4).map(str)},
        "kin-stream-retention": {"hours": st.integers(24, 8760).map(str)},
        "kin-stream-delete": {"confirm": st.sampled_from(["s", "x"])},
    }

    @FUZZ_EACH
    @given(form=st.sampled_from(sorted(forms)), data=st.data())
    def run(form, data):
        args = [] if form == "kin-stream-list" else [stream_id()]
        _post(client, reverse(form, args=args), data.draw(_near_valid(forms[form])))

    run()


def test_fuzz_the_shard_records_page(console):
    client, team, fn, key, secret = console
    stream = Stream.objects.get(team=team, name="s")
    query = _near_valid(
        {
            "position": st.sampled_from(
                ["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AT_TIMESTAMP", "x"]
            ),
            "sequence_number": st.sampled_from(["", "1", "9" * 60, "-1"]),
            "at": st.sampled_from(["", "2026-01-31 12:00:00", "9999-12-31 23:59:59", "0001-01-01 00:00:00"]),
            "after": st.sampled_from(["", "0", "-1", str(2**70)]),
        }
    )

    @FUZZ_EACH
    @given(params=query, shard=st.sampled_from(["shardId-000000000000", "shardId-9", "x", "%00"]))
    def run(params, shard):
        resp = client.get(
            reverse("kin-stream-detail", args=[stream.id]) + f"shards/{shard}/?" + urlencode(params)
        )
        assert resp.status_code < 500, (params, resp.status_code)

    run()


def test_fuzz_the_mapping_toggle_and_delete_buttons(console, make_function):
    client, team, fn, key, secret = console
    other = make_function("other")

    def a_mapping():
        found = EventSourceMapping.objects.first()
        if found is None:
            form = reverse("tbl-fn-map-stream", args=[fn.id])
            arn = Table.objects.get(name="tbl").stream_arn
            client.post(form, {"stream": arn, "batch_size": "10", "starting_position": "LATEST"})
            found = EventSourceMapping.objects.get()
        return found

    @FUZZ_EACH
    @given(
        action=st.sampled_from(["msg-fn-mapping-toggle", "msg-fn-mapping-delete"]),
        whose=st.sampled_from(["own", "own", "other", "random"]),
        which=st.sampled_from(["existing", "existing", "random"]),
    )
    def run(action, whose, which):
        _table_setup(key, secret)
        mapping = a_mapping()
        function_id = {"own": mapping.function_id, "other": other.id, "random": uuid.uuid4()}[whose]
        mapping_id = mapping.id if which == "existing" else uuid.uuid4()
        before = console_snapshot()
        resp = client.post(reverse(action, args=[function_id, mapping_id]))
        assert resp.status_code < 500, (action, whose, which, resp.status_code)
        if resp.status_code == 404:
            assert console_snapshot() == before
        else:
            assert whose == "own" and which == "existing", resp.status_code

    run()


def teardown_module():
    if STATS:
        for (operation, status, content), count in sorted(STATS.items()):
            print(operation, status, count, content)
