"""Query and Scan through boto3's `dynamodb` client against the production
ASGI app: key conditions on the table and on indexes, order, pages
(Limit, LastEvaluatedKey, the 1 MB page), filters, projections, Select
COUNT, segments; and that a query by key reads an index range, never the
table."""

import pytest
from botocore.exceptions import ClientError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tables import reads
from tests.unit.aws_clients import code_of, message_of
from tests.unit.ddb_support import make_table


@pytest.fixture
def table(ddb):
    make_table(
        ddb,
        sort="n",
        sort_type="N",
        more_definitions=[
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "l", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "n", "KeyType": "RANGE"},
                ],
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-l",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
            }
        ],
    )
    for pk in ("a", "b"):
        for n in ("-10", "-1.5", "0", "2", "10", "100"):
            item = {"pk": {"S": pk}, "n": {"N": n}, "v": {"S": f"{pk}{n}"}, "l": {"S": f"x{n}"}}
            if n != "0":
                item["g"] = {"S": "even" if n in ("-10", "2", "10", "100") else "odd"}
            ddb.put_item(TableName="things", Item=item)
    return "things"


def numbers(page) -> list[str]:
    return [i["n"]["N"] for i in page["Items"]]


def query(ddb, condition="pk = :p", values=None, **extra):
    return ddb.query(
        TableName="things",
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values or {":p": {"S": "a"}},
        **extra,
    )


def test_it_queries_a_partition_in_sort_key_order(ddb, table):
    assert numbers(query(ddb)) == ["-10", "-1.5", "0", "2", "10", "100"]
    assert numbers(query(ddb, ScanIndexForward=False)) == ["100", "10", "2", "0", "-1.5", "-10"]


@pytest.mark.parametrize(
    "condition, values, expected",
    [
        ("pk = :p AND n > :x", {":x": {"N": "0"}}, ["2", "10", "100"]),
        ("pk = :p AND n <= :x", {":x": {"N": "-1.5"}}, ["-10", "-1.5"]),
        ("pk = :p AND n BETWEEN :x AND :y", {":x": {"N": "-2"}, ":y": {"N": "10"}}, ["-1.5", "0", "2", "10"]),
        ("pk = :p AND n = :x", {":x": {"N": "2.0"}}, ["2"]),
    ],
)
def test_it_queries_sort_key_ranges(ddb, table, condition, values, expected):
    assert numbers(query(ddb, condition, {":p": {"S": "a"}, **values})) == expected


def test_begins_with_on_a_string_sort_key(ddb):
    make_table(ddb, "words")
    for word in ("app", "apple", "apricot", "banana", "ap"):
        ddb.put_item(TableName="words", Item={"pk": {"S": "w"}, "sk": {"S": word}})
    found = ddb.query(
        TableName="words",
        KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": {"S": "w"}, ":b": {"S": "app"}},
    )
    assert [i["sk"]["S"] for i in found["Items"]] == ["app", "apple"]


def test_it_pages_with_limit_and_last_evaluated_key(ddb, table):
    seen, start = [], None
    while True:
        page = query(ddb, Limit=4, **({"ExclusiveStartKey": start} if start else {}))
        seen += numbers(page)
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"pk", "n"}
    assert seen == ["-10", "-1.5", "0", "2", "10", "100"]
    paged = ddb.get_paginator("query").paginate(
        TableName="things",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "b"}},
        ScanIndexForward=False,
        PaginationConfig={"PageSize": 2},
    )
    assert [n for page in paged for n in numbers(page)] == ["100", "10", "2", "0", "-1.5", "-10"]


def test_filters_count_after_the_limit(ddb, table):
    page = query(ddb, Limit=3, FilterExpression="v <> :z", values={":p": {"S": "a"}, ":z": {"S": "a-10"}})
    assert numbers(page) == ["-1.5", "0"]
    assert page["Count"] == 2 and page["ScannedCount"] == 3
    assert "LastEvaluatedKey" in page
    counted = query(ddb, Select="COUNT")
    assert counted["Count"] == 6 and "Items" not in counted


def test_a_query_filter_may_not_read_the_queried_keys(ddb, table):
    """DynamoDB refuses a Query FilterExpression on the queried table's or
    index's key attributes; Scan's filter may read them."""
    for name in ("pk", "n"):
        with pytest.raises(ClientError) as e:
            query(ddb, FilterExpression=f"attribute_exists({name})")
        assert code_of(e) == "ValidationException"
        assert message_of(e) == (
            f"Filter Expression can only contain non-primary key attributes: Primary key attribute: {name}"
        )
    with pytest.raises(ClientError) as e:
        ddb.query(
            TableName="things",
            IndexName="by-l",
            KeyConditionExpression="pk = :p",
            FilterExpression="#l = :x",
            ExpressionAttributeNames={"#l": "l"},
            ExpressionAttributeValues={":p": {"S": "a"}, ":x": {"S": "x2"}},
        )
    assert message_of(e).endswith("Primary key attribute: l")
    # On the local index, the table's sort key is an ordinary attribute.
    page = ddb.query(
        TableName="things",
        IndexName="by-l",
        KeyConditionExpression="pk = :p",
        FilterExpression="n = :n",
        ExpressionAttributeValues={":p": {"S": "a"}, ":n": {"N": "2"}},
    )
    assert numbers(page) == ["2"]
    scanned = ddb.scan(
        TableName="things", FilterExpression="n = :n", ExpressionAttributeValues={":n": {"N": "2"}}
    )
    assert scanned["Count"] == 2


def test_projection_on_query(ddb, table):
    page = query(ddb, ProjectionExpression="v")
    assert page["Items"][0] == {"v": {"S": "a-10"}}


def test_it_queries_a_global_index_sparsely_with_its_projection(ddb, table):
    page = ddb.query(
        TableName="things",
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "even"}},
    )
    # Both partitions' items, by the index's sort key; KEYS_ONLY holds the keys.
    assert numbers(page) == ["-10", "-10", "2", "2", "10", "10", "100", "100"]
    assert set(page["Items"][0]) == {"pk", "n", "g"}
    seen, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(
            TableName="things",
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "even"}},
            Limit=3,
            **extra,
        )
        seen += [(i["n"]["N"], i["pk"]["S"]) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        assert set(start) == {"pk", "n", "g"}
    assert len(seen) == 8 and len(set(seen)) == 8
    with pytest.raises(ClientError) as e:
        ddb.query(
            TableName="things",
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "even"}},
            ConsistentRead=True,
        )
    assert message_of(e) == "Consistent reads are not supported on global secondary indexes"


def test_it_queries_a_local_index(ddb, table):
    page = ddb.query(
        TableName="things",
        IndexName="by-l",
        KeyConditionExpression="pk = :p AND begins_with(l, :x)",
        ExpressionAttributeValues={":p": {"S": "b"}, ":x": {"S": "x1"}},
    )
    assert sorted(i["l"]["S"] for i in page["Items"]) == ["x10", "x100"]
    assert "v" in page["Items"][0]


def test_query_errors(ddb, table):
    with pytest.raises(ClientError) as e:
        query(ddb, "n = :p", {":p": {"N": "1"}})
    assert message_of(e) == "Query condition missed key schema element: pk"
    with pytest.raises(ClientError) as e:
        query(ddb, values={":p": {"N": "1"}})
    assert (
        message_of(e)
        == "One or more parameter values were invalid: Condition parameter type does not match schema type"
    )
    with pytest.raises(ClientError) as e:
        ddb.query(
            TableName="things",
            IndexName="nope",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "a"}},
        )
    assert message_of(e) == "The table does not have the specified index: nope"
    with pytest.raises(ClientError) as e:
        query(ddb, ExclusiveStartKey={"pk": {"S": "a"}})
    assert code_of(e) == "ValidationException"
    assert message_of(e).startswith("The provided starting key is invalid")


def test_a_key_query_reads_one_index_range(ddb, table, monkeypatch):
    """The query's SQL names the partition's digest and is bounded by the
    sort key range: no statement reads the table's items without them."""
    monkeypatch.setattr(reads, "CHUNK", 2)
    with CaptureQueriesContext(connection) as captured:
        page = query(ddb, "pk = :p AND n > :x", {":p": {"S": "a"}, ":x": {"N": "0"}})
    assert numbers(page) == ["2", "10", "100"]
    item_reads = [q["sql"] for q in captured.captured_queries if 'FROM "tables_item"' in q["sql"]]
    assert len(item_reads) == 2  # chunks of 2 rows: 2 + 1
    for sql in item_reads:
        assert '"tables_item"."hash_digest" =' in sql and '"tables_item"."sort_key" >' in sql
        assert "LIMIT 2" in sql
    if connection.vendor == "sqlite":  # PostgreSQL's planner may scan a table this small
        plan = _plan(item_reads[0])
        assert "SEARCH tables_item USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
        assert "SCAN" not in plan, plan


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


def test_it_scans_everything_in_pages_and_segments(ddb, table):
    paged = ddb.get_paginator("scan").paginate(TableName="things", PaginationConfig={"PageSize": 5})
    every = [(i["pk"]["S"], i["n"]["N"]) for page in paged for i in page["Items"]]
    assert len(every) == 12 and len(set(every)) == 12
    by_segment = []
    for segment in range(3):
        found = ddb.scan(TableName="things", Segment=segment, TotalSegments=3)
        by_segment += [(i["pk"]["S"], i["n"]["N"]) for i in found["Items"]]
    assert sorted(by_segment) == sorted(every)
    filtered = ddb.scan(
        TableName="things",
        FilterExpression="begins_with(v, :b)",
        ExpressionAttributeValues={":b": {"S": "b1"}},
    )
    assert sorted(i["v"]["S"] for i in filtered["Items"]) == ["b10", "b100"]
    assert filtered["ScannedCount"] == 12
    index_scan = ddb.scan(TableName="things", IndexName="by-g")
    assert index_scan["Count"] == 10
    with pytest.raises(ClientError) as e:
        ddb.scan(TableName="things", Segment=3, TotalSegments=3)
    assert message_of(e) == (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 3 is not less than TotalSegments: 3"
    )


def test_a_page_stops_at_one_megabyte(ddb):
    make_table(ddb, "big", sort="n", sort_type="N")
    blob = "x" * (300 * 1024)
    for n in range(5):
        ddb.put_item(TableName="big", Item={"pk": {"S": "p"}, "n": {"N": str(n)}, "blob": {"S": blob}})
    first = ddb.query(
        TableName="big", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )
    assert first["Count"] == 4 and first["LastEvaluatedKey"] == {"pk": {"S": "p"}, "n": {"N": "3"}}
    rest = ddb.query(
        TableName="big",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ExclusiveStartKey=first["LastEvaluatedKey"],
    )
    assert rest["Count"] == 1 and "LastEvaluatedKey" not in rest


def test_a_keys_only_local_index_reads_whole_items_when_asked(ddb):
    make_table(
        ddb,
        "notes",
        more_definitions=[{"AttributeName": "when", "AttributeType": "N"}],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-when",
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "when", "KeyType": "RANGE"},
                ],
            }
        ],
    )
    ddb.put_item(
        TableName="notes", Item={"pk": {"S": "p"}, "sk": {"S": "a"}, "when": {"N": "2"}, "x": {"S": "1"}}
    )
    common = dict(
        TableName="notes",
        IndexName="by-when",
        KeyConditionExpression="pk = :p AND #w > :z",
        ExpressionAttributeNames={"#w": "when"},
        ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "0"}},
    )
    assert set(ddb.query(**common)["Items"][0]) == {"pk", "sk", "when"}
    assert ddb.query(**common, Select="ALL_ATTRIBUTES")["Items"][0]["x"] == {"S": "1"}


def test_a_malformed_start_key_is_a_validation_error(ddb, table):
    for start in ({"pk": {}, "n": {"N": "1"}}, {"pk": {"S": "a"}, "n": {"S": "1"}}, {"pk": {"S": "a"}}):
        with pytest.raises(ClientError) as e:
            query(ddb, ExclusiveStartKey=start)
        assert code_of(e) == "ValidationException", start
        with pytest.raises(ClientError) as e:
            ddb.query(
                TableName="things",
                IndexName="by-g",
                KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"S": "even"}},
                ExclusiveStartKey={**start, "g": {}},
            )
        assert code_of(e) == "ValidationException", start
