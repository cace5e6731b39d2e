"""JSON from outside: the same text gets the same answer on any stack."""

import json

import pytest

from awsapi import errors, guard, jsontext

NESTED_1000 = b"[" * 1000 + b"]" * 1000  # the 2 KB body of issue 7


def test_it_parses_ordinary_json():
    assert jsontext.loads(b'{"a": [1, {"b": "[[[["}]}') == {"a": [1, {"b": "[[[["}]}
    assert jsontext.loads('"text"') == "text"


@pytest.mark.parametrize("data", [NESTED_1000, b'{"a":' + NESTED_1000 + b"}", b"[" * 100_000])
def test_it_refuses_deep_nesting_with_a_fixed_limit(data):
    with pytest.raises(jsontext.JsonError, match="deeper than 256 levels"):
        jsontext.loads(data)


def test_the_limit_is_exact_and_ignores_brackets_in_strings():
    at_limit = "[" * 256 + "]" * 256
    assert jsontext.nesting(at_limit.encode()) == 256
    jsontext.loads(at_limit)
    with pytest.raises(jsontext.JsonError):
        jsontext.loads("[" + at_limit + "]")
    quoted = json.dumps(["[" * 5000, "{\\\"" * 500])
    assert jsontext.nesting(quoted.encode()) == 1
    assert jsontext.loads(quoted)[0] == "[" * 5000


def test_an_unterminated_string_is_no_slower_than_linear():
    # Every quote is escaped: a backtracking scan would be quadratic.
    data = b'"' + b'\\"' * 500_000 + b"[" * 300
    assert jsontext.nesting(data) == 0
    with pytest.raises(jsontext.JsonError):
        jsontext.loads(data)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_it_refuses_nan_and_infinity_as_lambda_does(text):
    with pytest.raises(jsontext.JsonError, match="no NaN or Infinity"):
        jsontext.loads(text)


@pytest.mark.parametrize("data", [b"\xff", b"{", b"1" * 5000, b""])
def test_it_refuses_what_is_not_json(data):
    with pytest.raises(jsontext.JsonError):
        jsontext.loads(data)


def test_the_guard_answers_400_in_the_api_shape():
    with pytest.raises(errors.AwsError) as e:
        guard.parse_json(NESTED_1000, "the payload")
    assert (e.value.status, e.value.code) == (400, "InvalidRequestContentException")
    assert e.value.message == (
        "Could not parse request body into json: the payload nests arrays and objects "
        "deeper than 256 levels."
    )
