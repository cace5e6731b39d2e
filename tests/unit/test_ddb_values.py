"""tables.values: DynamoDB's AttributeValues checked, normalised, sized,
compared and encoded for the key columns. Pure functions, no database."""

import base64
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tables.values import (
    InvalidValue,
    arithmetic,
    compare,
    equal,
    item_size,
    key_digest,
    normalize_item,
    normalize_value,
    number,
    sort_encoding,
)

INVALID = "One or more parameter values were invalid: "
OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
UNDERFLOW = "Number underflow. Attempting to store a number with magnitude smaller than supported range"
TOO_PRECISE = "Attempting to store more than 38 significant digits in a Number"


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("1.50", "1.5"),
        ("-0", "0"),
        ("0.000", "0"),
        ("1e3", "1000"),
        ("+7", "7"),
        (".5", "0.5"),
        ("5.", "5"),
        ("-12.3400", "-12.34"),
        ("1E-130", "0." + "0" * 129 + "1"),
        ("9.9999999999999999999999999999999999999E+125", "9" * 38 + "0" * 88),
        ("1" + "0" * 60, "1" + "0" * 60),  # trailing zeros are not significant
        ("0000000000000000000000000000000000000000001", "1"),
        ("0.0e99999999999999999999", "0"),
    ],
)
def test_it_gives_numbers_their_canonical_text(text, canonical):
    assert normalize_value({"N": text}) == {"N": canonical}


@pytest.mark.parametrize(
    "text, message",
    [
        ("abc", "The parameter cannot be converted to a numeric value: abc"),
        ("", "The parameter cannot be converted to a numeric value"),
        ("NaN", "The parameter cannot be converted to a numeric value: NaN"),
        ("Infinity", "The parameter cannot be converted to a numeric value: Infinity"),
        (" 1", "The parameter cannot be converted to a numeric value:  1"),
        ("1_000", "The parameter cannot be converted to a numeric value: 1_000"),
        ("\u0661", "The parameter cannot be converted to a numeric value: \u0661"),  # Arabic-Indic one
        ("1e126", OVERFLOW),
        ("-1e126", OVERFLOW),
        ("1e-131", UNDERFLOW),
        ("1e99999999999999999999", OVERFLOW),
        ("1e-99999999999999999999", UNDERFLOW),
        ("123456789012345678901234567890123456789", TOO_PRECISE),
        ("-1.23456789012345678901234567890123456789", TOO_PRECISE),
    ],
)
def test_it_refuses_bad_numbers_with_dynamodbs_message(text, message):
    with pytest.raises(InvalidValue) as caught:
        normalize_value({"N": text})
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "value, message",
    [
        ({}, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
        (
            {"S": "a", "N": "1"},
            "Supplied AttributeValue has more than one datatypes set, "
            "must contain exactly one of the supported datatypes",
        ),
        ({"NULL": False}, INVALID + "Null attribute value types must have the value of true"),
        ({"SS": []}, INVALID + "An string set  may not be empty"),
        ({"NS": []}, INVALID + "An number set  may not be empty"),
        ({"BS": []}, INVALID + "Binary sets should not be empty"),
        ({"SS": ["a", "a"]}, INVALID + "Input collection [a, a] contains duplicates."),
        ({"NS": ["1", "1.0"]}, INVALID + "Input collection [1, 1.0] contains duplicates."),
        ({"BS": ["Yg==", "Yg=="]}, INVALID + "Input collection [Yg==, Yg==]of type BS contains duplicates."),
        ({"NS": ["1", "b"]}, "The parameter cannot be converted to a numeric value: b"),
        ({"L": [{"M": {"x": {"SS": []}}}]}, INVALID + "An string set  may not be empty"),
    ],
)
def test_it_refuses_bad_values_with_dynamodbs_message(value, message):
    with pytest.raises(InvalidValue) as caught:
        normalize_item({"a": value})
    assert str(caught.value) == message


def test_it_allows_empty_strings_binaries_lists_and_maps():
    item = {"s": {"S": ""}, "b": {"B": ""}, "l": {"L": []}, "m": {"M": {}}, "ss": {"SS": [""]}}
    assert normalize_item(item) == item


def test_it_normalises_nested_values_and_keeps_binaries_as_base64():
    item = {
        "m": {"M": {"n": {"N": "01.10"}, "l": {"L": [{"NS": ["2.0", "1e1"]}, {"B": "AAE="}]}}},
        "bs": {"BS": ["AAE=", "Yg=="]},
    }
    assert normalize_item(item) == {
        "m": {"M": {"n": {"N": "1.1"}, "l": {"L": [{"NS": ["2", "10"]}, {"B": "AAE="}]}}},
        "bs": {"BS": ["AAE=", "Yg=="]},
    }


def test_it_does_not_change_its_input():
    item = {"n": {"N": "1.50"}}
    normalize_item(item)
    assert item == {"n": {"N": "1.50"}}


def test_it_sizes_items_as_dynamodb_counts_them():
    # Developer Guide, "DynamoDB item sizes and formats".
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"b": {"B": base64.b64encode(b"12345").decode()}}) == 1 + 5
    assert item_size({"t": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert item_size({"l": {"L": []}}) == 1 + 3
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": False}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"M": {"key": {"S": "v"}}}}) == 1 + 3 + (1 + 3 + 1)
    assert item_size({"ss": {"SS": ["a", "bc"]}}) == 2 + 3
    assert item_size({"n": {"N": "12"}}) == 1 + 2
    assert item_size({"n": {"N": "1234"}}) == 1 + 3
    assert item_size({"n": {"N": "-1234"}}) == 1 + 4


def test_it_compares_scalars_of_the_same_type():
    assert compare({"N": "10"}, {"N": "9"}) == 1
    assert compare({"N": "-1.5"}, {"N": "-1.50"}) == 0
    assert compare({"S": "a"}, {"S": "b"}) == -1
    assert compare({"S": "\uffff"}, {"S": "\U0001f600"}) == -1  # UTF-8 bytes, not UTF-16 units
    assert compare({"B": "/w=="}, {"B": "AA=="}) == 1
    assert compare({"N": "1"}, {"S": "1"}) is None
    assert compare({"BOOL": True}, {"BOOL": True}) is None


def test_it_tells_deep_equality():
    assert equal({"NS": ["1", "2"]}, {"NS": ["2.0", "1"]})
    assert equal({"M": {"a": {"L": [{"N": "1"}]}}}, {"M": {"a": {"L": [{"N": "1.0"}]}}})
    assert not equal({"L": [{"N": "1"}, {"N": "2"}]}, {"L": [{"N": "2"}, {"N": "1"}]})
    assert not equal({"S": "1"}, {"N": "1"})
    assert not equal({"SS": ["a"]}, {"SS": ["a", "b"]})


def test_it_digests_keys_by_type_and_value():
    assert key_digest({"N": "1.0"}) == key_digest({"N": "1"})
    assert key_digest({"N": "1"}) != key_digest({"S": "1"})
    assert key_digest({"S": "a"}) != key_digest({"B": base64.b64encode(b"a").decode()})
    assert len(key_digest({"S": "a"})) == 64
    with pytest.raises(InvalidValue):
        key_digest({"BOOL": True})


def test_it_does_arithmetic_with_38_digits_or_refuses():
    assert arithmetic("+", Decimal("1.5"), Decimal("2.25")) == Decimal("3.75")
    assert arithmetic("-", Decimal("1"), Decimal("3")) == Decimal("-2")
    with pytest.raises(InvalidValue, match="Number overflow"):
        arithmetic("+", Decimal("9" * 38), Decimal("1e-2"))
    with pytest.raises(InvalidValue, match="Number overflow"):
        arithmetic("+", Decimal("9.9e125"), Decimal("9.9e125"))


def test_it_encodes_sort_keys_as_lowercase_hex():
    assert sort_encoding({"S": "ab"}) == "6162"
    assert sort_encoding({"B": "AP8="}) == "00ff"
    for value in ("0", "-1", "1.5", "1E-130", "-9.9999999999999999999999999999999999999E+125"):
        encoded = sort_encoding({"N": value})
        assert len(encoded) % 2 == 0 and encoded == encoded.lower()
        bytes.fromhex(encoded)


# -- properties ----------------------------------------------------------------


def _decimals():
    digits = st.integers(min_value=1, max_value=10**38 - 1)
    exponent = st.integers(min_value=-130 - 37, max_value=125 - 37)
    signed = st.builds(
        lambda d, e, neg: Decimal((neg, tuple(map(int, str(d))), e)), digits, exponent, st.booleans()
    )
    small = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False)
    return st.one_of(signed, small, st.just(Decimal(0))).filter(
        lambda d: not d or -130 <= d.adjusted() <= 125
    )


@settings(max_examples=400)
@given(_decimals(), _decimals())
def test_number_encoding_sorts_like_the_numbers(a, b):
    x, y = {"N": str(a)}, {"N": str(b)}
    ex, ey = sort_encoding(x), sort_encoding(y)
    assert ((ex > ey) - (ex < ey)) == ((a > b) - (a < b)) == compare(x, y)


@settings(max_examples=200)
@given(st.text(), st.text())
def test_string_encoding_sorts_like_utf8_bytes(a, b):
    x, y = {"S": a}, {"S": b}
    ex, ey = sort_encoding(x), sort_encoding(y)
    assert ((ex > ey) - (ex < ey)) == compare(x, y)


@settings(max_examples=200)
@given(st.binary(), st.binary())
def test_binary_encoding_sorts_like_the_bytes(a, b):
    x = {"B": base64.b64encode(a).decode()}
    y = {"B": base64.b64encode(b).decode()}
    ex, ey = sort_encoding(x), sort_encoding(y)
    assert ((ex > ey) - (ex < ey)) == ((a > b) - (a < b)) == compare(x, y)


def _numbers_as_text():
    return _decimals().flatmap(
        lambda d: st.sampled_from([str(d), format(d, "f"), format(d, "e"), format(d, "E")])
    )


_scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=5)),
    st.builds(lambda n: {"N": n}, _numbers_as_text()),
    st.builds(lambda b: {"B": base64.b64encode(b).decode()}, st.binary(max_size=5)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(max_size=3), min_size=1, max_size=4)),
    st.builds(
        lambda s: {"BS": [base64.b64encode(b).decode() for b in s]},
        st.sets(st.binary(max_size=3), min_size=1, max_size=4),
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        st.builds(lambda v: {"M": v}, st.dictionaries(st.text(min_size=1, max_size=3), inner, max_size=3)),
    ),
    max_leaves=8,
)


@settings(max_examples=300)
@given(st.dictionaries(st.text(min_size=1, max_size=4), _values, max_size=4))
def test_normalisation_is_idempotent_and_keeps_the_value(item):
    once = normalize_item(item)
    assert normalize_item(once) == once
    for name in item:
        assert equal(item[name], once[name])
    assert item_size(once) == item_size(item)


@settings(max_examples=300)
@given(_numbers_as_text())
def test_number_text_round_trips_to_the_same_value(text):
    canonical = normalize_value({"N": text})["N"]
    assert Decimal(canonical) == Decimal(text)
    assert number(canonical) == number(text)
    assert normalize_value({"N": canonical})["N"] == canonical
    assert "e" not in canonical.lower()
    assert key_digest({"N": text}) == key_digest({"N": canonical})
