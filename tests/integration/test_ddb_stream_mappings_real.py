"""DynamoDB stream mappings on the real stack (uvicorn, Redis, a Celery
worker running the stream pollers, Docker), with boto3 for everything:
`dynamodb` writes INSERT, MODIFY and REMOVE; `lambda` maps functions to
the table's stream; what each call received is read back from the
platform's own invocation records.

- the records arrive in write order with eventName, Keys and the images
  the table's StreamViewType says (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE,
  NEW_AND_OLD_IMAGES), in the Lambda event's shape;
- FilterCriteria (eventName; a field of dynamodb.NewImage) invokes only
  for matching records;
- with FunctionResponseTypes ReportBatchItemFailures, a reported failure
  is retried from that record (the function sees it, and what followed it,
  again); without it the answer is only a result.

Outcome asserts only (every wait polls until the outcome holds)."""

import json

import pytest

from tests.integration.helpers import aws_clients, create, id_table, mapped, settle
from tests.integration.helpers import mapping_calls as calls

pytestmark = pytest.mark.integration

ACCEPT = '''
def handler(event, context):
    return {"seen": len(event["Records"])}
'''

# Reports the record whose item has fail=true as failed unless the batch
# starts with it: Lambda retries from the reported record, so the retry's
# batch starts there and goes through.
PICKY = '''
def handler(event, context):
    records = event["Records"]
    failed = [r["dynamodb"]["SequenceNumber"] for r in records[1:]
              if r["dynamodb"].get("NewImage", {}).get("fail") == {"BOOL": True}]
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed[:1]]}
'''


@pytest.fixture(scope="module")
def clients(stack):
    return aws_clients(stack, "lambda", "dynamodb")


def received(stack, mapping_id: str) -> list[dict]:
    """Every record the mapping's function got, in order, from calls that ran."""
    return [rec for c in calls(stack, mapping_id) if c["status"] == "succeeded" for rec in c["records"]]


def ids_of(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records]


VIEWS = {
    "KEYS_ONLY": (False, False),
    "NEW_IMAGE": (True, False),
    "OLD_IMAGE": (False, True),
    "NEW_AND_OLD_IMAGES": (True, True),
}


def test_insert_modify_remove_arrive_in_order_with_the_view_types_images(stack, clients):
    lam, ddb = clients["lambda"], clients["dynamodb"]
    create(lam, "ddb-views", ACCEPT)
    streams = {}
    for view in VIEWS:
        table, arn = id_table(ddb, stream=view)
        mapping = lam.create_event_source_mapping(
            FunctionName="ddb-views", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=2,
        )
        assert mapping["StartingPosition"] == "TRIM_HORIZON" and mapping["EventSourceArn"] == arn
        streams[view] = (table, arn, mapping["UUID"])
        ddb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}, "tag": {"SS": ["x"]}})
        ddb.put_item(TableName=table, Item={"id": {"S": "b"}, "n": {"N": "5"}})
        ddb.update_item(TableName=table, Key={"id": {"S": "a"}}, UpdateExpression="SET n = n + :d",
                        ExpressionAttributeValues={":d": {"N": "1.5"}})
        ddb.delete_item(TableName=table, Key={"id": {"S": "a"}})
        ddb.put_item(TableName=table, Item={"id": {"S": "b"}, "n": {"N": "6"}})  # a put that replaces

    a1 = {"id": {"S": "a"}, "n": {"N": "1"}, "tag": {"SS": ["x"]}}
    a2 = {"id": {"S": "a"}, "n": {"N": "2.5"}, "tag": {"SS": ["x"]}}
    b5, b6 = {"id": {"S": "b"}, "n": {"N": "5"}}, {"id": {"S": "b"}, "n": {"N": "6"}}
    # (eventName, key, NewImage, OldImage) as NEW_AND_OLD_IMAGES would carry them.
    changes = [("INSERT", "a", a1, None), ("INSERT", "b", b5, None), ("MODIFY", "a", a2, a1),
               ("REMOVE", "a", None, a2), ("MODIFY", "b", b6, b5)]
    for view, (with_new, with_old) in VIEWS.items():
        _, arn, mapping_id = streams[view]
        got = settle(lambda m=mapping_id: received(stack, m), lambda r: len(r) >= len(changes), timeout=180)
        assert ids_of(got) == [(name, key) for name, key, _, _ in changes], view
        assert all(c["source"] == "dynamodb" for c in calls(stack, mapping_id))
        assert all(len(c["records"]) <= 2 for c in calls(stack, mapping_id))
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
        assert seqs == sorted(set(seqs)), view
        for record, (name, key, new, old) in zip(got, changes, strict=True):
            assert record["eventSource"] == "aws:dynamodb" and record["eventVersion"] == "1.1"
            assert record["eventSourceARN"] == arn and record["awsRegion"] == "us-east-1"
            body = record["dynamodb"]
            assert body["StreamViewType"] == view
            assert body["Keys"] == {"id": {"S": key}}
            assert body["SizeBytes"] > 0 and isinstance(body["ApproximateCreationDateTime"], (int, float))
            assert body.get("NewImage") == (new if with_new else None), (view, name, key)
            assert body.get("OldImage") == (old if with_old else None), (view, name, key)
        assert lam.get_event_source_mapping(UUID=mapping_id)["LastProcessingResult"] == "OK"


def test_filter_criteria_invoke_only_for_matching_records(stack, clients):
    lam, ddb = clients["lambda"], clients["dynamodb"]
    table, arn = id_table(ddb, stream="NEW_AND_OLD_IMAGES")
    inserts = mapped(lam, "ddb-inserts", ACCEPT, arn,
                     FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]})
    vip = {"dynamodb": {"NewImage": {"kind": {"S": ["vip"]}}}}
    vips = mapped(lam, "ddb-vips", ACCEPT, arn, BatchSize=1,
                  FilterCriteria={"Filters": [{"Pattern": json.dumps(vip)}]})
    assert json.loads(vips["FilterCriteria"]["Filters"][0]["Pattern"]) == vip

    def item(key: str, kind: str) -> dict:
        return {"id": {"S": key}, "kind": {"S": kind}}

    ddb.put_item(TableName=table, Item=item("a", "basic"))      # INSERT basic
    ddb.put_item(TableName=table, Item=item("b", "vip"))        # INSERT vip
    ddb.update_item(TableName=table, Key={"id": {"S": "a"}},    # MODIFY basic -> vip
                    UpdateExpression="SET kind = :k", ExpressionAttributeValues={":k": {"S": "vip"}})
    ddb.update_item(TableName=table, Key={"id": {"S": "b"}},    # MODIFY vip -> gold
                    UpdateExpression="SET kind = :k", ExpressionAttributeValues={":k": {"S": "gold"}})
    ddb.delete_item(TableName=table, Key={"id": {"S": "a"}})    # REMOVE (a vip, in OldImage only)
    # Matches both filters; once it has arrived, every earlier record has been
    # passed over or delivered (one shard, in order).
    ddb.put_item(TableName=table, Item=item("end", "vip"))

    def ended(records):
        return ("INSERT", "end") in ids_of(records)

    got = settle(lambda: received(stack, inserts["UUID"]), ended, timeout=180)
    assert ids_of(got) == [("INSERT", "a"), ("INSERT", "b"), ("INSERT", "end")]
    got = settle(lambda: received(stack, vips["UUID"]), ended, timeout=180)
    assert ids_of(got) == [("INSERT", "b"), ("MODIFY", "a"), ("INSERT", "end")]
    assert got[1]["dynamodb"]["OldImage"]["kind"] == {"S": "basic"}
    # Filtered-out records are not calls at all.
    assert len(calls(stack, vips["UUID"])) == 3
    for mapping in (inserts, vips):
        assert all(c["status"] == "succeeded" for c in calls(stack, mapping["UUID"]))


def test_a_reported_item_failure_is_retried_from_that_record(stack, clients):
    lam, ddb = clients["lambda"], clients["dynamodb"]
    table, arn = id_table(ddb, stream="NEW_IMAGE")
    for key in ("a", "b", "c", "d", "e"):
        ddb.put_item(TableName=table, Item={"id": {"S": key}, "fail": {"BOOL": key == "c"}})
    reporting = mapped(lam, "ddb-picky", PICKY, arn, BatchSize=10,
                       FunctionResponseTypes=["ReportBatchItemFailures"])
    assert reporting["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The same function and stream without the response type: its answer is only a result.
    plain = mapped(lam, "ddb-picky-plain", PICKY, arn, BatchSize=10)

    def keys(mapping_id):
        return [[r["dynamodb"]["Keys"]["id"]["S"] for r in c["records"]] for c in calls(stack, mapping_id)
                if c["status"] == "succeeded"]

    got = settle(lambda: keys(reporting["UUID"]), lambda k: sum(k, []).count("c") >= 2, timeout=180)
    # The first batch held all five; c was reported, so Lambda retried from c.
    assert got[0] == ["a", "b", "c", "d", "e"]
    assert got[1] == ["c", "d", "e"]
    # ...and the retry went through: nothing more comes.
    ddb.put_item(TableName=table, Item={"id": {"S": "f"}, "fail": {"BOOL": False}})
    got = settle(lambda: keys(reporting["UUID"]), lambda k: "f" in sum(k, []), timeout=180)
    assert got == [["a", "b", "c", "d", "e"], ["c", "d", "e"], ["f"]]

    seen = settle(lambda: keys(plain["UUID"]), lambda k: "f" in sum(k, []), timeout=180)
    assert sum(seen, []) == ["a", "b", "c", "d", "e", "f"]
