"""Kinesis stream mappings on the real stack (uvicorn, Redis, a Celery
worker running the stream pollers, Docker): boto3's kinesis client writes,
boto3's lambda client maps a function, and what each call saw is read
back from the platform's own invocation records.

- records reach the function in order per shard, each batch from one shard;
- BisectBatchOnFunctionError + MaximumRetryAttempts isolate a bad record,
  whose failure record (naming the shard and the sequence range) reaches
  the OnFailure SQS queue, and every other record is delivered;
- a worker killed mid-batch loses no record and breaks no order: the lease
  expires, the restarted worker resumes from the checkpoint;
- FilterCriteria keeps records from the function, and a reported batch
  item failure is retried from that record;
- a DynamoDB stream's INSERT, MODIFY and REMOVE reach the function in order;
- a Redis restart loses nothing;
- with two workers the shards spread over both, and the dead one's move
  to the survivor;
- a stream deleted and created again under its name is delivered (old
  checkpoints forgotten), with the function's role as invokeIdentityArn.

Outcome asserts only (no timing)."""

import base64
import json
import uuid

import pytest

from tests.integration.helpers import (
    aws_clients, id_table, mapped, mapping_calls, running, settle, wait_for,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration

RECORDER = '''
import base64

def handler(event, context):
    bad = [r for r in event["Records"] if base64.b64decode(r["kinesis"]["data"]) == b"poison"]
    if bad:
        raise ValueError("poison record " + bad[0]["kinesis"]["sequenceNumber"])
    return {"seen": len(event["Records"])}
'''

ACCEPT = '''
def handler(event, context):
    return {"seen": len(event["Records"])}
'''

# Reports record n=2 failed unless the batch starts with it, so the retry
# (from n=2, Lambda's rule) succeeds.
REPORTER = '''
import base64, json

def handler(event, context):
    records = event["Records"]
    docs = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in records]
    for record, doc in zip(records, docs):
        if doc["n"] == 2 and docs[0]["n"] != 2:
            return {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
    return {"batchItemFailures": []}
'''

SLOW = '''
import time

def handler(event, context):
    time.sleep(1.5)
    return {"seen": len(event["Records"])}
'''


@pytest.fixture(scope="module")
def stack():
    # Short leases: a killed worker's shards move within seconds.
    with running(Stack(STRATUS_SHARD_LEASE_S="6", STRATUS_HEARTBEAT="1")) as s:
        yield s


@pytest.fixture(scope="module")
def clients(stack):
    return aws_clients(stack, "lambda", "kinesis", "sqs", "dynamodb")


def deliveries(stack, mapping_id: str) -> list[dict]:
    """The calls of a mapping, in the order they were handed over:
    [{"status", "source", "records": [(shard, seq, data)]}]."""
    return [
        {**call, "records": [
            (r["eventID"].split(":")[0], int(r["kinesis"]["sequenceNumber"]),
             base64.b64decode(r["kinesis"]["data"]).decode())
            for r in call["records"]
        ]}
        for call in mapping_calls(stack, mapping_id)
    ]


def deliveries_when(stack, mapping_id: str, done, timeout: float) -> list[dict]:
    """deliveries() once `done([(shard, seq, data)] of the succeeded calls,
    in order)` holds, or at `timeout` (settle)."""
    return settle(
        lambda: deliveries(stack, mapping_id),
        lambda calls: done([r for c in calls if c["status"] == "succeeded" for r in c["records"]]),
        timeout=timeout,
    )


def put_many(kinesis, stream: str, count: int, prefix: str) -> dict[str, list[int]]:
    """`count` records over several partition keys: {shard id: [seq, ...]} in put order."""
    entries = [{"Data": f"{prefix}{i}".encode(), "PartitionKey": f"key-{i % 7}"} for i in range(count)]
    answer = kinesis.put_records(StreamName=stream, Records=entries)
    assert answer["FailedRecordCount"] == 0
    shards: dict[str, list[int]] = {}
    for result in answer["Records"]:
        shards.setdefault(result["ShardId"], []).append(int(result["SequenceNumber"]))
    return shards


def new_stream(kinesis, shards: int) -> tuple[str, str]:
    name = f"s{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return name, arn


def first_seen_order(calls: list[dict]) -> dict[str, list[int]]:
    """Per shard, the sequence numbers in the order first delivered."""
    seen: dict[str, list[int]] = {}
    for call in calls:
        for shard, seq, _ in call["records"]:
            if seq not in seen.setdefault(shard, []):
                seen[shard].append(seq)
    return seen


def test_records_reach_the_function_in_order_per_shard(stack, clients):
    lam, kinesis = clients["lambda"], clients["kinesis"]
    name, arn = new_stream(kinesis, 2)
    mapping = mapped(lam, "ordered", RECORDER, arn, BatchSize=5)
    put = put_many(kinesis, name, 40, "r")
    assert len(put) == 2, "both shards got records"
    calls = deliveries_when(stack, mapping["UUID"], lambda got: len(got) >= 40, timeout=180)
    ok = [c for c in calls if c["status"] == "succeeded"]
    assert all(c["source"] == "kinesis" for c in calls)
    for call in ok:
        assert 1 <= len(call["records"]) <= 5
        assert len({shard for shard, _, _ in call["records"]}) == 1
    # Every record exactly once, each shard's in the order it was put.
    for shard, seqs in put.items():
        got = [seq for c in ok for s, seq, _ in c["records"] if s == shard]
        assert got == seqs
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK",
             timeout=30)


def test_a_bad_record_is_isolated_and_its_failure_record_reaches_the_queue(stack, clients):
    lam, kinesis, sqs = clients["lambda"], clients["kinesis"], clients["sqs"]
    name, arn = new_stream(kinesis, 1)
    queue_url = sqs.create_queue(QueueName=f"dlq{uuid.uuid4().hex[:6]}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    queue_arn = attributes["Attributes"]["QueueArn"]
    mapping = mapped(
        lam, "bisected", RECORDER, arn, BatchSize=8,
        MaximumBatchingWindowInSeconds=2, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    data = ["a", "b", "c", "d", "e", "poison", "g", "h"]
    answer = kinesis.put_records(StreamName=name, Records=[
        {"Data": d.encode(), "PartitionKey": "one"} for d in data
    ])
    seqs = [r["SequenceNumber"] for r in answer["Records"]]
    shard_id = answer["Records"][0]["ShardId"]

    def received():
        got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5, MaxNumberOfMessages=10)
        return got.get("Messages")

    messages = wait_for(received, timeout=180)
    body = json.loads(messages[0]["Body"])
    info = body["KinesisBatchInfo"]
    assert info["shardId"] == shard_id and info["streamArn"] == arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seqs[5]
    assert info["batchSize"] == 1
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["functionArn"].endswith(":function:bisected")
    assert body["responseContext"]["functionError"] == "Unhandled"
    calls = deliveries_when(stack, mapping["UUID"], lambda got: len(got) >= 7, timeout=60)
    delivered = [d for c in calls if c["status"] == "succeeded" for _, _, d in c["records"]]
    assert delivered == [d for d in data if d != "poison"]
    assert any(c["status"] == "failed" and [d for _, _, d in c["records"]] == ["poison"] for c in calls)


def test_filter_criteria_and_batch_item_failures(stack, clients):
    lam, kinesis = clients["lambda"], clients["kinesis"]
    name, arn = new_stream(kinesis, 1)
    mapping = mapped(
        lam, "reporter", REPORTER, arn, BatchSize=10,
        MaximumBatchingWindowInSeconds=1, FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]},
    )
    kinds = ["keep", "drop", "keep", "drop", "keep", "keep"]
    kinesis.put_records(StreamName=name, Records=[
        {"Data": json.dumps({"kind": k, "n": n}).encode(), "PartitionKey": "p"} for n, k in enumerate(kinds)
    ])
    calls = settle(
        lambda: deliveries(stack, mapping["UUID"]),
        lambda c: len(c) >= 2 and json.loads(c[-1]["records"][-1][2])["n"] == 5,
        timeout=180,
    )
    seen = [[json.loads(d)["n"] for _, _, d in c["records"]] for c in calls]
    # The drops never reach the function; the retry starts at the failed record.
    assert seen == [[0, 2, 4, 5], [2, 4, 5]]
    assert all(c["status"] == "succeeded" for c in calls)


@pytest.mark.chaos
def test_a_worker_killed_mid_batch_loses_nothing_and_keeps_order(stack, clients):
    lam, kinesis = clients["lambda"], clients["kinesis"]
    name, arn = new_stream(kinesis, 2)
    mapping = mapped(lam, "slow", SLOW, arn, BatchSize=3)
    put = put_many(kinesis, name, 24, "k")
    # Kill the worker once some batches finished and others are running.
    settle(lambda: deliveries(stack, mapping["UUID"]),
           lambda c: sum(1 for x in c if x["status"] == "succeeded") >= 2, timeout=120)
    stack.kill("worker")
    stack.revive("worker")
    stack.wait_for_worker()
    wanted = {seq for seqs in put.values() for seq in seqs}
    calls = deliveries_when(stack, mapping["UUID"], lambda got: wanted <= {seq for _, seq, _ in got},
                            timeout=240)
    ok = [c for c in calls if c["status"] == "succeeded"]
    for shard, seqs in put.items():
        # Nothing lost; first deliveries in put order (a batch cut short by
        # the kill may come again: at-least-once).
        assert first_seen_order(ok)[shard] == seqs


def test_a_dynamodb_stream_reaches_the_function_insert_modify_remove_in_order(stack, clients):
    lam, ddb = clients["lambda"], clients["dynamodb"]
    table, stream_arn = id_table(ddb, stream="NEW_AND_OLD_IMAGES")
    mapping = mapped(lam, "changes", ACCEPT, stream_arn, BatchSize=2)
    ddb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "b"}, "n": {"N": "1"}})
    ddb.update_item(TableName=table, Key={"id": {"S": "a"}}, UpdateExpression="SET n = n + :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "b"}, "n": {"N": "1"}})  # no change: no record
    ddb.delete_item(TableName=table, Key={"id": {"S": "b"}})

    def events():
        rows = [c for c in mapping_calls(stack, mapping["UUID"]) if c["status"] == "succeeded"]
        assert all(c["source"] == "dynamodb" for c in rows)
        return [r for c in rows for r in c["records"]]

    got = settle(events, lambda records: len(records) >= 4, timeout=180)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in got] == [
        ("INSERT", "a"), ("INSERT", "b"), ("MODIFY", "a"), ("REMOVE", "b"),
    ]
    modify = got[2]
    assert modify["eventSource"] == "aws:dynamodb" and modify["eventSourceARN"] == stream_arn
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in got]
    assert seqs == sorted(seqs)


def test_after_a_reshard_the_parent_is_finished_before_its_children(stack, clients):
    lam, kinesis = clients["lambda"], clients["kinesis"]
    name, arn = new_stream(kinesis, 1)
    mapping = mapped(lam, "resharded", ACCEPT, arn, BatchSize=4)
    before = put_many(kinesis, name, 20, "before")
    kinesis.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    wait_for(lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
             ["StreamStatus"] == "ACTIVE", timeout=30)
    after = put_many(kinesis, name, 20, "after")
    assert set(after).isdisjoint(before), "the new records went to the children"
    calls = deliveries_when(stack, mapping["UUID"], lambda got: len(got) >= 40, timeout=180)
    data = [d for c in calls if c["status"] == "succeeded" for _, _, d in c["records"]]
    assert sorted(data) == sorted([f"before{i}" for i in range(20)] + [f"after{i}" for i in range(20)])
    # The parent's records all come before any child's (by first delivery),
    # and each key's records in the order they were put.
    assert all(d.startswith("before") for d in data[:20])
    for key in range(7):
        mine = [d for d in data if int(d.removeprefix("before").removeprefix("after")) % 7 == key]
        assert mine == [d for d in [f"before{i}" for i in range(20)] + [f"after{i}" for i in range(20)]
                        if int(d.removeprefix("before").removeprefix("after")) % 7 == key]


def test_a_stream_deleted_and_created_again_is_delivered_with_the_functions_role(stack, clients):
    lam, kinesis = clients["lambda"], clients["kinesis"]
    name, arn = new_stream(kinesis, 1)
    mapping = mapped(lam, "recreated", ACCEPT, arn, BatchSize=10)
    put_many(kinesis, name, 3, "old")
    # The first shard closes and its checkpoint ends `finished`: the new
    # stream's shardId-000000000000 must not inherit it.
    kinesis.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    deliveries_when(stack, mapping["UUID"], lambda got: len(got) >= 3, timeout=120)
    kinesis.delete_stream(StreamName=name)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    put_many(kinesis, name, 5, "new")
    calls = deliveries_when(stack, mapping["UUID"], lambda got: len(got) >= 8, timeout=120)
    data = [d for c in calls if c["status"] == "succeeded" for _, _, d in c["records"]]
    assert sorted(data) == sorted([f"old{i}" for i in range(3)] + [f"new{i}" for i in range(5)])
    roles = {r["invokeIdentityArn"] for c in mapping_calls(stack, mapping["UUID"]) for r in c["records"]}
    assert roles == {"arn:aws:iam::000000000000:role/lambda-role"}


@pytest.mark.chaos
def test_a_redis_restart_loses_nothing_and_keeps_order(stack, clients):
    lam, kinesis = clients["lambda"], clients["kinesis"]
    name, arn = new_stream(kinesis, 2)
    mapping = mapped(lam, "through-redis", ACCEPT, arn, BatchSize=3)
    first = put_many(kinesis, name, 12, "one")
    deliveries_when(stack, mapping["UUID"], lambda got: len(got) >= 12, timeout=120)
    stack.restart("redis", down_s=1.0)
    second = put_many(kinesis, name, 12, "two")
    wanted = {seq for part in (first, second) for seqs in part.values() for seq in seqs}
    calls = deliveries_when(stack, mapping["UUID"], lambda got: wanted <= {seq for _, seq, _ in got},
                            timeout=180)
    ok = [c for c in calls if c["status"] == "succeeded"]
    for shard in set(first) | set(second):
        assert first_seen_order(ok)[shard] == first.get(shard, []) + second.get(shard, [])


# Last in the module: it adds a worker to the module's stack and kills it.
@pytest.mark.chaos
def test_shards_spread_over_two_workers_and_move_when_one_dies(stack, clients):
    import redis

    lam, kinesis = clients["lambda"], clients["kinesis"]
    client = redis.Redis(port=stack.redis_port)
    # This mapping's shards alone are to be shared.
    for other in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.delete_event_source_mapping(UUID=other["UUID"])
    wait_for(lambda: not client.keys(f"{stack.instance}:shard-lease:*"), timeout=60)
    # A second worker process (node-b, on the same Docker engine).
    second = stack.start_worker(node="node-b")
    stack.wait_for_worker(second)
    wait_for(lambda: client.zcard(f"{stack.instance}:stream-pollers") >= 2, timeout=60)
    name, arn = new_stream(kinesis, 4)
    mapping = mapped(lam, "spread", SLOW, arn, BatchSize=2)
    pattern = f"{stack.instance}:shard-lease:{mapping['UUID']}:*"

    def holders():
        """The node of each shard's lease holder (worker ids are <node>:<pid>:<random>)."""
        values = [client.get(key) for key in client.keys(pattern)]
        return [v.decode().split(":")[0] for v in values if v is not None]

    # Both workers read: two shards each (their fair share), once the first
    # to start has given back what it took beyond its share.
    wait_for(lambda: sorted(holders()) == ["node-a", "node-a", "node-b", "node-b"], timeout=90)
    put = put_many(kinesis, name, 32, "w")
    settle(lambda: deliveries(stack, mapping["UUID"]),
           lambda c: sum(1 for x in c if x["status"] == "succeeded") >= 3, timeout=120)
    stack.kill(second)
    # The survivor takes the dead worker's shards once their leases expire.
    wait_for(lambda: sorted(holders()) == ["node-a"] * 4, timeout=120)
    wanted = {seq for seqs in put.values() for seq in seqs}
    calls = deliveries_when(stack, mapping["UUID"], lambda got: wanted <= {seq for _, seq, _ in got},
                            timeout=240)
    ok = [c for c in calls if c["status"] == "succeeded"]
    for shard, seqs in put.items():
        assert first_seen_order(ok)[shard] == seqs
