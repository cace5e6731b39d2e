"""Filter policies (exact match) and message attribute normalisation."""

import json

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
    ('{"a": "red"}', "must be a non-empty list of conditions"),
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
    (json.dumps({"a": list(range(13)), "b": list(range(12))}), "too complex"),
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


# SNS's syntax, on the message of AWS's "Amazon SNS subscription filter policies" examples.
DOC_ATTRS = {
    "customer_interests": {"Type": "String.Array", "Value": '["soccer", "rugby", "hockey"]'},
    "store": {"Type": "String", "Value": "example_corp"},
    "event": {"Type": "String", "Value": "order_placed"},
    "price_usd": {"Type": "Number", "Value": "210.75"},
    "source_ip": {"Type": "String", "Value": "10.0.0.42"},
    "thumbnail": {"Type": "Binary", "Value": "AAE="},
}


@pytest.mark.parametrize("policy, expected", [
    # AWS's example policy that accepts the example message.
    ({"store": ["example_corp"], "event": [{"anything-but": "order_cancelled"}],
      "customer_interests": ["rugby", "football", "baseball"],
      "price_usd": [{"numeric": [">=", 100]}]}, True),
    # Exact match; String.Array matches on any element.
    ({"customer_interests": ["rugby"]}, True),
    ({"customer_interests": ["baseball"]}, False),
    ({"store": ["Example_Corp"]}, False),
    ({"store": [{"equals-ignore-case": "EXAMPLE_CORP"}]}, True),
    # Prefix and suffix.
    ({"customer_interests": [{"prefix": "bas"}]}, False),
    ({"customer_interests": [{"prefix": "hock"}]}, True),
    ({"event": [{"suffix": "_placed"}]}, True),
    ({"store": [{"suffix": "corp2"}]}, False),
    # anything-but: a value, a list, numbers, a prefix.
    ({"event": [{"anything-but": ["order_cancelled", "order_failed"]}]}, True),
    ({"event": [{"anything-but": "order_placed"}]}, False),
    ({"price_usd": [{"anything-but": [100, 500]}]}, True),
    ({"price_usd": [{"anything-but": [210.75]}]}, False),
    ({"event": [{"anything-but": {"prefix": "order-"}}]}, True),
    ({"event": [{"anything-but": {"prefix": "order"}}]}, False),
    ({"missing": [{"anything-but": "x"}]}, False),
    # Numeric values and ranges (Number attributes only).
    ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, False),
    ({"price_usd": [{"numeric": [">", 200, "<", 300]}]}, True),
    ({"price_usd": [{"numeric": ["=", 210.75]}]}, True),
    ({"price_usd": [210.75]}, True),
    ({"store": [{"numeric": [">", 0]}]}, False),
    # exists.
    ({"store": [{"exists": True}]}, True),
    ({"encrypted": [{"exists": False}]}, True),
    ({"store": [{"exists": False}]}, False),
    ({"thumbnail": [{"exists": True}]}, True),
    ({"thumbnail": ["AAE="]}, False),
    # IP addresses.
    ({"source_ip": [{"cidr": "10.0.0.0/24"}]}, True),
    ({"source_ip": [{"cidr": "10.0.1.0/24"}]}, False),
    # $or, beside other keys and alone.
    ({"store": ["example_corp"],
      "$or": [{"event": ["nope"]}, {"price_usd": [{"numeric": [">", 200]}]}]}, True),
    ({"store": ["example_corp"],
      "$or": [{"event": ["nope"]}, {"price_usd": [{"numeric": ["<", 200]}]}]}, False),
    ({"$or": [{"store": ["x"]}, {"customer_interests": ["soccer"]}]}, True),
])
def test_it_matches_the_documented_operators(policy, expected):
    assert filter_policy.validate(policy) == policy
    assert filter_policy.matches(policy, DOC_ATTRS) is expected


BODY = json.dumps({
    "store": "example_corp",
    "customer_interests": ["soccer", "rugby"],
    "order": {"total": 42.5, "items": [{"sku": "A-1"}, {"sku": "B-2"}], "coupon": None},
})


@pytest.mark.parametrize("policy, expected", [
    ({"store": ["example_corp"]}, True),
    ({"customer_interests": ["rugby"]}, True),
    ({"order": {"total": [{"numeric": [">", 40]}]}}, True),
    ({"order": {"total": [{"numeric": [">", 50]}]}}, False),
    ({"order": {"items": {"sku": [{"prefix": "B-"}]}}}, True),
    ({"order": {"coupon": [None]}}, True),
    ({"order": {"gift": [{"exists": False}]}, "store": [{"exists": True}]}, True),
    ({"$or": [{"store": ["other"]}, {"order": {"total": [42.5]}}]}, True),
])
def test_it_matches_the_message_body(policy, expected):
    assert filter_policy.validate(policy, "MessageBody") == policy
    assert filter_policy.matches(policy, {}, BODY, "MessageBody") is expected


def test_a_body_policy_matches_no_body_that_is_not_a_json_object():
    policy = {"store": [{"exists": False}]}
    assert not filter_policy.matches(policy, {}, "plain text", "MessageBody")
    assert not filter_policy.matches(policy, {}, "[1, 2]", "MessageBody")


def test_it_counts_keys_and_combinations_per_alternative():
    # Five keys in each branch of an $or is fine; 150 combinations too.
    policy = {"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "$or": [{"e": ["1"]}, {"f": ["1"]}]}
    assert filter_policy.validate(policy) == policy
    assert filter_policy.validate({"a": list(range(15)), "b": list(range(10))})
    with pytest.raises(MessagingError):
        filter_policy.validate({"a": list(range(151))})
