"""Kinesis Data Streams on the real path: boto3's `kinesis` client and the
AWS CLI -> uvicorn -> the AWS front door -> rows; records past retention
removed by beat's `trim-kinesis-records` on the periodic Celery worker
(this module's stack runs it every second)."""

import base64
import json
import os

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import aws_client, running, wait_for
from tests.integration.test_aws_cli_real import Cli
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack():
    with running(Stack(STRATUS_KINESIS_TRIM_INTERVAL="1")) as s:
        yield s


@pytest.fixture(scope="module")
def kin(stack):
    return aws_client(stack, "kinesis")


def read_shard(kin, name: str, shard_id: str) -> tuple[list[dict], dict]:
    """Every record of the shard from TRIM_HORIZON, following
    NextShardIterator until a page comes back short; the last answer."""
    it = kin.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got: list[dict] = []
    while True:
        answer = kin.get_records(ShardIterator=it, Limit=3)
        got += answer["Records"]
        if len(answer["Records"]) < 3 or "NextShardIterator" not in answer:
            return got, answer
        it = answer["NextShardIterator"]


def test_records_go_in_and_come_out_exactly_through_a_reshard(kin):
    kin.create_stream(StreamName="real", ShardCount=2)
    kin.get_waiter("stream_exists").wait(StreamName="real", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    blobs = [os.urandom(n) for n in (0, 1, 1000, 300_000)] + [b"\x00\xff" * 10]
    put = [kin.put_record(StreamName="real", Data=blob, PartitionKey=f"user-{n}")
           for n, blob in enumerate(blobs)]
    batch = kin.put_records(StreamName="real", Records=[
        {"Data": b"batch-%d" % n, "PartitionKey": "same"} for n in range(7)])
    assert batch["FailedRecordCount"] == 0 and len(batch["Records"]) == 7
    assert len({r["ShardId"] for r in batch["Records"]}) == 1

    scaled = kin.update_shard_count(StreamName="real", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert (scaled["CurrentShardCount"], scaled["TargetShardCount"]) == (2, 4)
    after = kin.put_record(StreamName="real", Data=b"after the reshard", PartitionKey="same")
    assert after["ShardId"] not in ("shardId-000000000000", "shardId-000000000001")

    # The closed shards keep their records, in order, and end without a next iterator.
    wanted = {}
    for (blob, answer) in zip(blobs, put, strict=True):
        wanted.setdefault(answer["ShardId"], []).append((answer["SequenceNumber"], blob))
    for n, answer in enumerate(batch["Records"]):
        wanted.setdefault(answer["ShardId"], []).append((answer["SequenceNumber"], b"batch-%d" % n))
    for shard_id in ("shardId-000000000000", "shardId-000000000001"):
        got, last = read_shard(kin, "real", shard_id)
        assert [(r["SequenceNumber"], r["Data"]) for r in got] == sorted(wanted.get(shard_id, []))
        assert "NextShardIterator" not in last and last["ChildShards"]
    got, _ = read_shard(kin, "real", after["ShardId"])
    assert [r["Data"] for r in got] == [b"after the reshard"]

    shards = kin.list_shards(StreamName="real")["Shards"]
    assert len(shards) == 6
    assert sum("EndingSequenceNumber" in s["SequenceNumberRange"] for s in shards) == 2

    with pytest.raises(ClientError) as e:
        kin.put_record(StreamName="nowhere", Data=b"x", PartitionKey="k")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"].startswith("Stream nowhere under account ")
    with pytest.raises(ClientError) as e:
        kin.put_record(StreamName="real", Data=b"x" * (1024 * 1024 + 1), PartitionKey="k")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_the_periodic_worker_trims_records_past_retention(stack, kin):
    kin.create_stream(StreamName="aging", ShardCount=1)
    old = kin.put_record(StreamName="aging", Data=b"old", PartitionKey="k")
    kin.put_record(StreamName="aging", Data=b"new", PartitionKey="k")
    # Age the first record past the 24 hour retention, as the clock would.
    stack.shell(
        "from datetime import timedelta\nfrom django.utils import timezone\n"
        "from kinesis.models import Record\n"
        f"Record.objects.filter(id={int(old['SequenceNumber'])})"
        ".update(arrival=timezone.now() - timedelta(hours=25))"
    )

    def trimmed():
        out = stack.shell(
            "from kinesis.models import Record\n"
            "print(list(Record.objects.filter(shard__stream__name='aging').values_list('data', flat=True)))"
        )
        return "b'new'" in out and "b'old'" not in out

    wait_for(trimmed, timeout=60, interval=1)


def test_the_aws_cli_speaks_kinesis(stack, tmp_path):
    aws = Cli(stack, tmp_path)
    aws("kinesis", "create-stream", "--stream-name", "cli-stream", "--shard-count", "1")
    put = aws("kinesis", "put-record", "--stream-name", "cli-stream", "--partition-key", "k",
              "--data", "hello from the cli")
    assert put["ShardId"] == "shardId-000000000000" and len(put["SequenceNumber"]) == 56
    summary = aws("kinesis", "describe-stream-summary", "--stream-name", "cli-stream")
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 1
    it = aws("kinesis", "get-shard-iterator", "--stream-name", "cli-stream", "--shard-id", put["ShardId"],
             "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    records = aws("kinesis", "get-records", "--shard-iterator", it)["Records"]
    assert [base64.b64decode(r["Data"]) for r in records] == [b"hello from the cli"]
    aws.fails("kinesis", "describe-stream", "--stream-name", "no-such-stream",
              code="ResourceNotFoundException")


def test_writes_during_reshards_land_in_order_in_open_shards(stack):
    """Writers and a resharder at once, through the web server's threads:
    every record is read back once, from a shard whose hash key range holds
    its partition key's MD5 and whose sequence number range holds it, and
    each writer's records of one key come back in the order it put them."""
    import hashlib
    import threading

    clients = [aws_client(stack, "kinesis") for _ in range(4)]
    clients[0].create_stream(StreamName="busy", ShardCount=2)
    put: dict = {}
    failures: list = []

    def writer(n: int) -> None:
        for i in range(30):
            try:
                answer = clients[n].put_record(StreamName="busy", Data=b"%d-%d" % (n, i),
                                               PartitionKey=f"w{n}")
            except Exception as e:  # noqa: BLE001 - every failure is reported below
                failures.append(repr(e))
                return
            put[(n, i)] = answer

    def resharder() -> None:
        for target in (4, 2, 3):
            try:
                clients[3].update_shard_count(StreamName="busy", TargetShardCount=target,
                                              ScalingType="UNIFORM_SCALING")
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=resharder))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    kin = clients[0]
    shards = {s["ShardId"]: s for s in kin.list_shards(StreamName="busy")["Shards"]}
    assert len(shards) == 2 + 4 + 2 + 3
    seen = {}
    for shard_id, shard in shards.items():
        low, high = int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])
        first = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
        last = int(shard["SequenceNumberRange"].get("EndingSequenceNumber", "9" * 56))
        got, _ = read_shard(kin, "busy", shard_id)
        for record in got:
            number = int.from_bytes(hashlib.md5(record["PartitionKey"].encode()).digest(), "big")
            assert low <= number <= high
            assert first <= int(record["SequenceNumber"]) <= last
            seen[record["Data"]] = (shard_id, record["SequenceNumber"])
    assert len(seen) == 90
    for (n, i), answer in put.items():
        assert seen[b"%d-%d" % (n, i)] == (answer["ShardId"], answer["SequenceNumber"])
    for n in range(3):
        numbers = [int(put[(n, i)]["SequenceNumber"]) for i in range(30)]
        assert numbers == sorted(numbers)


def test_the_aws_cli_manages_event_source_mappings(stack, tmp_path):
    """`aws lambda ...-event-source-mapping` end to end: create on a
    Kinesis stream, get, list by function and by source, update (disable,
    batch size, filters), delete; a second mapping of the same pair is
    refused in Lambda's words."""
    from tests.integration.helpers import create

    aws = Cli(stack, tmp_path)
    create(stack.lambda_client(), "cli-mapped", "def handler(event, context):\n    return 1\n")
    aws("kinesis", "create-stream", "--stream-name", "cli-mapped-stream", "--shard-count", "1")
    arn = aws("kinesis", "describe-stream-summary", "--stream-name", "cli-mapped-stream")[
        "StreamDescriptionSummary"]["StreamARN"]
    made = aws("lambda", "create-event-source-mapping", "--function-name", "cli-mapped",
               "--event-source-arn", arn, "--starting-position", "TRIM_HORIZON", "--batch-size", "50",
               "--bisect-batch-on-function-error", "--maximum-retry-attempts", "2")
    assert made["State"] == "Creating" and made["BatchSize"] == 50 and made["EventSourceArn"] == arn
    assert made["BisectBatchOnFunctionError"] is True and made["MaximumRetryAttempts"] == 2
    uuid_ = made["UUID"]
    got = aws("lambda", "get-event-source-mapping", "--uuid", uuid_)
    assert got["FunctionArn"].endswith(":function:cli-mapped")
    by_function = aws("lambda", "list-event-source-mappings", "--function-name", "cli-mapped")
    by_source = aws("lambda", "list-event-source-mappings", "--event-source-arn", arn)
    assert [m["UUID"] for m in by_function["EventSourceMappings"]] == [uuid_]
    assert [m["UUID"] for m in by_source["EventSourceMappings"]] == [uuid_]

    again = aws.run("lambda", "create-event-source-mapping", "--function-name", "cli-mapped",
                    "--event-source-arn", arn, "--starting-position", "LATEST")
    assert again.returncode != 0 and "ResourceConflictException" in again.stderr

    pattern = json.dumps({"data": {"kind": ["order"]}})
    updated = aws("lambda", "update-event-source-mapping", "--uuid", uuid_, "--no-enabled",
                  "--batch-size", "10",
                  "--filter-criteria", json.dumps({"Filters": [{"Pattern": pattern}]}))
    assert updated["State"] in ("Disabling", "Disabled") and updated["BatchSize"] == 10
    assert json.loads(updated["FilterCriteria"]["Filters"][0]["Pattern"]) == {"data": {"kind": ["order"]}}
    assert aws("lambda", "get-event-source-mapping", "--uuid", uuid_)["State"] == "Disabled"

    # Lambda: MaximumRecordAgeInSeconds is -1 or 60..604800 (the model allows it; the service refuses).
    bad = aws.run("lambda", "update-event-source-mapping", "--uuid", uuid_,
                  "--maximum-record-age-in-seconds", "30")
    assert bad.returncode != 0 and "InvalidParameterValueException" in bad.stderr
    assert aws("lambda", "get-event-source-mapping", "--uuid", uuid_)["BatchSize"] == 10

    assert aws("lambda", "delete-event-source-mapping", "--uuid", uuid_)["State"] == "Deleting"
    gone = aws.run("lambda", "get-event-source-mapping", "--uuid", uuid_)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
