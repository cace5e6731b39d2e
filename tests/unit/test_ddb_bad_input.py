"""DynamoDB input found by tests/unit/test_fuzz_api_streams.py (and a probe
of its boundaries) that got a 500 or was stored against DynamoDB's rules,
now refused in DynamoDB's words with nothing stored:

- lists and maps nested 32 levels deep (31 pass; Developer Guide,
  "Quotas": "Nesting Levels have exceeded supported limits");
- a body nested past the door's fixed JSON depth (a RecursionError while
  reading it by shape before: 500);
- an expression over 4 KB, or nested so deeply (NOT NOT NOT ...) that its
  parser recursed out (500 before)."""

import json

import pytest

from tables.models import Item, StreamRecord
from tests.unit.test_fuzz_api import aws  # noqa: F401 - the fixture
from tests.unit.test_fuzz_api_streams import _ddb, _table_setup

KEY = {"pk": {"S": "a"}, "sk": {"N": "1"}}


def nested(wraps: int) -> str:
    return '{"M": {"a": ' * wraps + '{"S": "x"}' + "}}" * wraps


@pytest.fixture
def ddb(aws):  # noqa: F811
    team, key, secret = aws
    _table_setup(key, secret)  # table "tbl": items a/1 and b/2, a stream

    def call(op: str, body: str | dict):
        raw = body if isinstance(body, str) else json.dumps(body)
        answer = _ddb(key, secret, op, raw.encode())
        return answer.status_code, answer.json()

    return call


def rows():
    return list(Item.objects.order_by("pk").values_list("data", flat=True)), StreamRecord.objects.count()


def test_an_item_may_nest_31_levels_but_not_32(ddb):
    item = '{"pk": {"S": "n"}, "sk": {"N": "1"}, "v": %s}'
    assert ddb("PutItem", '{"TableName": "tbl", "Item": %s}' % (item % nested(31)))[0] == 200
    before = rows()
    status, error = ddb("PutItem", '{"TableName": "tbl", "Item": %s}' % (item % nested(32)))
    assert status == 400 and error["__type"].endswith("ValidationException")
    assert error["message"].startswith("Nesting Levels have exceeded supported limits")
    assert rows() == before


@pytest.mark.parametrize("op", ["UpdateItem", "BatchWriteItem", "TransactWriteItems"])
def test_every_write_refuses_an_item_nested_32_levels(ddb, op):
    value = nested(32)
    body = {
        "UpdateItem": f'{{"TableName": "tbl", "Key": {json.dumps(KEY)}, "UpdateExpression": "SET v = :v", '
                      f'"ExpressionAttributeValues": {{":v": {value}}}}}',
        "BatchWriteItem": '{"RequestItems": {"tbl": [{"PutRequest": {"Item": {"pk": {"S": "n"}, '
                          f'"sk": {{"N": "1"}}, "v": {value}}}}}}}]}}}}',
        "TransactWriteItems": '{"TransactItems": [{"Put": {"TableName": "tbl", "Item": {"pk": {"S": "n"}, '
                              f'"sk": {{"N": "1"}}, "v": {value}}}}}}}]}}',
    }[op]
    before = rows()
    status, error = ddb(op, body)
    assert status == 400, error
    assert "Nesting Levels have exceeded supported limits" in error["message"]
    assert rows() == before


@pytest.mark.parametrize("wraps", [130, 450])
def test_a_body_nested_past_the_doors_depth_is_a_serialization_exception(ddb, wraps):
    before = rows()
    status, error = ddb("PutItem", '{"TableName": "tbl", "Item": {"pk": {"S": "n"}, "sk": {"N": "1"}, '
                                   f'"v": {nested(wraps)}}}}}')
    assert (status, error["__type"].rpartition("#")[2]) == (400, "SerializationException")
    assert "deeper than 256 levels" in error["message"]
    assert rows() == before


def test_an_expression_over_4_kb_is_refused(ddb):
    expression = " AND ".join(["attribute_exists(v)"] * 200)
    status, error = ddb("Scan", {"TableName": "tbl", "FilterExpression": expression})
    assert status == 400
    assert error["message"].startswith(
        "Invalid FilterExpression: Expression size has exceeded the maximum allowed size"
    )


@pytest.mark.parametrize("expression", ["NOT " * 1000 + "attribute_exists(v)",
                                        "(" * 1000 + "attribute_exists(v)" + ")" * 1000])
def test_an_expression_nested_too_deeply_is_refused_not_a_500(ddb, expression):
    before = rows()
    status, error = ddb("DeleteItem", {"TableName": "tbl", "Key": KEY, "ConditionExpression": expression})
    assert status == 400, error
    assert error["message"] == "Invalid ConditionExpression: The expression is nested too deeply;"
    assert rows() == before
