"""Lambda event filtering (mappings.event_filter): the pattern syntax, what
each source kind's patterns see, and the refusals."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings import event_filter
from mappings.event_filter import InvalidFilter, parse


def criteria(*patterns):
    return {"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]}


def sqs(body, **extra):
    return {"messageId": "m1", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "eventSource": "aws:sqs", **extra}


def kinesis(data: bytes):
    return {"kinesis": {"partitionKey": "p", "data": base64.b64encode(data).decode()},
            "eventSource": "aws:kinesis", "eventName": "aws:kinesis:record"}


DOC = {"name": "Alice", "city": "Paris", "n": 7, "f": 2.5, "ok": True, "nothing": None, "empty": "",
       "tags": ["red", "blue"], "address": {"zip": "75001", "lines": [{"kind": "home"}, {"kind": "work"}]},
       "file": "img/cat.png"}


@pytest.mark.parametrize("pattern, expected", [
    ({"name": ["Alice"]}, True),
    ({"name": ["alice"]}, False),
    ({"name": ["Bob", "Alice"]}, True),
    ({"name": ["Alice"], "city": ["Rome"]}, False),
    ({"n": [7]}, True),
    ({"n": [7.0]}, True),
    ({"n": ["7"]}, False),
    ({"ok": [True]}, True),
    ({"ok": [False]}, False),
    ({"nothing": [None]}, True),
    ({"name": [None]}, False),
    ({"empty": [""]}, True),
    ({"name": [""]}, False),
    ({"name": [{"equals-ignore-case": "ALICE"}]}, True),
    ({"name": [{"prefix": "Al"}]}, True),
    ({"name": [{"prefix": "al"}]}, False),
    ({"name": [{"prefix": {"equals-ignore-case": "AL"}}]}, True),
    ({"file": [{"suffix": ".png"}]}, True),
    ({"file": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, True),
    ({"file": [{"suffix": ".jpg"}]}, False),
    ({"file": [{"wildcard": "img/*.png"}]}, True),
    ({"file": [{"wildcard": "img/*.jpg"}]}, False),
    ({"file": [{"wildcard": "*"}]}, True),
    ({"name": [{"anything-but": "Bob"}]}, True),
    ({"name": [{"anything-but": ["Bob", "Alice"]}]}, False),
    ({"name": [{"anything-but": {"prefix": "Al"}}]}, False),
    ({"name": [{"anything-but": {"suffix": "x"}}]}, True),
    ({"name": [{"anything-but": {"equals-ignore-case": "alice"}}]}, False),
    ({"missing": [{"anything-but": "x"}]}, False),
    ({"n": [{"numeric": ["=", 7]}]}, True),
    ({"n": [{"numeric": [">", 0, "<=", 7]}]}, True),
    ({"n": [{"numeric": [">", 7]}]}, False),
    ({"f": [{"numeric": [">=", 2.5, "<", 3]}]}, True),
    ({"name": [{"numeric": [">", 0]}]}, False),
    ({"name": [{"exists": True}]}, True),
    ({"missing": [{"exists": True}]}, False),
    ({"missing": [{"exists": False}]}, True),
    ({"name": [{"exists": False}]}, False),
    ({"address": {"zip": ["75001"]}}, True),
    ({"address": {"zip": ["75002"]}}, False),
    ({"address": {"lines": {"kind": ["work"]}}}, True),
    ({"address": [{"exists": True}]}, False),  # only leaves exist
    ({"nowhere": {"deep": [{"exists": False}]}}, True),
    ({"tags": ["blue"]}, True),
    ({"tags": ["green"]}, False),
    ({"$or": [{"name": ["Bob"]}, {"city": ["Paris"]}]}, True),
    ({"$or": [{"name": ["Bob"]}, {"city": ["Rome"]}]}, False),
    ({"name": ["Alice"], "$or": [{"n": [{"numeric": [">", 100]}]}, {"ok": [True]}]}, True),
])
def test_pattern_syntax(pattern, expected):
    assert parse(criteria({"body": pattern})).matches("sqs", sqs(json.dumps(DOC))) is expected


def test_filters_are_ored_and_none_passes_everything():
    filters = parse(criteria({"body": {"name": ["Bob"]}}, {"body": {"city": ["Paris"]}}))
    assert filters.matches("sqs", sqs(json.dumps(DOC)))
    assert not parse(criteria({"body": {"name": ["Bob"]}})).matches("sqs", sqs(json.dumps(DOC)))
    for nothing in (None, {}, {"Filters": []}):
        assert not parse(nothing)
        assert parse(nothing).matches("sqs", sqs("anything"))
        assert parse(nothing).criteria is None


def test_sqs_plain_body_matches_as_string_only():
    assert parse(criteria({"body": ["hello"]})).matches("sqs", sqs("hello"))
    assert not parse(criteria({"body": {"a": ["hello"]}})).matches("sqs", sqs("hello"))
    # A JSON body is an object to patterns, never its text.
    assert not parse(criteria({"body": ['{"a": 1}']})).matches("sqs", sqs('{"a": 1}'))
    # A broken JSON-looking body stays text.
    assert parse(criteria({"body": [{"prefix": "{oops"}]})).matches("sqs", sqs("{oops"))


def test_sqs_metadata_fields_are_matched():
    record = sqs("x", attributes={"ApproximateReceiveCount": "1", "MessageGroupId": "g1"})
    assert parse(criteria({"attributes": {"MessageGroupId": ["g1"]}})).matches("sqs", record)
    assert not parse(criteria({"attributes": {"MessageGroupId": ["g2"]}})).matches("sqs", record)


def test_kinesis_patterns_see_decoded_data_only():
    record = kinesis(b'{"RequestCode": "AAAA", "n": 3}')
    assert parse(criteria({"data": {"RequestCode": ["AAAA"]}})).matches("kinesis", record)
    assert not parse(criteria({"data": {"RequestCode": ["BBBB"]}})).matches("kinesis", record)
    assert not parse(criteria({"eventName": ["aws:kinesis:record"]})).matches("kinesis", record)
    assert parse(criteria({"data": ["plain text"]})).matches("kinesis", kinesis(b"plain text"))
    assert not parse(criteria({"data": {"a": ["x"]}})).matches("kinesis", {"kinesis": {"data": "!!"}})


def test_dynamodb_patterns_see_the_record():
    record = {"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": "a"}},
                                                  "NewImage": {"id": {"S": "a"}, "n": {"N": "5"}}}}
    assert parse(criteria({"eventName": ["INSERT"]})).matches("dynamodb", record)
    assert parse(criteria({"dynamodb": {"NewImage": {"id": {"S": ["a"]}}}})).matches("dynamodb", record)
    assert not parse(criteria({"eventName": ["REMOVE"]})).matches("dynamodb", record)
    assert parse(criteria({"dynamodb": {"OldImage": [{"exists": False}]}})).matches("dynamodb", record)


@pytest.mark.parametrize("filter_criteria, words", [
    (criteria("{not json"), "not JSON"),
    (criteria('["a"]'), "JSON object"),
    (criteria({"a": "red"}), "non-empty list of conditions"),
    (criteria({"a": []}), "Empty arrays"),
    (criteria({}), "Empty objects"),
    (criteria({"a": [{"nope": 1}]}), "Unrecognized match type nope"),
    (criteria({"a": [{"prefix": 1}]}), "prefix match pattern must be a string"),
    (criteria({"a": [{"exists": "yes"}]}), "either true or false"),
    (criteria({"a": [{"numeric": [">", "1"]}]}), "must be numeric"),
    (criteria({"a": [{"numeric": ["<", 5, ">", 1]}]}), "lower bound"),
    (criteria({"a": [{"numeric": [">", 5, "<", 1]}]}), "Bottom must be less than top"),
    (criteria({"a": [{"numeric": [">", 6e9]}]}), "-5.0E9 to 5.0E9"),
    (criteria({"a": [{"wildcard": "a**b"}]}), "Consecutive wildcard"),
    (criteria({"a": [{"anything-but": []}]}), "anything-but takes"),
    (criteria({"$or": [{"a": ["x"]}]}), "at least two patterns"),
    (criteria(*[{"a": ["x"]}] * 6), "At most 5 filters"),
    (criteria("{" + '"a": ["' + "x" * 4100 + '"]}'), "longer than 4096"),
    ({"Filters": [{}]}, "no Pattern"),
    ({"Other": []}, "FilterCriteria is"),
])
def test_bad_patterns_are_refused_in_lambdas_words(filter_criteria, words):
    with pytest.raises(InvalidFilter) as caught:
        parse(filter_criteria)
    assert str(caught.value).startswith("Invalid filter pattern definition.")
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_criteria_round_trip_keeps_the_pattern_text():
    text = '{ "body" : { "a" : [ "x" ] } }'
    assert parse({"Filters": [{"Pattern": text}]}).criteria == {"Filters": [{"Pattern": text}]}


_leaf = st.one_of(st.text(max_size=8), st.integers(-1000, 1000), st.booleans(), st.none())


_key = st.text(min_size=1, max_size=5).filter(lambda k: k != "$or")


@given(st.dictionaries(_key, _leaf, min_size=1, max_size=5))
def test_a_document_matches_its_own_exact_pattern(document):
    pattern = {key: [value] for key, value in document.items()}
    assert parse(criteria({"body": pattern})).matches("sqs", sqs(json.dumps(document)))
    # ... and anything-but its own values never matches a string field.
    for key, value in document.items():
        if isinstance(value, str):
            negated = {"body": {key: [{"anything-but": value}]}}
            assert not parse(criteria(negated)).matches("sqs", sqs(json.dumps(document)))


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))
def test_numeric_ranges_agree_with_python(low, high, value):
    if low >= high:
        return
    filters = parse(criteria({"body": {"v": [{"numeric": [">", low, "<=", high]}]}}))
    assert filters.matches("sqs", sqs(json.dumps({"v": value}))) is (low < value <= high)


def test_module_limits_are_lambdas():
    assert event_filter.MAX_FILTERS == 5
    assert event_filter.MAX_PATTERN_CHARS == 4096
