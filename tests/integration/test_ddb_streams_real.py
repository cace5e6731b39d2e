"""DynamoDB Streams on the real stack (uvicorn, Redis, Celery beat and the
periodic worker): stream records written in the stack's database by
tables.streams.record_change (as DynamoDB's writes do, inside their
transaction), read with boto3's `dynamodbstreams` client and the AWS CLI
(`aws dynamodbstreams ...`), and trimmed past 24 hours by the
`tables.trim_streams` task on the periodic worker; and boto3's `dynamodb`
writes read back through the stream."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import aws_client, aws_clients, id_table, wait_for
from tests.integration.test_aws_cli_real import Cli

pytestmark = pytest.mark.integration

WRITE = '''
import json
from django.db import transaction
from functions.models import Team
from tables import streams
from tables.models import Table
team = Team.objects.get(name="default")
table, _ = Table.objects.get_or_create(team=team, name={name!r}, defaults=dict(
    key_schema=[{{"AttributeName": "id", "KeyType": "HASH"}}],
    attribute_definitions=[{{"AttributeName": "id", "AttributeType": "S"}}],
    stream_view_type="NEW_AND_OLD_IMAGES", stream_label="2026-11-30T10:00:00.000"))
ids = []
for old, new in json.loads({changes!r}):
    with transaction.atomic():
        record = streams.record_change(table, {{"id": (old or new)["id"]}}, old, new)
    ids.append(record.id if record else None)
print(json.dumps({{"arn": table.stream_arn, "ids": ids}}))
'''


def write(stack, name: str, changes: list) -> dict:
    out = stack.shell(WRITE.format(name=name, changes=json.dumps(changes)))
    return json.loads(out.strip().splitlines()[-1])


def item(key: str, **more) -> dict:
    return {"id": {"S": key}, **{k: {"S": v} for k, v in more.items()}}


def test_boto3_reads_a_stream_in_order_with_its_images(stack):
    one, two = item("a", note="one"), item("a", note="two")
    written = write(stack, "real-orders", [[None, one], [one, two], [two, two], [two, None]])
    assert written["ids"][2] is None  # a change that changes nothing emits nothing
    client = aws_client(stack, "dynamodbstreams")
    streams = client.list_streams(TableName="real-orders")["Streams"]
    assert [s["StreamArn"] for s in streams] == [written["arn"]]
    described = client.describe_stream(StreamArn=written["arn"])["StreamDescription"]
    assert described["StreamStatus"] == "ENABLED" and described["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    shard = described["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamArn=written["arn"], ShardId=shard,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    answer = client.get_records(ShardIterator=iterator, Limit=2)
    records = answer["Records"] + client.get_records(ShardIterator=answer["NextShardIterator"])["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert [r["dynamodb"]["SequenceNumber"] for r in records] == [
        str(i).zfill(21) for i in written["ids"] if i is not None
    ]
    assert records[1]["dynamodb"]["OldImage"] == one and records[1]["dynamodb"]["NewImage"] == two
    assert records[2]["dynamodb"]["OldImage"] == two and "NewImage" not in records[2]["dynamodb"]


def test_the_aws_cli_lists_and_reads_streams(stack, tmp_path):
    written = write(stack, "cli-orders", [[None, item("c")]])
    aws = Cli(stack, tmp_path)
    listed = aws("dynamodbstreams", "list-streams", "--table-name", "cli-orders")["Streams"]
    assert listed[0]["StreamArn"] == written["arn"]
    shard = aws("dynamodbstreams", "describe-stream", "--stream-arn", written["arn"])[
        "StreamDescription"]["Shards"][0]["ShardId"]
    iterator = aws("dynamodbstreams", "get-shard-iterator", "--stream-arn", written["arn"],
                   "--shard-id", shard, "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    records = aws("dynamodbstreams", "get-records", "--shard-iterator", iterator)["Records"]
    assert [(r["eventName"], r["dynamodb"]["Keys"]) for r in records] == [("INSERT", {"id": {"S": "c"}})]
    aws.fails("dynamodbstreams", "describe-stream", "--stream-arn", written["arn"] + "0",
              code="ResourceNotFoundException")


def test_the_periodic_worker_trims_records_past_24_hours(stack):
    written = write(stack, "trimmed", [[None, item("old")], [None, item("new")]])
    old, new = written["ids"]
    stack.shell(
        "from datetime import timedelta\nfrom django.utils import timezone\n"
        "from tables.models import StreamRecord\n"
        f"StreamRecord.objects.filter(id={old}).update(created_at=timezone.now() - timedelta(hours=25))\n"
        "from console.celery import app\napp.send_task('tables.trim_streams')\n"
    )

    def kept():
        out = stack.shell(
            "from tables.models import StreamRecord\n"
            f"print(sorted(StreamRecord.objects.filter(id__in=[{old}, {new}]).values_list('id', flat=True)))"
        )
        return out.strip().splitlines()[-1] == str([new])

    wait_for(kept, timeout=60, interval=1)


def test_dynamodb_writes_with_boto3_reach_the_stream(stack):
    ddb, ddbs = aws_clients(stack, "dynamodb", "dynamodbstreams").values()
    _, arn = id_table(ddb, "real-writes", stream="NEW_AND_OLD_IMAGES")
    ddb.put_item(TableName="real-writes", Item=item("w", v="1"))
    ddb.put_item(TableName="real-writes", Item=item("w", v="2"))
    ddb.put_item(TableName="real-writes", Item=item("w", v="2"))  # no change: no record
    ddb.delete_item(TableName="real-writes", Key={"id": {"S": "w"}})
    shard = ddbs.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = ddbs.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = ddbs.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"] == item("w", v="1")
    assert records[1]["dynamodb"]["NewImage"] == item("w", v="2")
