"""Filter policies (exact match) and message attribute normalisation."""

import pytest

from messaging import filter_policy
from messaging.validation import MessagingError, clean_attributes, parse_attribute_lines

ATTRS = clean_attributes({"color": "red", "size": 3, "kind": {"DataType": "String", "StringValue": "big"}})


def test_it_matches_when_every_key_has_one_of_its_values():
    assert filter_policy.matches({"color": ["blue", "red"]}, ATTRS)
    assert filter_policy.matches({"color": ["red"], "kind": ["big"]}, ATTRS)


def test_it_refuses_when_a_key_is_missing_or_differs():
    assert not filter_policy.matches({"color": ["blue"]}, ATTRS)
    assert not filter_policy.matches({"color": ["red"], "shape": ["round"]}, ATTRS)
    assert not filter_policy.matches({"color": ["red"]}, {})


def test_it_compares_numbers_by_value_and_strings_by_type():
    assert filter_policy.matches({"size": [3.0]}, ATTRS)
    assert not filter_policy.matches({"size": ["3"]}, ATTRS)
    assert not filter_policy.matches({"color": [3]}, ATTRS)


def test_it_delivers_everything_without_a_policy():
    assert filter_policy.matches(None, {})
    assert filter_policy.parse("  ") is None
    assert filter_policy.parse("{}") is None


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('["a"]', "JSON object"),
    ('{"a": "red"}', "must be a list of conditions"),
    ('{"a": []}', "Empty arrays are not allowed"),
    ('{"a": [{"regex": "r"}]}', "Unrecognized match type regex"),
    ('{"a": [{"prefix": 1}]}', "prefix match pattern must be a string"),
    ('{"a": [{"numeric": [">", "x"]}]}', "Value of > must be numeric"),
    ('{"a": [{"numeric": ["!", 1]}]}', "Unrecognized numeric range operator: !"),
    ('{"a": [{"numeric": [">", 10, "<", 5]}]}', "Bottom must be less than top"),
    ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false"),
    ('{"a": [{"anything-but": []}]}', "anything-but takes"),
    ('{"a": {"b": ["x"]}}', "nested policies need the filter policy scope MessageBody"),
    ('{"$or": [{"a": ["x"]}]}', "at least two filter policies"),
    ('{"a":[1],"b":[1],"c":[1],"d":[1],"e":[1],"f":[1]}', "can not have more than 5 keys"),
    ('{"a": %s, "b": %s}' % (list(range(13)), list(range(12))), "too complex"),
])
def test_it_rejects_bad_policies_with_a_clear_message(text, words):
    with pytest.raises(MessagingError) as e:
        filter_policy.parse(text)
    assert words in e.value.message
    assert e.value.field == "filter_policy"


def test_it_normalises_attribute_shapes():
    assert ATTRS == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "3"},
        "kind": {"Type": "String", "Value": "big"},
    }
    assert clean_attributes({"n": {"Type": "Number", "Value": "1.5"}}) == {
        "n": {"Type": "Number", "Value": "1.5"}
    }


@pytest.mark.parametrize("attrs", [
    {"n": {"DataType": "Number", "StringValue": "abc"}},
    {"b": True},
    {"x": ["a"]},
    {"bad name!": "v"},
    "not a map",
])
def test_it_rejects_bad_attributes(attrs):
    with pytest.raises(MessagingError):
        clean_attributes(attrs)


def test_it_parses_console_attribute_lines():
    assert parse_attribute_lines("color = red\n\nsize=3\n") == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "3"},
    }
    with pytest.raises(MessagingError) as e:
        parse_attribute_lines("color red")
    assert "key=value" in e.value.message
