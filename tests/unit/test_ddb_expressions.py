"""tables.expressions: DynamoDB's condition, key condition, projection and
update expressions, with DynamoDB's error messages. Pure functions, no
database."""

import copy
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tables.expressions import (
    ExpressionError,
    condition,
    key_condition,
    projection,
    unused,
    update,
)

ITEM = {
    "pk": {"S": "key"},
    "n": {"N": "5"},
    "s": {"S": "hello"},
    "b": {"B": "AAEC"},  # bytes 00 01 02
    "l": {"L": [{"N": "0"}, {"S": "one"}, {"N": "2"}, {"N": "3"}]},
    "m": {"M": {"a": {"S": "x"}, "deep": {"M": {"c": {"N": "1"}}}}},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "t": {"BOOL": True},
    "z": {"NULL": True},
}
VALUES = {
    ":one": {"N": "1"},
    ":five": {"N": "5.00"},
    ":ten": {"N": "10"},
    ":he": {"S": "he"},
    ":hello": {"S": "hello"},
    ":x": {"S": "x"},
    ":a": {"S": "a"},
    ":two5": {"N": "2.5"},
    ":b01": {"B": "AAE="},
    ":one_s": {"S": "one"},
    ":SS": {"S": "SS"},
    ":true": {"BOOL": True},
}


def matches(text, item=ITEM, names=None, values=None):
    return condition(text, names or {}, VALUES if values is None else values).matches(item)


def error_of(function, *args):
    with pytest.raises(ExpressionError) as caught:
        function(*args)
    return str(caught.value)


# -- conditions: evaluation --------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("n = :five", True),  # numbers by value
        ("n <> :five", False),
        ("n < :ten AND n > :one", True),
        ("n <= :five AND n >= :five", True),
        ("s > :he", True),
        ("n = :hello", False),  # different types are never equal
        ("n < :hello", False),  # nor ordered
        ("n BETWEEN :one AND :ten", True),
        ("n BETWEEN :one AND :one", False),
        ("n IN (:one, :five)", True),
        ("n IN (:one, :ten)", False),
        ("m.a = :x", True),
        ("m.deep.c = :one", True),
        ("l[1] = :one_s", True),
        ("l[9] = :one_s", False),
        ("nothing <> :one", True),  # an absent operand is "not equal"
        ("nothing = :one", False),
        ("nothing < :one", False),
        ("attribute_exists(m.deep.c)", True),
        ("attribute_exists(m.deep.d)", False),
        ("attribute_not_exists(nothing)", True),
        ("attribute_not_exists(pk)", False),
        ("attribute_type(ss, :SS)", True),
        ("attribute_type(n, :SS)", False),
        ("begins_with(s, :he)", True),
        ("begins_with(s, :x)", False),
        ("begins_with(b, :b01)", True),
        ("contains(s, :he)", True),
        ("contains(ss, :a)", True),
        ("contains(ss, :x)", False),
        ("contains(ns, :two5)", True),
        ("contains(l, :one_s)", True),
        ("contains(n, :one)", False),
        ("size(s) = :five", True),
        ("size(l) > :one", True),
        ("size(b) < :five", True),
        ("size(n) = :one", False),  # a number has no size: false, not an error
        ("t = :true", True),
        ("NOT n = :one", True),
        ("NOT (n = :five OR s = :x)", False),
        ("n = :one OR n = :five AND s = :x", False),  # AND binds tighter than OR
        ("(n = :one OR n = :five) AND s = :hello", True),
        ("NOT n = :one AND n = :one", False),  # NOT binds tighter than AND
        ("#n = :five", True),
    ],
)
def test_it_evaluates_conditions(text, expected):
    assert matches(text, names={"#n": "n"} if "#n" in text else None) is expected


def test_it_evaluates_against_an_absent_item():
    assert condition("attribute_not_exists(pk)", {}, {}).matches(None)
    assert not condition("attribute_exists(pk)", {}, {}).matches(None)
    assert condition("pk <> :a", {}, VALUES).matches(None)


def test_it_reports_names_values_and_paths_used():
    parsed = condition("#k = :a AND size(l[2]) > :one OR m.#i.c = :one", {"#k": "pk", "#i": "deep"}, VALUES)
    assert parsed.names_used == {"#k", "#i"}
    assert parsed.values_used == {":a", ":one"}
    assert parsed.paths == [("pk",), ("l", 2), ("m", "deep", "c")]


def test_keywords_are_case_insensitive_and_names_may_contain_them():
    assert matches("android = :one or n BeTwEeN :one and :ten")
    assert matches("NOT nothing = :one")


# -- conditions: errors -------------------------------------------------------------

CONDITION = "Invalid ConditionExpression: "


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "The expression can not be empty;"),
        ("   ", "The expression can not be empty;"),
        ("a AND AND", 'Syntax error; token: "AND", near: "a AND AND"'),
        ("foo", 'Syntax error; token: "<EOF>", near: "foo"'),
        ("n = 5", 'Syntax error; token: "5", near: "= 5"'),
        ("n = :v, b", 'Syntax error; token: ",", near: ":v, b"'),
        ("n == :v", 'Syntax error; token: "=", near: "== :v"'),
        ("((n = :one))", "The expression has redundant parentheses;"),
        ("status = :one", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("m.Size = :one", "Attribute name is a reserved keyword; reserved keyword: Size"),
        (
            "#x = :one",
            "An expression attribute name used in the document path is not defined; attribute name: #x",
        ),
        ("n = :v", "An expression attribute value used in expression is not defined; attribute value: :v"),
        ("foo(n)", "Invalid function name; function: foo"),
        ("size(n)", "The function is not allowed to be used this way in an expression; function: size"),
        (
            "n = begins_with(s, :he)",
            "The function is not allowed to be used this way in an expression; function: begins_with",
        ),
        (
            "attribute_exists(n, s)",
            "Incorrect number of operands for operator or function; "
            "operator or function: attribute_exists, number of operands: 2",
        ),
        (
            "n = n",
            "The first operand must be distinct from the remaining operands for this operator or function; "
            "operator: =, first operand: [n]",
        ),
        (
            "n BETWEEN :ten AND :one",
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
            "lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:1}",
        ),
        (
            "n BETWEEN :one AND :x",
            "The BETWEEN operator requires same data type for lower and upper bounds; "
            "lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:x}",
        ),
        (
            "begins_with(s, :one)",
            "Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N",
        ),
        (
            "size(:one) > :one",
            "Incorrect operand type for operator or function; operator or function: size, operand type: N",
        ),
        (
            "attribute_type(n, :x)",
            "Invalid attribute type name found; type: x, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }",
        ),
        (
            "attribute_exists(:x)",
            "Operator or function requires a document path; operator or function: attribute_exists",
        ),
    ],
)
def test_it_refuses_bad_conditions_with_dynamodbs_message(text, message):
    assert error_of(condition, text, {}, VALUES) == CONDITION + message


def test_it_names_the_parameter_in_its_messages():
    assert (
        error_of(condition, "", {}, {}, "FilterExpression")
        == "Invalid FilterExpression: The expression can not be empty;"
    )


def test_it_refuses_invalid_expression_attribute_values():
    message = error_of(condition, "n = :v", {}, {":v": {"SS": []}})
    assert message == (
        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: "
        "An string set  may not be empty for key :v"
    )


def test_it_refuses_more_than_100_in_choices():
    values = {f":v{i}": {"N": str(i)} for i in range(101)}
    text = "n IN (" + ", ".join(values) + ")"
    assert "Too many operands" in error_of(condition, text, {}, values)


def test_reserved_words_may_be_used_through_names():
    assert condition("#s = :one", {"#s": "status"}, VALUES).matches({"status": {"N": "1"}})


# -- key conditions ------------------------------------------------------------------


def test_it_reads_key_conditions():
    parsed = key_condition("#p = :a AND sk BETWEEN :one AND :ten", {"#p": "pk"}, VALUES)
    assert (parsed.hash_name, parsed.hash_value) == ("pk", {"S": "a"})
    assert (parsed.range_name, parsed.range_op, parsed.range_values) == (
        "sk",
        "BETWEEN",
        ({"N": "1"}, {"N": "10"}),
    )
    assert parsed.names_used == {"#p"} and parsed.values_used == {":a", ":one", ":ten"}
    assert parsed.range_matches({"N": "5"}) and not parsed.range_matches({"N": "11"})

    flipped = key_condition(":one < sk AND pk = :a", {}, VALUES)
    assert (flipped.hash_name, flipped.range_name, flipped.range_op) == ("pk", "sk", ">")

    prefix = key_condition("pk = :a AND begins_with(sk, :he)", {}, VALUES)
    assert prefix.range_op == "begins_with"
    assert prefix.range_matches({"S": "hello"}) and not prefix.range_matches({"S": "hi"})

    only = key_condition("pk = :a", {}, VALUES)
    assert only.range_name is None and only.range_matches(None)


def test_it_matches_key_conditions_to_the_schema():
    parsed = key_condition("sk = :one AND pk = :a", {}, VALUES, hash_key="pk", range_key="sk")
    assert (parsed.hash_name, parsed.range_name, parsed.range_op) == ("pk", "sk", "=")
    assert error_of(key_condition, "sk = :one", {}, VALUES, "pk", "sk") == (
        "Query condition missed key schema element: pk"
    )
    assert error_of(key_condition, "pk = :a AND extra = :one", {}, VALUES, "pk", "sk") == (
        "Query condition missed key schema element: sk"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("pk = :a OR sk = :one", "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT pk = :a", "Invalid operator used in KeyConditionExpression: NOT"),
        ("pk <> :a", "Invalid operator used in KeyConditionExpression: <>"),
        ("pk IN (:a)", "Invalid operator used in KeyConditionExpression: IN"),
        ("attribute_exists(pk)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("contains(pk, :a)", "Invalid operator used in KeyConditionExpression: contains"),
        ("pk = :a AND sk > :one AND extra < :ten", "Conditions can be of length 1 or 2 only"),
        ("sk > :one AND sk < :ten", "KeyConditionExpressions must only contain one condition per key"),
        ("pk > :a", "Query key condition not supported"),
        ("pk.x = :a", "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("size(pk) = :one", "KeyConditionExpressions cannot contain nested operations"),
        (
            "pk = sk",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        (":a = :one", "Invalid condition in KeyConditionExpression: No key attribute specified"),
        (
            "begins_with(:he, sk) AND pk = :a",
            "Invalid condition in KeyConditionExpression: "
            "begins_with operator must have the key attribute as its first operand",
        ),
        ("", "Invalid KeyConditionExpression: The expression can not be empty;"),
        ("pk = ", 'Invalid KeyConditionExpression: Syntax error; token: "<EOF>", near: "="'),
    ],
)
def test_it_refuses_what_dynamodb_refuses_in_key_conditions(text, message):
    assert error_of(key_condition, text, {}, VALUES) == message


# -- projections -----------------------------------------------------------------------


def test_it_projects_attributes_nested_paths_and_list_elements():
    parsed = projection("pk, m.deep.c, l[3], l[1], #n, absent, m.nope", {"#n": "n"})
    assert parsed.apply(ITEM) == {
        "pk": {"S": "key"},
        "m": {"M": {"deep": {"M": {"c": {"N": "1"}}}}},
        "l": {"L": [{"S": "one"}, {"N": "3"}]},
        "n": {"N": "5"},
    }
    assert parsed.names_used == {"#n"}
    assert ("m", "deep", "c") in parsed.paths


def test_a_projection_copies_rather_than_shares():
    projected = projection("m", {}).apply(ITEM)
    projected["m"]["M"]["a"] = {"S": "changed"}
    assert ITEM["m"]["M"]["a"] == {"S": "x"}


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "a, a.b",
            "Two document paths overlap with each other; must remove or rewrite one of these paths; "
            "path one: [a], path two: [a, b]",
        ),
        (
            "a[1], a.b",
            "Two document paths conflict with each other; must remove or rewrite one of these paths; "
            "path one: [a, [1]], path two: [a, b]",
        ),
        (
            "a, a",
            "Two document paths overlap with each other; must remove or rewrite one of these paths; "
            "path one: [a], path two: [a]",
        ),
        ("name", "Attribute name is a reserved keyword; reserved keyword: name"),
        ("#x", "An expression attribute name used in the document path is not defined; attribute name: #x"),
        ("a,", 'Syntax error; token: "<EOF>", near: ","'),
    ],
)
def test_it_refuses_bad_projections(text, message):
    assert error_of(projection, text, {}) == "Invalid ProjectionExpression: " + message


# -- updates -----------------------------------------------------------------------------


def applied(text, item=ITEM, names=None, values=None):
    return update(text, names or {}, VALUES if values is None else values).apply(item)


def test_set_writes_values_paths_and_arithmetic():
    after = applied("SET n = n + :one, m.deep.c = :x, fresh = s, l[1] = :ten, twice = :five - n")
    assert after["n"] == {"N": "6"}
    assert after["m"]["M"]["deep"]["M"]["c"] == {"S": "x"}
    assert after["fresh"] == {"S": "hello"}
    assert after["l"]["L"][1] == {"N": "10"}
    assert after["twice"] == {"N": "0"}  # every operand read from the item before the update


def test_set_past_the_end_of_a_list_appends():
    assert applied("SET l[99] = :x")["l"]["L"][-1] == {"S": "x"}


def test_if_not_exists_and_list_append():
    values = dict(VALUES, **{":empty": {"L": []}, ":more": {"L": [{"S": "m"}]}})
    after = applied(
        "SET q = list_append(if_not_exists(q, :empty), :more), l = list_append(:more, l), "
        "n = if_not_exists(n, :ten), c = if_not_exists(c, :ten)",
        values=values,
    )
    assert after["q"] == {"L": [{"S": "m"}]}
    assert after["l"]["L"][0] == {"S": "m"} and len(after["l"]["L"]) == 5
    assert after["n"] == {"N": "5"} and after["c"] == {"N": "10"}


def test_remove_shifts_later_list_elements():
    after = applied("REMOVE l[1], l[2], m.a, s, nothing")
    assert after["l"] == {"L": [{"N": "0"}, {"N": "3"}]}
    assert "a" not in after["m"]["M"] and "s" not in after and "nothing" not in after


def test_add_adds_numbers_and_unions_sets():
    values = {":one": {"N": "1"}, ":s": {"SS": ["b", "c"]}, ":ns": {"NS": ["2.50", "7"]}}
    after = applied("ADD n :one, ss :s, ns :ns, newn :one, newss :s", values=values)
    assert after["n"] == {"N": "6"} and after["newn"] == {"N": "1"}
    assert sorted(after["ss"]["SS"]) == ["a", "b", "c"]
    assert sorted(after["ns"]["NS"], key=Decimal) == ["1", "2.5", "7"]
    assert after["newss"] == {"SS": ["b", "c"]}


def test_delete_takes_set_elements_and_drops_an_emptied_set():
    values = {":a": {"SS": ["a"]}, ":ab": {"SS": ["a", "b", "zz"]}, ":n": {"NS": ["2.500"]}}
    assert applied("DELETE ss :a", values=values)["ss"] == {"SS": ["b"]}
    assert "ss" not in applied("DELETE ss :ab", values=values)
    assert applied("DELETE ns :n", values=values)["ns"] == {"NS": ["1"]}
    assert "nothing" not in applied("DELETE nothing :a", values=values)


def test_an_update_never_changes_its_input_and_reports_what_it_touches():
    before = copy.deepcopy(ITEM)
    parsed = update(
        "SET m.a = :x, #q = :one REMOVE l[0] ADD n :one DELETE ss :ss",
        {"#q": "q"},
        dict(VALUES, **{":ss": {"SS": ["a"]}}),
    )
    parsed.apply(ITEM)
    assert ITEM == before
    assert parsed.paths == {"m", "q", "l", "n", "ss"}
    assert parsed.names_used == {"#q"} and parsed.values_used == {":x", ":one", ":ss"}


def test_an_update_applies_to_an_absent_item():
    assert update("SET a = :one ADD c :one", {}, VALUES).apply(None) == {"a": {"N": "1"}, "c": {"N": "1"}}


UPDATE = "Invalid UpdateExpression: "


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "SET a = :x SET b = :x",
            UPDATE + 'The "SET" section can only be used once in an update expression;',
        ),
        (
            "SET a = :x REMOVE a.b",
            UPDATE + "Two document paths overlap with each other; must remove or rewrite one of these paths; "
            "path one: [a], path two: [a, b]",
        ),
        (
            "SET l[1] = :x, l.a = :x",
            UPDATE
            + "Two document paths conflict with each other; must remove or rewrite one of these paths; "
            "path one: [l, [1]], path two: [l, a]",
        ),
        (
            "ADD n :x",
            UPDATE + "Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
        ),
        (
            "DELETE ss :one",
            UPDATE
            + "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER",
        ),
        (
            "SET n = :x + :one",
            UPDATE
            + "Incorrect operand type for operator or function; operator or function: +, operand type: S",
        ),
        (
            "SET n = list_append(:x, l)",
            UPDATE + "Incorrect operand type for operator or function; "
            "operator or function: list_append, operand type: S",
        ),
        ("SET n = size(s)", UPDATE + "Invalid function name; function: size"),
        (
            "SET n = if_not_exists(:x, :x)",
            UPDATE + "Operator or function requires a document path; operator or function: if_not_exists",
        ),
        ("SET status = :x", UPDATE + "Attribute name is a reserved keyword; reserved keyword: status"),
        (
            "SET #x = :x",
            UPDATE
            + "An expression attribute name used in the document path is not defined; attribute name: #x",
        ),
        (
            "SET a = :v",
            UPDATE + "An expression attribute value used in expression is not defined; attribute value: :v",
        ),
        ("ADD hits : incr", UPDATE + 'Syntax error; token: ":", near: "hits : incr"'),
        ("SET path = VALUE 1", UPDATE + 'Syntax error; token: "1", near: "VALUE 1"'),
        ("SET a = :x,", UPDATE + 'Syntax error; token: "<EOF>", near: ","'),
        ("", UPDATE + "The expression can not be empty;"),
    ],
)
def test_it_refuses_bad_updates_with_dynamodbs_message(text, message):
    assert error_of(update, text, {}, VALUES) == message


@pytest.mark.parametrize(
    "text, message",
    [
        ("SET a = nothing", "The provided expression refers to an attribute that does not exist in the item"),
        ("SET a = s + :one", "An operand in the update expression has an incorrect data type"),
        ("SET a = list_append(s, l)", "An operand in the update expression has an incorrect data type"),
        ("SET nothing.a = :x", "The document path provided in the update expression is invalid for update"),
        ("SET s[0] = :x", "The document path provided in the update expression is invalid for update"),
        ("ADD s :one", "An operand in the update expression has an incorrect data type"),
        ("ADD ss :ns", "An operand in the update expression has an incorrect data type"),
        ("DELETE ss :ns", "An operand in the update expression has an incorrect data type"),
        (
            "SET n = n + :big",
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        ),
    ],
)
def test_it_refuses_updates_the_item_does_not_fit(text, message):
    values = dict(
        VALUES, **{":ns": {"NS": ["1"]}, ":big": {"N": "9.9999999999999999999999999999999999999E+125"}}
    )
    parsed = update(text, {}, values)
    with pytest.raises(ExpressionError) as caught:
        parsed.apply(ITEM)
    assert str(caught.value) == message


# -- unused names and values ------------------------------------------------------------


def test_it_reports_unused_names_and_values():
    assert unused({"#a": "a"}, {":v": {"N": "1"}}, {"#a"}, {":v"}) is None
    assert unused(None, None, set(), set()) is None
    assert unused({}, {":v": {}, ":w": {}}, set(), {":w"}) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}"
    )
    assert unused({"#n": "n", "#m": "m"}, {}, set(), set()) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#m, #n}"
    )


# -- properties ----------------------------------------------------------------------------

_numbers = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)


@settings(max_examples=200)
@given(_numbers, _numbers, _numbers)
def test_comparisons_agree_with_the_numbers(a, low, high):
    item = {"a": {"N": str(a)}}
    values = {":v": {"N": str(low)}, ":w": {"N": str(high)}}
    assert condition("a < :v", {}, values).matches(item) is (a < low)
    assert condition("a >= :v", {}, values).matches(item) is (a >= low)
    assert condition("a <> :v", {}, values).matches(item) is (a != low)
    if low <= high:
        assert condition("a BETWEEN :v AND :w", {}, values).matches(item) is (low <= a <= high)


def _trees(depth=3):
    leaf = st.sampled_from(["t", "f"])
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(st.just("not"), inner),
            st.tuples(st.sampled_from(["and", "or"]), inner, inner),
        ),
        max_leaves=8,
    )


def _python(tree) -> bool:
    if tree == "t":
        return True
    if tree == "f":
        return False
    if tree[0] == "not":
        return not _python(tree[1])
    if tree[0] == "and":
        return _python(tree[1]) and _python(tree[2])
    return _python(tree[1]) or _python(tree[2])


_RANK = {"or": 0, "and": 1, "not": 2}


def _text(tree, outer=0) -> str:
    """The tree as text with only the parentheses DynamoDB's precedence
    needs (OR < AND < NOT), so the parser's precedence decides the rest."""
    if tree == "t":
        return "n = :five"
    if tree == "f":
        return "n = :one"
    rank = _RANK[tree[0]]
    if tree[0] == "not":
        text = "NOT " + _text(tree[1], rank)
    else:
        # Left-associative: the right operand of the same operator needs parentheses.
        text = f"{_text(tree[1], rank)} {tree[0].upper()} {_text(tree[2], rank + 1)}"
    return f"({text})" if rank < outer else text


@settings(max_examples=300)
@given(_trees())
def test_precedence_of_and_or_not_is_dynamodbs(tree):
    text = _text(tree)
    try:
        parsed = condition(text, {}, VALUES)
    except ExpressionError as error:
        # ((x)) is refused by DynamoDB; minimal parentheses never nest.
        raise AssertionError(f"{text}: {error}") from None
    assert parsed.matches(ITEM) is _python(tree), text


@settings(max_examples=200)
@given(
    st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=10),
    st.sets(st.integers(0, 12), min_size=1, max_size=4),
)
def test_remove_of_list_elements_is_pythons_deletion_by_original_index(elements, indexes):
    item = {"l": {"L": [{"N": str(e)} for e in elements]}}
    text = "REMOVE " + ", ".join(f"l[{i}]" for i in sorted(indexes))
    expected = [e for i, e in enumerate(elements) if i not in indexes]
    after = update(text, {}, {}).apply(item)
    assert after["l"]["L"] == [{"N": str(e)} for e in expected]
    assert item["l"]["L"] == [{"N": str(e)} for e in elements]


@settings(max_examples=200)
@given(_numbers, st.lists(_numbers, min_size=1, max_size=5))
def test_add_sums_numbers(start, increments):
    item = {"n": {"N": str(start)}}
    for increment in increments:
        item = update("ADD n :d", {}, {":d": {"N": str(increment)}}).apply(item)
    assert Decimal(item["n"]["N"]) == start + sum(increments)


@settings(max_examples=200)
@given(
    st.sets(st.text(max_size=3), min_size=1, max_size=5), st.sets(st.text(max_size=3), min_size=1, max_size=5)
)
def test_add_and_delete_are_set_union_and_difference(have, other):
    item = {"s": {"SS": sorted(have)}}
    values = {":o": {"SS": sorted(other)}}
    assert set(update("ADD s :o", {}, values).apply(item)["s"]["SS"]) == have | other
    after = update("DELETE s :o", {}, values).apply(item)
    assert set(after.get("s", {"SS": []})["SS"]) == have - other
