"""Differential tests of Stratus's DynamoDB API against moto: each scenario
runs the same boto3 calls on both (tests.unit.diff_support) and the
answers must agree (items, Count/ScannedCount, LastEvaluatedKey, error
codes and CancellationReasons codes; not messages, ids or times).

Only comparisons where moto agrees with AWS's documentation are kept
here; where moto is wrong, the AWS answer is asserted directly (the
`test_aws_*` tests at the end)."""


from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.unit.ddb_support import client
from tests.unit.diff_support import Recorder, differences, moto_client


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def B(v):
    return {"B": v}


def table(rec, name="tbl", sort="sk", sort_type="S", *, gsis=(), lsis=(), extra_defs=(), **more):
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort:
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
        defs.append({"AttributeName": sort, "AttributeType": sort_type})
    defs += list(extra_defs)
    params = dict(TableName=name, KeySchema=schema, AttributeDefinitions=defs,
                  BillingMode="PAY_PER_REQUEST", **more)
    if gsis:
        params["GlobalSecondaryIndexes"] = list(gsis)
    if lsis:
        params["LocalSecondaryIndexes"] = list(lsis)
    rec.quiet("create_table", **params)


def index(name, hash_key, range_key=None, projection=None):
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return {"IndexName": name, "KeySchema": schema,
            "Projection": projection or {"ProjectionType": "ALL"}}


def query_pages(rec, **params):
    """Every page of a query (or scan), each recorded; the union noted.

    A page that stops at Limit carries LastEvaluatedKey even when nothing
    follows (DynamoDB API reference, Query: "If LastEvaluatedKey is not
    empty, it does not necessarily mean that there is more data"); moto
    leaves it out. Such a key followed by an empty last page is taken out
    of the transcript, so both ways compare equal."""
    op = rec.scan if params.pop("_scan", False) else rec.query
    items, pages = [], 0
    while True:
        page = op(**params)
        if "Error" in page or "Crash" in page:
            return
        items += page.get("Items", [])
        pages += 1
        if "LastEvaluatedKey" not in page or pages > 20:
            break
        params["ExclusiveStartKey"] = rec.raw["LastEvaluatedKey"]
    if pages > 1 and page.get("Count") == 0 and page.get("ScannedCount") == 0:
        rec.log.pop()
        rec.log[-1][2].pop("LastEvaluatedKey")
    rec.note("all pages", items)


# --- scenarios ---------------------------------------------------------------------------------

def sc_update_expressions(rec):
    table(rec)
    key = {"pk": S("u"), "sk": S("1")}
    rec.put_item(TableName="tbl", Item={**key, "n": N(5), "l": {"L": [S("a"), S("b"), S("c"), S("d")]},
                                      "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]},
                                      "m": {"M": {"in": {"M": {"deep": N(1)}}, "l": {"L": [N(1)]}}},
                                      "bs": {"BS": [b"\x01", b"\x02"]}})
    updates = [
        ("SET n = n + :one", {":one": N(1)}),
        ("SET n = n - :one, other = :one", {":one": N("1.5")}),
        ("SET fresh = if_not_exists(fresh, :v)", {":v": S("first")}),
        ("SET fresh = if_not_exists(fresh, :v)", {":v": S("second")}),
        ("SET l = list_append(l, :more)", {":more": {"L": [S("e")]}}),
        ("SET l = list_append(:more, l)", {":more": {"L": [S("z")]}}),
        ("REMOVE l[1], l[3]", {}),
        ("REMOVE l[10]", {}),
        ("SET l[1] = :v", {":v": S("one")}),
        ("SET l[20] = :v", {":v": S("appended")}),
        ("SET m.#in.deep = m.#in.deep + :one", {":one": N(1)}),
        ("SET m.l[0] = :v", {":v": S("zero")}),
        ("SET m.missing.deep = :v", {":v": S("x")}),
        ("ADD n :one", {":one": N(2)}),
        ("ADD newnum :one", {":one": N(2)}),
        ("ADD ss :s", {":s": {"SS": ["y", "z"]}}),
        ("ADD newset :s", {":s": {"NS": ["3"]}}),
        ("ADD ns :s", {":s": {"SS": ["a"]}}),
        ("ADD l :s", {":s": {"SS": ["a"]}}),
        ("DELETE ss :s", {":s": {"SS": ["x", "q"]}}),
        ("DELETE ns :s", {":s": {"NS": ["1", "2"]}}),
        ("DELETE bs :s", {":s": {"BS": [b"\x01"]}}),
        ("DELETE nothere :s", {":s": {"SS": ["x"]}}),
        ("SET n = n + :s", {":s": S("x")}),
        ("SET missing2 = nope + :one", {":one": N(1)}),
        ("SET n = :a, n = :a", {":a": N(1)}),
        ("SET m.#in = :a REMOVE m.#in.deep", {":a": N(1)}),
        ("REMOVE fresh, other SET n = :a", {":a": N(0)}),
        ("SET sk = :a", {":a": S("2")}),
        ("SET #a = :a", {":a": S("2")}),
        ("ADD m :a", {":a": N(1)}),
        ("SET s2 = list_append(:a, :b)", {":a": {"L": []}, ":b": S("x")}),
    ]
    for expression, values in updates:
        params = dict(TableName="tbl", Key=key, UpdateExpression=expression, ReturnValues="ALL_NEW")
        names = {n: n[1:] for n in ("#in", "#a") if n in expression}
        if names:
            params["ExpressionAttributeNames"] = names
        if values:
            params["ExpressionAttributeValues"] = values
        rec.update_item(**params)
    rec.get_item(TableName="tbl", Key=key, ConsistentRead=True)


def sc_return_values(rec):
    table(rec)
    key = {"pk": S("r"), "sk": S("1")}
    for kind in ("NONE", "ALL_OLD"):
        rec.put_item(TableName="tbl", Item={**key, "a": N(1), "b": S(kind)}, ReturnValues=kind)
    for kind in ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"):
        rec.update_item(TableName="tbl", Key=key, UpdateExpression="SET a = a + :one, c = :c REMOVE b",
                        ExpressionAttributeValues={":one": N(1), ":c": S(kind)}, ReturnValues=kind)
        rec.update_item(TableName="tbl", Key=key, UpdateExpression="SET b = :b",
                        ExpressionAttributeValues={":b": S("x")}, ReturnValues=kind)
    rec.update_item(TableName="tbl", Key={"pk": S("r"), "sk": S("new")}, UpdateExpression="SET a = :a",
                    ExpressionAttributeValues={":a": N(1)}, ReturnValues="ALL_OLD")
    rec.update_item(TableName="tbl", Key={"pk": S("r"), "sk": S("new2")}, UpdateExpression="SET a = :a",
                    ExpressionAttributeValues={":a": N(1)}, ReturnValues="UPDATED_OLD")
    rec.update_item(TableName="tbl", Key={"pk": S("r"), "sk": S("nested")},
                    UpdateExpression="SET m = :m", ExpressionAttributeValues={":m": {"M": {"x": N(1),
                                                                                             "y": N(2)}}})
    rec.update_item(TableName="tbl", Key={"pk": S("r"), "sk": S("nested")}, UpdateExpression="SET m.x = :v",
                    ExpressionAttributeValues={":v": N(3)}, ReturnValues="UPDATED_NEW")
    rec.put_item(TableName="tbl", Item={**key}, ReturnValues="ALL_NEW")
    rec.put_item(TableName="tbl", Item={**key}, ReturnValues="UPDATED_OLD")
    rec.delete_item(TableName="tbl", Key=key, ReturnValues="ALL_OLD")
    rec.delete_item(TableName="tbl", Key=key, ReturnValues="ALL_OLD")
    rec.delete_item(TableName="tbl", Key=key, ReturnValues="ALL_NEW")
    rec.put_item(TableName="tbl", Item={**key, "a": N(1)})
    rec.put_item(TableName="tbl", Item={**key, "a": N(2)}, ConditionExpression="a = :two",
                 ExpressionAttributeValues={":two": N(2)}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    rec.update_item(TableName="tbl", Key=key, UpdateExpression="SET a = :two", ConditionExpression="a = :two",
                    ExpressionAttributeValues={":two": N(2)}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    rec.delete_item(TableName="tbl", Key=key, ConditionExpression="attribute_not_exists(a)",
                    ReturnValuesOnConditionCheckFailure="NONE")


CONDITIONS = [
    ("n = :five", {":five": N(5)}),
    ("n <> :five", {":five": N(5)}),
    ("n >= :five AND n <= :five", {":five": N("5.0")}),
    ("n BETWEEN :a AND :b", {":a": N(1), ":b": N(9)}),
    ("s BETWEEN :a AND :b", {":a": S("a"), ":b": S("z")}),
    ("n IN (:a, :b, :five)", {":a": N(1), ":b": N(2), ":five": N(5)}),
    ("n IN (:a, :b)", {":a": N(1), ":b": N(2)}),
    ("begins_with(s, :p)", {":p": S("hel")}),
    ("begins_with(s, :p)", {":p": S("xyz")}),
    ("contains(s, :p)", {":p": S("ll")}),
    ("contains(ss, :p)", {":p": S("x")}),
    ("contains(ns, :p)", {":p": N(2)}),
    ("contains(l, :p)", {":p": S("a")}),
    ("contains(l, :p)", {":p": N(1)}),
    ("size(s) = :five", {":five": N(5)}),
    ("size(l) > :one", {":one": N(1)}),
    ("size(ss) = :two", {":two": N(2)}),
    ("size(m) = :two", {":two": N(2)}),
    ("size(b) = :two", {":two": N(2)}),
    ("attribute_type(s, :t)", {":t": S("S")}),
    ("attribute_type(ns, :t)", {":t": S("NS")}),
    ("attribute_type(m, :t)", {":t": S("M")}),
    ("attribute_type(m, :t)", {":t": S("L")}),
    ("attribute_type(nul, :t)", {":t": S("NULL")}),
    ("attribute_exists(m.x)", {}),
    ("attribute_exists(m.y)", {}),
    ("attribute_not_exists(l[5])", {}),
    ("attribute_exists(l[0])", {}),
    ("attribute_not_exists(nothere) AND attribute_exists(s)", {}),
    ("NOT (n = :five) OR s = :s", {":five": N(5), ":s": S("hello")}),
    ("NOT n = :five", {":five": N(5)}),
    ("(n = :five OR n = :six) AND NOT contains(s, :z)", {":five": N(5), ":six": N(6), ":z": S("z")}),
    ("a = :a OR b = :b AND c = :c", {":a": N(1), ":b": N(2), ":c": N(3)}),
    ("m.x = :one", {":one": N(1)}),
    ("l[1] = :b", {":b": S("b")}),
    ("m = :m", {":m": {"M": {"x": N(1)}}}),
    ("l = :l", {":l": {"L": [S("a"), S("b")]}}),
    ("ss = :ss", {":ss": {"SS": ["y", "x"]}}),
    ("nothere <> :a", {":a": N(1)}),
    ("t = :t", {":t": {"BOOL": True}}),
    ("t < :t", {":t": {"BOOL": True}}),
    ("b < :b", {":b": B(b"\x02")}),
    ("s > :s", {":s": S("Hello")}),
    ("n = :unused", {":unused": N(1), ":extra": N(2)}),
    ("size(s) BETWEEN :a AND :b", {":a": N(1), ":b": N(10)}),
    ("s IN (:s)", {":s": S("hello")}),
    ("n IN (:n)", {":n": S("5")}),
]


def sc_conditions(rec):
    table(rec)
    key = {"pk": S("c"), "sk": S("1")}
    item = {**key, "n": N(5), "s": S("hello"), "b": B(b"\x01\x02"), "ss": {"SS": ["x", "y"]},
            "ns": {"NS": ["1", "2"]}, "l": {"L": [S("a"), S("b")]}, "m": {"M": {"x": N(1)}},
            "nul": {"NULL": True}, "t": {"BOOL": True}}
    rec.put_item(TableName="tbl", Item=item)
    for expression, values in CONDITIONS:
        params = dict(TableName="tbl", Key=key, ConditionExpression=expression,
                      UpdateExpression="SET touched = :touched",
                      ExpressionAttributeValues={**values, ":touched": S(expression)})
        rec.update_item(**params)
        rec.put_item(TableName="tbl", Item=item)
    # On a missing item.
    for expression, values in CONDITIONS[:12]:
        rec.put_item(TableName="tbl", Item={"pk": S("missing"), "sk": S(expression)},
                     ConditionExpression=expression,
                     **({"ExpressionAttributeValues": values} if values else {}))
    rec.scan(TableName="tbl")


def _fill(rec, name, sort_values, extra=lambda i: {}):
    for i, v in enumerate(sort_values):
        rec.put_item(TableName=name, Item={"pk": S("p"), "sk": v, "i": N(i), **extra(i)})
        rec.put_item(TableName=name, Item={"pk": S("q"), "sk": v, "i": N(i)})


def sc_query_numeric(rec):
    table(rec, sort_type="N")
    _fill(rec, "tbl", [N(v) for v in (-10, -1.5, 0, 1, 2, 2.5, 10, 100, "100000", "1E-130", "-1E-130",
                                       "9.99E+125", "-9.99E+125", "0.001", "-0.001", "-0.0011",
                                       "12345678901234567890123456789012345678", "-100")])
    conditions = [
        ("pk = :p", {}),
        ("pk = :p AND sk < :a", {":a": N(2)}),
        ("pk = :p AND sk <= :a", {":a": N(2)}),
        ("pk = :p AND sk > :a", {":a": N(-1.5)}),
        ("pk = :p AND sk >= :a", {":a": N(-1.5)}),
        ("pk = :p AND sk = :a", {":a": N("2.50")}),
        ("pk = :p AND sk BETWEEN :a AND :b", {":a": N(-2), ":b": N(10)}),
        ("sk > :a AND pk = :p", {":a": N(0)}),
        ("pk > :p", {}),
        ("pk = :p AND i > :a", {":a": N(0)}),
    ]
    for expression, values in conditions:
        for forward in (True, False):
            for limit in (None, 3):
                params = dict(TableName="tbl", KeyConditionExpression=expression,
                              ExpressionAttributeValues={":p": S("p"), **values}, ScanIndexForward=forward)
                if limit:
                    params["Limit"] = limit
                query_pages(rec, **params)
    query_pages(rec, TableName="tbl", KeyConditionExpression="pk = :p", FilterExpression="i > :two",
                ExpressionAttributeValues={":p": S("p"), ":two": N(2)}, Limit=3)
    query_pages(rec, TableName="tbl", KeyConditionExpression="pk = :p", FilterExpression="i > :two",
                ExpressionAttributeValues={":p": S("p"), ":two": N(2)}, Select="COUNT")
    # (A FilterExpression on the sort key is refused by AWS, not by moto:
    # test_ddb_reads.test_a_query_filter_may_not_read_the_queried_keys.)
    query_pages(rec, TableName="tbl", KeyConditionExpression="pk = :p", Select="COUNT",
                ExpressionAttributeValues={":p": S("p")}, Limit=4)


def sc_query_string_and_binary(rec):
    table(rec, "tstr")
    _fill(rec, "tstr", [S(v) for v in ("a", "ab", "abc", "b", "B", "ä", "a b", "", "zz")][:8])
    table(rec, "tbin", sort_type="B")
    _fill(rec, "tbin", [B(v) for v in (b"\x00", b"\x00\x01", b"\x01", b"\x7f", b"\x80", b"\xff",
                                       b"\xff\x00")])
    for name, pairs in (("tstr", [S("a"), S("b"), S("ab")]), ("tbin", [B(b"\x00"), B(b"\x80"), B(b"\xff")])):
        low, high, prefix = pairs
        for expression, values in (
            ("pk = :p AND begins_with(sk, :x)", {":x": prefix}),
            ("pk = :p AND begins_with(sk, :x)", {":x": low}),
            ("pk = :p AND sk BETWEEN :x AND :y", {":x": low, ":y": high}),
            ("pk = :p AND sk > :x", {":x": low}),
            ("pk = :p AND sk <= :x", {":x": high}),
        ):
            for forward in (True, False):
                query_pages(rec, TableName=name, KeyConditionExpression=expression, ScanIndexForward=forward,
                            ExpressionAttributeValues={":p": S("p"), **values}, Limit=2)


def sc_indexes(rec):
    table(rec, "idx", extra_defs=[{"AttributeName": "g", "AttributeType": "S"},
                                 {"AttributeName": "gn", "AttributeType": "N"},
                                 {"AttributeName": "l", "AttributeType": "N"}],
          gsis=[index("byg", "g", "gn"), index("bygonly", "g", projection={"ProjectionType": "KEYS_ONLY"}),
                index("incl", "g", "gn", {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]})],
          lsis=[index("byl", "pk", "l")])
    for i in range(12):
        item = {"pk": S(f"p{i % 3}"), "sk": S(f"s{i:02}"), "x": N(i), "y": S("why")}
        if i % 4 != 3:
            item["g"] = S(f"g{i % 2}")
        if i % 5 != 4:
            item["gn"] = N(i)
            item["l"] = N(-i)
        rec.put_item(TableName="idx", Item=item)
    for index_name, expression, values in (
        ("byg", "g = :g", {":g": S("g0")}),
        ("byg", "g = :g AND gn > :n", {":g": S("g1"), ":n": N(0)}),
        ("byg", "g = :g AND gn BETWEEN :a AND :n", {":g": S("g0"), ":a": N(0), ":n": N(2)}),
        ("incl", "g = :g", {":g": S("g1")}),
        ("byl", "pk = :g", {":g": S("p1")}),
        ("byl", "pk = :g AND l < :n", {":g": S("p0"), ":n": N(-3)}),
        ("byg", "pk = :g", {":g": S("p0")}),
    ):
        for forward in (True, False):
            for limit in (None, 2):
                params = dict(TableName="idx", IndexName=index_name, KeyConditionExpression=expression,
                              ExpressionAttributeValues=values, ScanIndexForward=forward)
                if limit:
                    params["Limit"] = limit
                query_pages(rec, **params)
    query_pages(rec, TableName="idx", IndexName="byg", _scan=True, Limit=3)
    # A GSI without a sort key keeps no order among equal partition keys:
    # compare what it holds, not the order.
    for forward in (True, False):
        found = rec.client.query(TableName="idx", IndexName="bygonly", KeyConditionExpression="g = :g",
                                 ExpressionAttributeValues={":g": S("g1")}, ScanIndexForward=forward)
        rec.note("hash-only index", sorted(i["sk"]["S"] for i in found["Items"]))
    rec.scan(TableName="idx", IndexName="bygonly")
    rec.scan(TableName="idx", IndexName="byl")
    rec.query(TableName="idx", IndexName="bygonly", KeyConditionExpression="g = :g",
              ExpressionAttributeValues={":g": S("g0")}, Select="ALL_ATTRIBUTES")
    rec.query(TableName="idx", IndexName="incl", KeyConditionExpression="g = :g",
              ExpressionAttributeValues={":g": S("g0")}, ProjectionExpression="x, pk")
    rec.query(TableName="idx", IndexName="byl", KeyConditionExpression="pk = :g",
              ExpressionAttributeValues={":g": S("p0")}, Select="ALL_PROJECTED_ATTRIBUTES")


def sc_projection(rec):
    table(rec)
    key = {"pk": S("p"), "sk": S("1")}
    deep = {"M": {"c": S("deep"), "d": N(1)}}
    rec.put_item(TableName="tbl", Item={**key, "a": {"M": {"b": {"L": [N(0), deep,
                                                                     N(2)]}, "e": S("e")}},
                                      "l": {"L": [S("x"), S("y"), {"L": [S("z0"), S("z1")]}]},
                                      "top": S("top"), "dotted.name": S("dn")})
    for projection, names in (
        ("a.b[1].c", None),
        ("a.b[1].c, a.e", None),
        ("l[5], top", None),
        ("#d", {"#d": "dotted.name"}),
        ("a.#e", {"#e": "e"}),
        ("nothere", None),
        ("pk, top", None),
        ("top, top", None),
        ("#unused", {"#unused": "x"}),
    ):
        params = dict(TableName="tbl", Key=key, ProjectionExpression=projection)
        if names:
            params["ExpressionAttributeNames"] = names
        rec.get_item(**params)
        qparams = dict(TableName="tbl", KeyConditionExpression="pk = :p", ProjectionExpression=projection,
                       ExpressionAttributeValues={":p": S("p")})
        if names:
            qparams["ExpressionAttributeNames"] = names
        rec.query(**qparams)


def sc_scan_segments(rec):
    table(rec)
    for i in range(40):
        rec.put_item(TableName="tbl", Item={"pk": S(f"k{i}"), "sk": S(str(i % 3)), "i": N(i)})
    for total in (1, 2, 3, 7):
        items = []
        for segment in range(total):
            params = dict(TableName="tbl", Segment=segment, TotalSegments=total, Limit=5)
            while True:
                page = rec.client.scan(**params)
                items += page["Items"]
                if "LastEvaluatedKey" not in page:
                    break
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        rec.note(f"segments {total}", sorted(int(i["i"]["N"]) for i in items))
    rec.scan(TableName="tbl", FilterExpression="i < :ten", ExpressionAttributeValues={":ten": N(10)})
    rec.scan(TableName="tbl", FilterExpression="i < :ten", ExpressionAttributeValues={":ten": N(10)},
             Select="COUNT")
    rec.scan(TableName="tbl", Segment=3, TotalSegments=3)
    rec.scan(TableName="tbl", Segment=0)
    rec.scan(TableName="tbl", ProjectionExpression="i", FilterExpression="sk = :z",
             ExpressionAttributeValues={":z": S("0")})


def sc_batches(rec):
    table(rec)
    table(rec, "utb", sort=None)
    requests = {"tbl": [{"PutRequest": {"Item": {"pk": S(f"b{i}"), "sk": S("s"), "v": N(i)}}}
                        for i in range(10)],
                "utb": [{"PutRequest": {"Item": {"pk": S(f"u{i}"), "v": N(i)}}} for i in range(5)]}
    rec.batch_write_item(RequestItems=requests)
    rec.batch_write_item(RequestItems={"tbl": [{"DeleteRequest": {"Key": {"pk": S("b0"), "sk": S("s")}}},
                                             {"PutRequest": {"Item": {"pk": S("b1"), "sk": S("s"),
                                                                      "w": N(1)}}}]})
    rec.batch_write_item(RequestItems={"tbl": [{"PutRequest": {"Item": {"pk": S("d"), "sk": S("s")}}},
                                             {"PutRequest": {"Item": {"pk": S("d"), "sk": S("s")}}}]})
    rec.batch_write_item(RequestItems={"tbl": [{"PutRequest": {"Item": {"pk": S("d")}}}]})
    rec.batch_write_item(RequestItems={"nopetable": [{"PutRequest": {"Item": {"pk": S("d")}}}]})
    rec.batch_get_item(RequestItems={
        "tbl": {"Keys": [{"pk": S(f"b{i}"), "sk": S("s")} for i in range(12)],
                "ProjectionExpression": "v, pk"},
        "utb": {"Keys": [{"pk": S("u1")}, {"pk": S("u9")}], "ConsistentRead": True},
    })
    rec.batch_get_item(RequestItems={"tbl": {"Keys": [{"pk": S("b1"), "sk": S("s")}] * 2}})
    rec.batch_get_item(RequestItems={"tbl": {"Keys": [{"pk": S("b1")}]}})
    rec.batch_get_item(RequestItems={"nopetable": {"Keys": [{"pk": S("b1")}]}})
    rec.batch_get_item(RequestItems={"tbl": {"Keys": [{"pk": S(f"k{i}"), "sk": S("s")} for i in range(101)]}})
    rec.scan(TableName="tbl")
    rec.scan(TableName="utb")


def sc_transactions(rec):
    table(rec)
    a, b, c = ({"pk": S(x), "sk": S("1")} for x in "abc")
    rec.put_item(TableName="tbl", Item={**a, "n": N(1)})
    rec.transact_write_items(TransactItems=[
        {"Put": {"TableName": "tbl", "Item": {**b, "n": N(2)},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": "tbl", "Key": a, "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": N(1)}}},
        {"ConditionCheck": {"TableName": "tbl", "Key": c, "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    rec.transact_write_items(TransactItems=[
        {"Put": {"TableName": "tbl", "Item": {**c, "n": N(3)}}},
        {"Update": {"TableName": "tbl", "Key": a, "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n = :one", "ExpressionAttributeValues": {":one": N(1)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Delete": {"TableName": "tbl", "Key": b}},
    ])
    rec.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": "tbl", "Key": b, "ConditionExpression": "n = :two",
                            "ExpressionAttributeValues": {":two": N(3)}}},
        {"Delete": {"TableName": "tbl", "Key": a, "ConditionExpression": "attribute_exists(nope)"}},
    ])
    rec.transact_write_items(TransactItems=[
        {"Put": {"TableName": "tbl", "Item": {**c, "n": N(3)}}},
        {"Delete": {"TableName": "tbl", "Key": c}},
    ])
    rec.transact_write_items(TransactItems=[
        {"Update": {"TableName": "tbl", "Key": a, "UpdateExpression": "SET n = n + :s",
                    "ExpressionAttributeValues": {":s": S("x")}}},
    ])
    rec.transact_write_items(TransactItems=[{"Put": {"TableName": "nopetable", "Item": {**c}}}])
    rec.transact_write_items(TransactItems=[
        {"Put": {"TableName": "tbl", "Item": {**a, "n": N(9)}}},
        {"Update": {"TableName": "tbl", "Key": a, "UpdateExpression": "SET n = :one",
                    "ExpressionAttributeValues": {":one": N(1)}}},
    ])
    rec.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": "tbl", "Key": a, "ConditionExpression": "n > :z",
                            "ExpressionAttributeValues": {":z": N(0)}}},
        {"Put": {"TableName": "tbl", "Item": {**c, "n": N(3)}, "ConditionExpression": "attribute_exists(pk)",
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Update": {"TableName": "tbl", "Key": b, "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n < :one", "ExpressionAttributeValues": {":one": N(1)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
    ])
    rec.transact_get_items(TransactItems=[{"Get": {"TableName": "tbl", "Key": k}} for k in (a, b, c)])
    rec.scan(TableName="tbl")


SCENARIOS = [sc_update_expressions, sc_return_values, sc_conditions, sc_query_numeric,
             sc_query_string_and_binary, sc_indexes, sc_projection, sc_scan_segments, sc_batches,
             sc_transactions]


def run_both(scenario, member_key):
    ours = Recorder(client(member_key))
    scenario(ours)
    with mock_aws():
        theirs = Recorder(moto_client("dynamodb"))
        scenario(theirs)
    return ours.log, theirs.log


@pytest.mark.django_db
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_stratus_answers_as_moto(scenario, member_key):
    ours, theirs = run_both(scenario, member_key)
    found = differences(ours, theirs)
    assert not found, "\n\n".join(f"#{i}\n stratus: {a}\n moto:    {b}" for i, a, b in found)


# --- random update and condition expressions ---------------------------------------------------

SCALARS = st.one_of(
    st.integers(-5, 5).map(N),
    st.sampled_from(["a", "b", "ab", ""]).map(S),
    st.just({"BOOL": True}),
    st.just({"NULL": True}),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3).map(lambda v: {"L": v}),
    st.sets(st.sampled_from(["x", "y", "z"]), min_size=1).map(lambda v: {"SS": sorted(v)}),
    st.sets(st.integers(1, 4), min_size=1).map(lambda v: {"NS": [str(i) for i in sorted(v)]}),
    st.dictionaries(st.sampled_from(["p", "q"]), SCALARS, max_size=2).map(lambda v: {"M": v}),
)
ATTRS = ["a", "b", "c"]
PATHS = st.one_of(st.sampled_from(ATTRS), st.sampled_from(["a[0]", "a[2]", "b.p", "c.q", "a[1]"]))
OPERAND = st.one_of(st.sampled_from([":v0", ":v1"]), PATHS)
SET_VALUE = st.one_of(
    OPERAND,
    st.tuples(OPERAND, st.sampled_from(["+", "-"]), OPERAND).map(" ".join),
    st.tuples(PATHS, OPERAND).map(lambda t: f"if_not_exists({t[0]}, {t[1]})"),
    st.tuples(OPERAND, OPERAND).map(lambda t: f"list_append({t[0]}, {t[1]})"),
)
CLAUSES = st.one_of(
    st.tuples(PATHS, SET_VALUE).map(lambda t: ("SET", f"{t[0]} = {t[1]}")),
    PATHS.map(lambda p: ("REMOVE", p)),
    st.tuples(st.sampled_from(ATTRS), st.sampled_from([":v0", ":v1"])).map(lambda t: ("ADD", " ".join(t))),
    st.tuples(st.sampled_from(ATTRS), st.sampled_from([":v0", ":v1"])).map(lambda t: ("DELETE", " ".join(t))),
)


def update_text(clauses) -> str:
    grouped = {}
    for kind, text in clauses:
        grouped.setdefault(kind, []).append(text)
    return " ".join(f"{kind} {', '.join(texts)}" for kind, texts in grouped.items())


def random_updates(rec, cases):
    table(rec)
    for n, (item, clauses, v0, v1, kind) in enumerate(cases):
        key = {"pk": S(f"h{n}"), "sk": S("1")}
        rec.put_item(TableName="tbl", Item={**key, **item})
        text = update_text(clauses)
        used = {k: v for k, v in ((":v0", v0), (":v1", v1)) if k in text}
        params = dict(TableName="tbl", Key=key, UpdateExpression=text, ReturnValues=kind)
        if used:
            params["ExpressionAttributeValues"] = used
        rec.update_item(**params)
        rec.get_item(TableName="tbl", Key=key, ConsistentRead=True)


@pytest.mark.django_db
# derandomize: the same examples every run, so CI never meets a new moto
# quirk by chance (wider random runs are for local exploration).
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(cases=st.lists(st.tuples(
    st.dictionaries(st.sampled_from(ATTRS), VALUES, max_size=3),
    st.lists(CLAUSES, min_size=1, max_size=3),
    VALUES, VALUES,
    st.sampled_from(["ALL_NEW", "ALL_OLD", "UPDATED_NEW"]),
), min_size=5, max_size=5))
def test_random_update_expressions_answer_as_moto(cases, member_key):
    from tables.models import Item, Table

    Item.objects.all().delete()
    Table.objects.all().delete()
    ours, theirs = run_both(lambda rec: random_updates(rec, cases), member_key)
    # Where moto itself fails (a Python error inside it, e.g. REMOVE of a
    # map key inside a set) it is no reference: that update and the read
    # after it are left out.
    crashed = {i for i, entry in enumerate(theirs) if "Crash" in entry[-1]}
    # moto applies part of an update before it finds an error (a SET
    # before a DELETE with a list operand); DynamoDB changes nothing on a
    # refusal, so after one the read is checked on Stratus alone.
    refused = {i for i, entry in enumerate(ours) if entry[0] == "update_item" and "Error" in entry[-1]}
    for i in refused:
        assert ours[i + 1][-1]["Item"] == ours[i - 1][1]["Item"]
        # moto also takes `SET b.p = ...` on a b that is no map as a no-op;
        # DynamoDB refuses the path ("The document path provided in the
        # update expression is invalid for update"), as Stratus does.
        if "Error" not in theirs[i][-1]:
            crashed.add(i)
    keep = [i for i in range(len(ours))
            if i not in crashed and i - 1 not in crashed and i - 1 not in refused]
    found = differences([ours[i] for i in keep], [theirs[i] for i in keep])
    assert not found, "\n\n".join(f"#{i}\n stratus: {a}\n moto:    {b}" for i, a, b in found)



CONDITION_PATHS = st.sampled_from(["a", "b", "c", "a[0]", "b.p", "c[1]"])
CONDITION_VALUES = st.sampled_from([":v0", ":v1"])
CONDITION_ATOMS = st.one_of(
    st.tuples(CONDITION_PATHS, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]),
              CONDITION_VALUES).map(" ".join),
    CONDITION_PATHS.map(lambda p: f"attribute_exists({p})"),
    CONDITION_PATHS.map(lambda p: f"attribute_not_exists({p})"),
    st.tuples(CONDITION_PATHS, CONDITION_VALUES).map(lambda t: f"begins_with({t[0]}, {t[1]})"),
    st.tuples(CONDITION_PATHS, CONDITION_VALUES).map(lambda t: f"contains({t[0]}, {t[1]})"),
    st.tuples(CONDITION_PATHS, st.sampled_from(["=", ">", "<="]), CONDITION_VALUES).map(
        lambda t: f"size({t[0]}) {t[1]} {t[2]}"),
    st.tuples(CONDITION_PATHS, CONDITION_VALUES, CONDITION_VALUES).map(
        lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
    st.tuples(CONDITION_PATHS, CONDITION_VALUES, CONDITION_VALUES).map(
        lambda t: f"{t[0]} IN ({t[1]}, {t[2]})"),
)
CONDITIONS_RANDOM = st.recursive(CONDITION_ATOMS, lambda c: st.one_of(
    st.tuples(c, st.sampled_from(["AND", "OR"]), c).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    c.map(lambda x: f"NOT {x}")), max_leaves=3)
# No NULL or BOOL values: moto takes a missing attribute for NULL (`a =
# :null` holds on an item without a) and compares with Python's == (BOOL
# true equals N 1); DynamoDB compares nothing with a missing attribute and
# no two values of different types as equal.
CONDITION_OPERANDS = VALUES.filter(lambda v: "NULL" not in str(v) and "BOOL" not in str(v))


def random_conditions(rec, cases):
    table(rec)
    for n, (item, condition, v0, v1) in enumerate(cases):
        key = {"pk": S(f"h{n}"), "sk": S("1")}
        rec.put_item(TableName="tbl", Item={**key, **item})
        used = {k: v for k, v in ((":v0", v0), (":v1", v1)) if k in condition}
        rec.update_item(TableName="tbl", Key=key, ConditionExpression=condition,
                        UpdateExpression="SET z = :z", ExpressionAttributeValues={**used, ":z": N(1)})


@pytest.mark.django_db
# derandomize: the same examples every run, so CI never meets a new moto
# quirk by chance (wider random runs are for local exploration).
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(cases=st.lists(st.tuples(st.dictionaries(st.sampled_from(ATTRS), CONDITION_OPERANDS, max_size=3),
                                CONDITIONS_RANDOM, CONDITION_OPERANDS, CONDITION_OPERANDS),
                      min_size=8, max_size=8))
def test_random_conditions_answer_as_moto(cases, member_key):
    from botocore.exceptions import ClientError

    from tables.models import Table

    Table.objects.all().delete()
    ours, theirs = run_both(lambda rec: random_conditions(rec, cases), member_key)
    ddb = client(member_key)
    found = []
    for i, a, b in differences(ours, theirs):
        if "Crash" in b[-1]:
            continue  # moto's own failure (mixed-type comparisons...)
        condition, operands = a[1]["ConditionExpression"], a[1]["ExpressionAttributeValues"].values()
        if any(op in condition for op in "<>") and any(next(iter(v)) not in "SNB" for v in operands):
            # moto orders sets, lists and maps with Python's >= (two equal
            # sets are ">="); DynamoDB orders only S, N and B values.
            continue
        if a[-1].get("Error") == "ValidationException":
            # DynamoDB checks the operands it is given before it reads the
            # item ("Incorrect operand type", "The BETWEEN operator requires
            # same data type for lower and upper bounds", "... upper bound to be
            # greater than or equal to lower bound"); moto does not.
            with pytest.raises(ClientError) as refused:
                ddb.update_item(**{**cases_params(a[1]), "Key": {"pk": S("none"), "sk": S("1")}})
            message = refused.value.response["Error"]["Message"]
            if "Incorrect operand type" in message or "BETWEEN operator requires" in message:
                continue
        found.append((i, a, b))
    assert not found, "\n\n".join(f"#{i}\n stratus: {a}\n moto:    {b}" for i, a, b in found)


def cases_params(logged: dict) -> dict:
    """A logged UpdateItem's parameters, sent again: numbers back as text."""
    values = {k: ({"N": str(Decimal(v["N"]))} if "N" in v else v)
              for k, v in logged["ExpressionAttributeValues"].items()}
    return {**logged, "ExpressionAttributeValues": values}

# --- where moto is wrong: DynamoDB's answers asserted directly ---------------------------------

def _stratus(member_key):
    rec = Recorder(client(member_key))
    table(rec)
    table(rec, "idx", extra_defs=[{"AttributeName": "g", "AttributeType": "S"}], gsis=[index("byg", "g")])
    table(rec, "num", sort_type="N")
    return rec


ITEM = {"pk": S("c"), "sk": S("1"), "n": N(5), "s": S("hello"), "b": B(b"\x01\x02"),
        "l": {"L": [S("x"), S("y"), {"L": [S("z0"), S("z1")]}]}, "ss": {"SS": ["x"]},
        "a": {"M": {"b": {"L": [N(0), {"M": {"c": S("deep"), "d": N(1)}}, N(2)]}, "e": S("e")}}}


@pytest.mark.django_db
@pytest.mark.parametrize("expression, values, expected", [
    # Operands of different types compare false, never an error.
    ("n < :s", {":s": S("5")}, "ConditionalCheckFailedException"),
    ("n BETWEEN :b AND :a", {":a": N(1), ":b": N(9)}, "ValidationException"),
    # begins_with and contains take B as they take S (ComparisonOperator
    # BEGINS_WITH / CONTAINS: "of type String or Binary").
    ("begins_with(b, :p)", {":p": B(b"\x01")}, None),
    ("contains(b, :p)", {":p": B(b"\x02")}, None),
    ("size(nothere) = :two", {":two": N(2)}, "ConditionalCheckFailedException"),
    ("attribute_type(s, :t)", {":t": S("BAD")}, "ValidationException"),
    # A missing attribute equals nothing, not even another missing one.
    ("nothere = nothere2", {}, "ConditionalCheckFailedException"),
    ("n = n", {}, "ValidationException"),
    ("n = :missing", {}, "ValidationException"),
    ("n == :five", {":five": N(5)}, "ValidationException"),
])
def test_aws_conditions_where_moto_differs(member_key, expression, values, expected):
    rec = _stratus(member_key)
    rec.put_item(TableName="tbl", Item=ITEM)
    params = dict(TableName="tbl", Key={"pk": S("c"), "sk": S("1")}, ConditionExpression=expression,
                  UpdateExpression="SET touched = :t1", ExpressionAttributeValues={**values, ":t1": N(1)})
    answer = rec.update_item(**params)
    assert answer.get("Error") == expected
    stored = rec.get_item(TableName="tbl", Key={"pk": S("c"), "sk": S("1")})["Item"]
    assert ("touched" in stored) == (expected is None)


@pytest.mark.django_db
@pytest.mark.parametrize("projection, expected", [
    # List elements picked by index keep their order, packed together.
    ("l[2][1], l[0]", {"l": {"L": [S("x"), {"L": [S("z1")]}]}}),
    ("a.b[0], a.b[2]", {"a": {"M": {"b": {"L": [N(0), N(2)]}}}}),
    ("a.b[1].c, a.b[1].d, a.b[0]", {"a": {"M": {"b": {"L": [N(0), {"M": {"c": S("deep"), "d": N(1)}}]}}}}),
    ("l[0].x", {}),
    # "Invalid ProjectionExpression: Two document paths overlap with each other"
    ("a.b, a.b[1]", "ValidationException"),
    ("a, a.e", "ValidationException"),
])
def test_aws_projections_where_moto_differs(member_key, projection, expected):
    rec = _stratus(member_key)
    rec.put_item(TableName="tbl", Item=ITEM)
    answer = rec.get_item(TableName="tbl", Key={"pk": S("c"), "sk": S("1")}, ProjectionExpression=projection)
    assert answer.get("Error", rec.raw.get("Item")) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("params, expected", [
    (dict(TableName="num", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
          ExpressionAttributeValues={":p": S("p"), ":a": N(10), ":b": N(-2)}), "ValidationException"),
    (dict(TableName="num", KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
          ExpressionAttributeValues={":p": S("p"), ":a": N(1)}), "ValidationException"),
    (dict(TableName="num", KeyConditionExpression="pk = :p AND sk > :a",
          ExpressionAttributeValues={":p": S("p"), ":a": S("x")}), "ValidationException"),
    (dict(TableName="num", KeyConditionExpression="pk = :p OR sk > :a",
          ExpressionAttributeValues={":p": S("p"), ":a": N(0)}), "ValidationException"),
    # "The table does not have the specified index", a ValidationException.
    (dict(TableName="idx", IndexName="nope", KeyConditionExpression="g = :g",
          ExpressionAttributeValues={":g": S("g")}), "ValidationException"),
])
def test_aws_query_refusals_where_moto_differs(member_key, params, expected):
    rec = _stratus(member_key)
    assert rec.query(**params).get("Error") == expected


@pytest.mark.django_db
def test_aws_writes_where_moto_differs(member_key):
    rec = _stratus(member_key)
    key = {"pk": S("r"), "sk": S("1")}
    rec.put_item(TableName="tbl", Item={**key, "n": N(5), "m": {"M": {"x": N(1), "y": N(2)}},
                                        "ss": {"SS": ["x"]}})
    # 38 significant digits at most, also for a computed number.
    assert rec.update_item(TableName="tbl", Key=key, UpdateExpression="SET n = :big + n",
                           ExpressionAttributeValues={":big": N("9" * 38)})["Error"] == "ValidationException"
    # UPDATED_OLD of a nested SET is that path only, not the whole map.
    rec.update_item(TableName="tbl", Key=key, UpdateExpression="SET m.x = :v",
                    ExpressionAttributeValues={":v": N(3)}, ReturnValues="UPDATED_OLD")
    assert rec.raw["Attributes"] == {"m": {"M": {"x": N(1)}}}
    # A map key under a set is no document path; nothing is changed.
    assert rec.update_item(TableName="tbl", Key=key, UpdateExpression="SET ss.p = :v",
                           ExpressionAttributeValues={":v": N(3)})["Error"] == "ValidationException"
    # A refused update changes nothing, also the clauses before the bad one.
    assert rec.update_item(TableName="tbl", Key=key, UpdateExpression="SET n = :v DELETE ss :l",
                           ExpressionAttributeValues={":v": N(0), ":l": {"L": [S("x")]}}
                           )["Error"] == "ValidationException"
    rec.get_item(TableName="tbl", Key=key)
    assert rec.raw["Item"]["n"] == N(5)
    # 25 requests at most in a BatchWriteItem, and TotalSegments <= 1000000.
    too_many = [{"PutRequest": {"Item": {"pk": S(f"x{i}"), "sk": S("s")}}} for i in range(26)]
    assert rec.batch_write_item(RequestItems={"tbl": too_many})["Error"] == "ValidationException"
    assert rec.scan(TableName="tbl", Segment=0, TotalSegments=1000001)["Error"] == "ValidationException"
    assert rec.scan(TableName="tbl")["Count"] == 1
