"""Kinesis Data Streams through the AWS front door, driven by a real boto3
`kinesis` client (JSON 1.1, SigV4) whose requests go to the production
ASGI application (tests.unit.aws_clients): shapes and errors are what SDK
users meet."""

import base64
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from django.test import override_settings
from django.utils import timezone

from kinesis import records, streams
from kinesis.models import Record, Shard, Stream
from tests.unit.aws_clients import boto_client

MAX_KEY = 2**128 - 1


def error_of(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def arn_of(team, name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{team.account_id}:stream/{name}"


def read_all(kin, name: str, shard_id: str, kind: str = "TRIM_HORIZON", **extra) -> list[dict]:
    it = kin.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=kind, **extra)
    return kin.get_records(ShardIterator=it["ShardIterator"])["Records"]


# Streams -------------------------------------------------------------------------


def test_it_creates_and_describes_a_stream(kin, team):
    assert kin.create_stream(StreamName="clicks", ShardCount=3)["ResponseMetadata"]["HTTPStatusCode"] == 200
    described = kin.describe_stream(StreamName="clicks")["StreamDescription"]
    assert described["StreamName"] == "clicks"
    assert described["StreamARN"] == arn_of(team, "clicks")
    assert described["StreamStatus"] == "ACTIVE"
    assert described["RetentionPeriodHours"] == 24
    assert described["HasMoreShards"] is False
    assert described["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    shards = described["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{n}" for n in range(3)]
    assert shards[0]["HashKeyRange"] == {"StartingHashKey": "0",
                                         "EndingHashKey": "113427455640312821154458202477256070484"}
    assert shards[2]["HashKeyRange"]["EndingHashKey"] == str(MAX_KEY)
    for left, right in zip(shards, shards[1:], strict=False):
        assert int(right["HashKeyRange"]["StartingHashKey"]) == int(left["HashKeyRange"]["EndingHashKey"]) + 1
    assert all("EndingSequenceNumber" not in s["SequenceNumberRange"] for s in shards)
    assert all(len(s["SequenceNumberRange"]["StartingSequenceNumber"]) == 56 for s in shards)
    # boto3's waiter reads StreamStatus.
    kin.get_waiter("stream_exists").wait(StreamName="clicks", WaiterConfig={"Delay": 0, "MaxAttempts": 1})


def test_it_pages_the_shards_of_describe_stream(kin):
    kin.create_stream(StreamName="wide", ShardCount=5)
    first = kin.describe_stream(StreamName="wide", Limit=2)["StreamDescription"]
    assert [s["ShardId"][-1] for s in first["Shards"]] == ["0", "1"] and first["HasMoreShards"]
    rest = kin.describe_stream(StreamName="wide", Limit=10, ExclusiveStartShardId="shardId-000000000001")
    assert [s["ShardId"][-1] for s in rest["StreamDescription"]["Shards"]] == ["2", "3", "4"]
    assert rest["StreamDescription"]["HasMoreShards"] is False


def test_it_creates_an_on_demand_stream_of_four_shards(kin):
    kin.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kin.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["ConsumerCount"] == 0
    with pytest.raises(ClientError) as e:
        kin.update_shard_count(StreamName="od", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert error_of(e)[0] == "InvalidArgumentException"


def test_it_refuses_a_taken_name_and_a_bad_one(kin, team):
    kin.create_stream(StreamName="s1", ShardCount=1)
    with pytest.raises(ClientError) as e:
        kin.create_stream(StreamName="s1", ShardCount=2)
    assert error_of(e) == ("ResourceInUseException",
                           f"Stream s1 under account {team.account_id} already exists.")
    with pytest.raises(ClientError) as e:
        kin.create_stream(StreamName="bad name!", ShardCount=1)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kin.create_stream(StreamName="noshards")
    assert error_of(e)[0] == "InvalidArgumentException"
    assert Stream.objects.count() == 1 and Shard.objects.count() == 1


def test_it_answers_a_missing_stream_in_kinesis_words(kin, team):
    with pytest.raises(ClientError) as e:
        kin.describe_stream(StreamName="nope")
    assert error_of(e) == ("ResourceNotFoundException",
                           f"Stream nope under account {team.account_id} not found.")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_it_keeps_streams_to_their_team(kin, stranger_kin, team):
    kin.create_stream(StreamName="mine", ShardCount=1)
    assert stranger_kin.list_streams()["StreamNames"] == []
    with pytest.raises(ClientError) as e:
        stranger_kin.put_record(StreamName="mine", Data=b"x", PartitionKey="k")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        stranger_kin.describe_stream(StreamARN=arn_of(team, "mine"))
    assert error_of(e)[0] == "ResourceNotFoundException"
    it = kin.get_shard_iterator(StreamName="mine", ShardId="shardId-000000000000",
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    with pytest.raises(ClientError) as e:
        stranger_kin.get_records(ShardIterator=it)
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_it_refuses_writes_to_a_read_only_member(kin, reader_kin):
    kin.create_stream(StreamName="ro", ShardCount=1)
    assert reader_kin.list_streams()["StreamNames"] == ["ro"]
    with pytest.raises(ClientError) as e:
        reader_kin.put_record(StreamName="ro", Data=b"x", PartitionKey="k")
    assert error_of(e)[0] == "AccessDeniedException"
    assert Record.objects.count() == 0


def test_it_lists_streams_with_summaries_and_pages(kin, team):
    for name in ("c", "a", "b"):
        kin.create_stream(StreamName=name, ShardCount=1)
    first = kin.list_streams(Limit=2)
    assert first["StreamNames"] == ["a", "b"] and first["HasMoreStreams"] is True
    assert first["StreamSummaries"][0]["StreamARN"] == arn_of(team, "a")
    assert first["StreamSummaries"][0]["StreamStatus"] == "ACTIVE"
    second = kin.list_streams(NextToken=first["NextToken"])
    assert second["StreamNames"] == ["c"] and second["HasMoreStreams"] is False
    assert kin.list_streams(ExclusiveStartStreamName="a")["StreamNames"] == ["b", "c"]
    paged = [n for page in kin.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1})
             for n in page["StreamNames"]]
    assert paged == ["a", "b", "c"]


def test_it_deletes_a_stream_with_its_records(kin):
    kin.create_stream(StreamName="gone", ShardCount=2)
    kin.put_record(StreamName="gone", Data=b"x", PartitionKey="k")
    kin.delete_stream(StreamName="gone", EnforceConsumerDeletion=True)
    assert (Stream.objects.count(), Shard.objects.count(), Record.objects.count()) == (0, 0, 0)
    with pytest.raises(ClientError) as e:
        kin.delete_stream(StreamName="gone")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_it_takes_stream_arns_in_place_of_names(kin, team):
    kin.create_stream(StreamName="byarn", ShardCount=1)
    arn = arn_of(team, "byarn")
    put = kin.put_record(StreamARN=arn, Data=b"hello", PartitionKey="k")
    assert kin.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]["StreamName"] == "byarn"
    it = kin.get_shard_iterator(StreamARN=arn, ShardId=put["ShardId"],
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in kin.get_records(ShardIterator=it, StreamARN=arn)["Records"]] == [b"hello"]
    kin.add_tags_to_stream(StreamARN=arn, Tags={"a": "1"})
    assert kin.list_tags_for_stream(StreamARN=arn)["Tags"] == [{"Key": "a", "Value": "1"}]
    other = "arn:aws:kinesis:us-east-1:000000000000:stream/byarn"
    with pytest.raises(ClientError) as e:
        kin.describe_stream_summary(StreamARN=other)
    assert error_of(e) == ("ResourceNotFoundException", "Stream byarn under account 000000000000 not found.")
    with pytest.raises(ClientError) as e:
        kin.describe_stream_summary()
    assert error_of(e)[0] == "InvalidArgumentException"


# Records -------------------------------------------------------------------------


def test_it_puts_and_gets_bytes_exactly(kin):
    kin.create_stream(StreamName="bytes", ShardCount=1)
    payload = bytes(range(256)) * 3
    put = kin.put_record(StreamName="bytes", Data=payload, PartitionKey="pk-é")
    assert put["ShardId"] == "shardId-000000000000"
    assert len(put["SequenceNumber"]) == 56 and put["SequenceNumber"].isdigit()
    got = read_all(kin, "bytes", put["ShardId"])
    assert got[0]["Data"] == payload
    assert got[0]["PartitionKey"] == "pk-é"
    assert got[0]["SequenceNumber"] == put["SequenceNumber"]
    assert abs(got[0]["ApproximateArrivalTimestamp"] - datetime.now(UTC)) < timedelta(minutes=1)


def test_it_routes_by_the_md5_of_the_partition_key(kin):
    kin.create_stream(StreamName="route", ShardCount=4)
    shards = kin.list_shards(StreamName="route")["Shards"]
    for key in ("a", "b", "user-17", "ü", "zzz"):
        number = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        owner = next(s["ShardId"] for s in shards if int(s["HashKeyRange"]["StartingHashKey"]) <= number
                     <= int(s["HashKeyRange"]["EndingHashKey"]))
        assert kin.put_record(StreamName="route", Data=b"x", PartitionKey=key)["ShardId"] == owner


def test_an_explicit_hash_key_picks_the_shard(kin):
    kin.create_stream(StreamName="eh", ShardCount=2)
    low = kin.put_record(StreamName="eh", Data=b"x", PartitionKey="k", ExplicitHashKey="0")
    high = kin.put_record(StreamName="eh", Data=b"x", PartitionKey="k", ExplicitHashKey=str(MAX_KEY),
                          SequenceNumberForOrdering=low["SequenceNumber"])
    assert (low["ShardId"], high["ShardId"]) == ("shardId-000000000000", "shardId-000000000001")
    assert int(high["SequenceNumber"]) > int(low["SequenceNumber"])
    for bad in (str(MAX_KEY + 1), "-1", "12a"):
        with pytest.raises(ClientError) as e:
            kin.put_record(StreamName="eh", Data=b"x", PartitionKey="k", ExplicitHashKey=bad)
        assert error_of(e)[0] == "InvalidArgumentException"
    assert Record.objects.count() == 2


def test_it_refuses_oversized_data_and_bad_partition_keys(kin):
    kin.create_stream(StreamName="big", ShardCount=1)
    kin.put_record(StreamName="big", Data=b"x" * (1024 * 1024), PartitionKey="k")  # exactly 1 MiB is fine
    with pytest.raises(ClientError) as e:
        kin.put_record(StreamName="big", Data=b"x" * (1024 * 1024 + 1), PartitionKey="k")
    code, message = error_of(e)
    assert code == "ValidationException" and "less than or equal to 1048576" in message
    with pytest.raises(ClientError) as e:
        kin.put_record(StreamName="big", Data=b"x", PartitionKey="k" * 257)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kin.put_record(StreamName="big", Data=b"x", PartitionKey="")
    assert error_of(e)[0] == "ValidationException"
    assert Record.objects.count() == 1


def test_put_records_answers_each_record_in_order(kin):
    kin.create_stream(StreamName="batch", ShardCount=2)
    given = [{"Data": f"r{n}".encode(), "PartitionKey": f"key-{n}"} for n in range(20)]
    answer = kin.put_records(StreamName="batch", Records=given)
    assert answer["FailedRecordCount"] == 0
    assert len(answer["Records"]) == 20
    by_shard: dict = {}
    for n, entry in enumerate(answer["Records"]):
        assert set(entry) == {"SequenceNumber", "ShardId"}
        by_shard.setdefault(entry["ShardId"], []).append((entry["SequenceNumber"], f"r{n}".encode()))
    for shard_id, wanted in by_shard.items():
        got = read_all(kin, "batch", shard_id)
        assert [(r["SequenceNumber"], r["Data"]) for r in got] == wanted


def test_put_records_refuses_a_batch_over_the_limits_and_stores_nothing(kin):
    kin.create_stream(StreamName="lim", ShardCount=1)
    with pytest.raises(ClientError) as e:
        kin.put_records(StreamName="lim", Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kin.put_records(StreamName="lim", Records=[{"Data": b"x", "PartitionKey": "k"},
                                                    {"Data": b"y" * (1024 * 1024 + 1), "PartitionKey": "k"}])
    code, message = error_of(e)
    assert code == "ValidationException" and "records.2.member.data" in message
    with pytest.raises(ClientError) as e:
        kin.put_records(StreamName="lim", Records=[{"Data": b"y" * (1024 * 1024), "PartitionKey": "k"}] * 5
                        + [{"Data": b"z", "PartitionKey": "k"}])
    assert error_of(e)[0] == "InvalidArgumentException"
    assert Record.objects.count() == 0


def test_a_put_wakes_the_stream_pollers_after_commit(kin, team, monkeypatch):
    from mappings import wakeups

    woken = []
    monkeypatch.setattr(wakeups, "notify", lambda arn: woken.append(arn))
    kin.create_stream(StreamName="wake", ShardCount=1)
    kin.put_record(StreamName="wake", Data=b"x", PartitionKey="k")
    kin.put_records(StreamName="wake", Records=[{"Data": b"y", "PartitionKey": "k"}])
    assert woken == [arn_of(team, "wake")] * 2


# Iterators and GetRecords --------------------------------------------------------


def test_it_reads_from_each_iterator_type(kin):
    kin.create_stream(StreamName="it", ShardCount=1)
    seqs = [kin.put_record(StreamName="it", Data=f"{n}".encode(), PartitionKey="k")["SequenceNumber"]
            for n in range(5)]
    shard = "shardId-000000000000"
    assert [r["Data"] for r in read_all(kin, "it", shard)] == [b"0", b"1", b"2", b"3", b"4"]
    assert read_all(kin, "it", shard, "LATEST") == []
    assert [r["Data"] for r in read_all(kin, "it", shard, "AT_SEQUENCE_NUMBER",
                                        StartingSequenceNumber=seqs[2])] == [b"2", b"3", b"4"]
    assert [r["Data"] for r in read_all(kin, "it", shard, "AFTER_SEQUENCE_NUMBER",
                                        StartingSequenceNumber=seqs[2])] == [b"3", b"4"]
    Record.objects.filter(id__lte=int(seqs[1])).update(arrival=timezone.now() - timedelta(hours=1))
    at = timezone.now() - timedelta(minutes=30)
    assert [r["Data"] for r in read_all(kin, "it", shard, "AT_TIMESTAMP", Timestamp=at)] == [b"2", b"3", b"4"]
    with pytest.raises(ClientError) as e:
        kin.get_shard_iterator(StreamName="it", ShardId=shard, ShardIteratorType="AT_TIMESTAMP")
    assert error_of(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kin.get_shard_iterator(StreamName="it", ShardId=shard, ShardIteratorType="AT_TIMESTAMP",
                               Timestamp=timezone.now() + timedelta(hours=1))
    assert error_of(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kin.get_shard_iterator(StreamName="it", ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                               StartingSequenceNumber="1" * 60)
    assert error_of(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kin.get_shard_iterator(StreamName="it", ShardId="shardId-000000000009", ShardIteratorType="LATEST")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_at_timestamp_at_a_records_own_arrival_starts_with_that_record(kin):
    kin.create_stream(StreamName="at", ShardCount=1)
    shard = "shardId-000000000000"
    for n in range(6):
        kin.put_record(StreamName="at", Data=f"{n}".encode(), PartitionKey="k")
    stored = read_all(kin, "at", shard)
    assert len(stored) == 6
    for record in stored:
        got = read_all(kin, "at", shard, "AT_TIMESTAMP", Timestamp=record["ApproximateArrivalTimestamp"])
        numbers = [r["SequenceNumber"] for r in got]
        # Inclusive: the record itself is read, and nothing that arrived
        # before its millisecond.
        assert record["SequenceNumber"] in numbers
        assert got[0]["ApproximateArrivalTimestamp"] == record["ApproximateArrivalTimestamp"]


def test_latest_sees_what_comes_after_it(kin):
    kin.create_stream(StreamName="tail", ShardCount=1)
    kin.put_record(StreamName="tail", Data=b"old", PartitionKey="k")
    it = kin.get_shard_iterator(StreamName="tail", ShardId="shardId-000000000000",
                                ShardIteratorType="LATEST")["ShardIterator"]
    empty = kin.get_records(ShardIterator=it)
    assert empty["Records"] == [] and empty["MillisBehindLatest"] == 0
    kin.put_record(StreamName="tail", Data=b"new", PartitionKey="k")
    got = kin.get_records(ShardIterator=empty["NextShardIterator"])
    assert [r["Data"] for r in got["Records"]] == [b"new"]
    again = kin.get_records(ShardIterator=got["NextShardIterator"])
    assert again["Records"] == [] and again["NextShardIterator"]


def test_get_records_pages_with_limit_and_next_iterator(kin):
    kin.create_stream(StreamName="page", ShardCount=1)
    kin.put_records(StreamName="page", Records=[{"Data": bytes([n]), "PartitionKey": "k"} for n in range(7)])
    it = kin.get_shard_iterator(StreamName="page", ShardId="shardId-000000000000",
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seen = []
    for _ in range(4):
        got = kin.get_records(ShardIterator=it, Limit=3)
        seen.append([r["Data"][0] for r in got["Records"]])
        it = got["NextShardIterator"]
    assert seen == [[0, 1, 2], [3, 4, 5], [6], []]
    with pytest.raises(ClientError) as e:
        kin.get_records(ShardIterator=it, Limit=10001)
    assert error_of(e)[0] == "ValidationException"


def test_an_iterator_expires_after_five_minutes(kin, monkeypatch):
    kin.create_stream(StreamName="old", ShardCount=1)
    it = kin.get_shard_iterator(StreamName="old", ShardId="shardId-000000000000",
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    now = time.time()
    monkeypatch.setattr(records.time, "time", lambda: now + 301)
    with pytest.raises(ClientError) as e:
        kin.get_records(ShardIterator=it)
    code, message = error_of(e)
    assert code == "ExpiredIteratorException"
    assert message.startswith("Iterator expired. The iterator was created at time ")
    assert "tolerated delay of 300000 milliseconds" in message


def test_it_refuses_an_iterator_it_did_not_make(kin):
    kin.create_stream(StreamName="forged", ShardCount=1)
    with pytest.raises(ClientError) as e:
        kin.get_records(ShardIterator=base64.b64encode(json.dumps({"s": "x"}).encode()).decode())
    assert error_of(e)[0] == "InvalidArgumentException"


# Resharding ----------------------------------------------------------------------


def test_update_shard_count_closes_and_opens_shards_as_kinesis_does(kin):
    kin.create_stream(StreamName="grow", ShardCount=2)
    before = [kin.put_record(StreamName="grow", Data=b"p%d" % n, PartitionKey=f"k{n}") for n in range(6)]
    answer = kin.update_shard_count(StreamName="grow", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (2, 4)
    shards = {s["ShardId"]: s for s in kin.list_shards(StreamName="grow")["Shards"]}
    assert len(shards) == 6
    closed = [shards["shardId-000000000000"], shards["shardId-000000000001"]]
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in closed)
    children = [shards[f"shardId-00000000000{n}"] for n in range(2, 6)]
    parents = ["shardId-000000000000"] * 2 + ["shardId-000000000001"] * 2
    assert [c["ParentShardId"] for c in children] == parents
    assert children[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert children[3]["HashKeyRange"]["EndingHashKey"] == str(MAX_KEY)
    # Old records stay readable; the closed shard's end has no next iterator.
    for shard_id in ("shardId-000000000000", "shardId-000000000001"):
        it = kin.get_shard_iterator(StreamName="grow", ShardId=shard_id,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = kin.get_records(ShardIterator=it)
        assert [r["SequenceNumber"] for r in got["Records"]] == [p["SequenceNumber"] for p in before
                                                                 if p["ShardId"] == shard_id]
        assert "NextShardIterator" not in got
        assert [c["ShardId"] for c in got["ChildShards"]] == [
            c["ShardId"] for c in children if c["ParentShardId"] == shard_id]
        for record in got["Records"]:
            ending = shards[shard_id]["SequenceNumberRange"]["EndingSequenceNumber"]
            assert int(record["SequenceNumber"]) <= int(ending)
    after = kin.put_record(StreamName="grow", Data=b"new", PartitionKey="k0")
    assert after["ShardId"] in {c["ShardId"] for c in children}
    assert int(after["SequenceNumber"]) > max(int(p["SequenceNumber"]) for p in before)
    assert kin.describe_stream_summary(StreamName="grow")["StreamDescriptionSummary"]["OpenShardCount"] == 4


def test_merging_names_an_adjacent_parent(kin):
    kin.create_stream(StreamName="shrink", ShardCount=4)
    kin.update_shard_count(StreamName="shrink", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    new = kin.list_shards(StreamName="shrink", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [(s["ParentShardId"], s["AdjacentParentShardId"]) for s in new] == [
        ("shardId-000000000000", "shardId-000000000001"), ("shardId-000000000002", "shardId-000000000003")]


def test_update_shard_count_keeps_to_double_and_half(kin):
    kin.create_stream(StreamName="limits", ShardCount=2)
    for target, code in ((5, "LimitExceededException"), (0, "ValidationException")):
        with pytest.raises(ClientError) as e:
            kin.update_shard_count(StreamName="limits", TargetShardCount=target,
                                   ScalingType="UNIFORM_SCALING")
        assert error_of(e)[0] == code
    assert Shard.objects.count() == 2


def test_list_shards_pages_and_filters(kin):
    kin.create_stream(StreamName="ls", ShardCount=3)
    first = kin.list_shards(StreamName="ls", MaxResults=2)
    assert [s["ShardId"][-1] for s in first["Shards"]] == ["0", "1"]
    rest = kin.list_shards(NextToken=first["NextToken"])
    assert [s["ShardId"][-1] for s in rest["Shards"]] == ["2"] and "NextToken" not in rest
    with pytest.raises(ClientError) as e:
        kin.list_shards(StreamName="ls", NextToken=first["NextToken"])
    assert error_of(e) == ("InvalidArgumentException",
                           "NextToken and StreamName cannot be provided together.")
    after = kin.list_shards(StreamName="ls",
                            ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000000"})
    assert [s["ShardId"][-1] for s in after["Shards"]] == ["1", "2"]
    kin.update_shard_count(StreamName="ls", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    latest = kin.list_shards(StreamName="ls", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [s["ShardId"][-1] for s in latest] == ["3", "4", "5", "6"]
    horizon = kin.list_shards(StreamName="ls", ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]
    assert [s["ShardId"][-1] for s in horizon] == ["0", "1", "2"]
    everything = kin.list_shards(StreamName="ls", ShardFilter={"Type": "FROM_TRIM_HORIZON"})["Shards"]
    assert len(everything) == 7


# Retention and tags --------------------------------------------------------------


def test_retention_goes_up_and_down_within_kinesis_bounds(kin):
    kin.create_stream(StreamName="keep", ShardCount=1)
    kin.increase_stream_retention_period(StreamName="keep", RetentionPeriodHours=48)
    summary = kin.describe_stream_summary(StreamName="keep")["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 48
    with pytest.raises(ClientError) as e:
        kin.increase_stream_retention_period(StreamName="keep", RetentionPeriodHours=30)
    code, message = error_of(e)
    assert code == "InvalidArgumentException"
    assert "can not be shorter than existing retention period" in message
    with pytest.raises(ClientError) as e:
        kin.decrease_stream_retention_period(StreamName="keep", RetentionPeriodHours=12)
    assert error_of(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kin.increase_stream_retention_period(StreamName="keep", RetentionPeriodHours=9000)
    assert error_of(e)[0] == "InvalidArgumentException"
    kin.decrease_stream_retention_period(StreamName="keep", RetentionPeriodHours=24)
    assert Stream.objects.get().retention_hours == 24


@override_settings(STRATUS_KINESIS_RETENTION_HOURS=2)
def test_the_default_retention_is_a_setting(kin):
    kin.create_stream(StreamName="short", ShardCount=1)
    assert kin.describe_stream(StreamName="short")["StreamDescription"]["RetentionPeriodHours"] == 2


def test_records_past_retention_are_trimmed_and_unreadable(kin):
    from kinesis import tasks

    kin.create_stream(StreamName="trim", ShardCount=1)
    kin.put_records(StreamName="trim", Records=[{"Data": bytes([n]), "PartitionKey": "k"} for n in range(3)])
    Record.objects.filter(data=b"\x00").update(arrival=timezone.now() - timedelta(hours=25))
    assert [r["Data"] for r in read_all(kin, "trim", "shardId-000000000000")] == [b"\x01", b"\x02"]
    assert tasks.trim_records() == 1
    assert Record.objects.count() == 2


def test_closed_shards_go_once_their_records_are_past_retention(kin):
    kin.create_stream(StreamName="closing", ShardCount=1)
    kin.update_shard_count(StreamName="closing", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    Shard.objects.filter(closed_at__isnull=False).update(closed_at=timezone.now() - timedelta(hours=25))
    assert len(kin.list_shards(StreamName="closing")["Shards"]) == 2
    streams.trim()
    assert Shard.objects.count() == 2


def test_it_tags_streams(kin):
    kin.create_stream(StreamName="tagged", ShardCount=1, Tags={"team": "a"})
    kin.add_tags_to_stream(StreamName="tagged", Tags={"env": "dev", "b": "2"})
    listed = kin.list_tags_for_stream(StreamName="tagged")
    assert listed["Tags"] == [{"Key": "b", "Value": "2"}, {"Key": "env", "Value": "dev"},
                              {"Key": "team", "Value": "a"}]
    assert listed["HasMoreTags"] is False
    page = kin.list_tags_for_stream(StreamName="tagged", Limit=1, ExclusiveStartTagKey="b")
    assert page["Tags"] == [{"Key": "env", "Value": "dev"}] and page["HasMoreTags"] is True
    kin.remove_tags_from_stream(StreamName="tagged", TagKeys=["env", "team"])
    assert kin.list_tags_for_stream(StreamName="tagged")["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        kin.add_tags_to_stream(StreamName="tagged", Tags={f"k{n}": "v" for n in range(11)})
    assert error_of(e)[0] == "InvalidArgumentException"


# Execution policies ----------------------------------------------------------------


def test_calls_name_their_iam_action_and_stream_arn(kin, team, member_key):
    from types import SimpleNamespace

    from kinesis import iam_resources

    context = SimpleNamespace(team=team)
    arn = arn_of(team, "pol")
    assert iam_resources.kinesis(context, "PutRecord", {"StreamName": "pol"}) == [("kinesis:PutRecord", arn)]
    assert iam_resources.kinesis(context, "PutRecords", {"StreamARN": arn}) == [("kinesis:PutRecords", arn)]
    assert iam_resources.kinesis(context, "ListStreams", {}) == [("kinesis:ListStreams", "*")]
    kin.create_stream(StreamName="pol", ShardCount=1)
    it = kin.get_shard_iterator(StreamName="pol", ShardId="shardId-000000000000",
                                ShardIteratorType="LATEST")["ShardIterator"]
    named = iam_resources.kinesis
    assert named(context, "GetRecords", {"ShardIterator": it}) == [("kinesis:GetRecords", arn)]
    assert named(context, "GetRecords", {"ShardIterator": "junk"}) == [("kinesis:GetRecords", "*")]


def test_empty_data_is_a_record_too(kin):
    kin.create_stream(StreamName="empty", ShardCount=1)
    put = kin.put_record(StreamName="empty", Data=b"", PartitionKey="k")
    assert [r["Data"] for r in read_all(kin, "empty", put["ShardId"])] == [b""]


def test_a_dry_run_checks_and_changes_nothing(kin):
    kin.create_stream(StreamName="dry", ShardCount=1)
    for call in (
        lambda: kin.put_record(StreamName="dry", Data=b"x", PartitionKey="k", DryRun=True),
        lambda: kin.put_records(StreamName="dry", Records=[{"Data": b"x", "PartitionKey": "k"}], DryRun=True),
        lambda: kin.get_shard_iterator(StreamName="dry", ShardId="shardId-000000000000",
                                       ShardIteratorType="LATEST", DryRun=True),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[0] == "DryRunOperationException"
    with pytest.raises(ClientError) as e:
        kin.put_record(StreamName="wet", Data=b"x", PartitionKey="k", DryRun=True)
    assert error_of(e)[0] == "ResourceNotFoundException"
    assert Record.objects.count() == 0


def test_get_records_refuses_another_streams_arn(kin, team):
    kin.create_stream(StreamName="one", ShardCount=1)
    kin.create_stream(StreamName="two", ShardCount=1)
    it = kin.get_shard_iterator(StreamName="one", ShardId="shardId-000000000000",
                                ShardIteratorType="LATEST")["ShardIterator"]
    with pytest.raises(ClientError) as e:
        kin.get_records(ShardIterator=it, StreamARN=arn_of(team, "two"))
    assert error_of(e)[0] == "InvalidArgumentException"


def test_put_record_is_one_short_transaction(kin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    kin.create_stream(StreamName="quick", ShardCount=4)
    kin.put_record(StreamName="quick", Data=b"x", PartitionKey="k")
    with CaptureQueriesContext(connection) as seen:
        kin.put_record(StreamName="quick", Data=b"x", PartitionKey="k")
    # Kinesis's own statements (the caller's key may or may not come from
    # the door's per-process copy, depending on what ran before).
    statements = [q["sql"].split()[0] for q in seen.captured_queries
                  if "SAVEPOINT" not in q["sql"] and "kinesis_" in q["sql"]]
    # The stream, its open shards (locked), the record.
    assert statements == ["SELECT", "SELECT", "INSERT"]


def test_any_unicode_is_a_partition_key(kin):
    kin.create_stream(StreamName="keys", ShardCount=1)
    for key in ("a\x00b", "日本語", "🙂" * 256):
        put = kin.put_record(StreamName="keys", Data=b"x", PartitionKey=key)
        got = read_all(kin, "keys", put["ShardId"], "AT_SEQUENCE_NUMBER",
                       StartingSequenceNumber=put["SequenceNumber"])
        assert got[0]["PartitionKey"] == key


def test_the_account_shard_quota_is_kept(kin, team, monkeypatch):
    monkeypatch.setattr(streams, "SHARD_LIMIT", 5)
    kin.create_stream(StreamName="q1", ShardCount=3)
    with pytest.raises(ClientError) as e:
        kin.create_stream(StreamName="q2", ShardCount=3)
    code, message = error_of(e)
    assert code == "LimitExceededException"
    assert message.startswith(f"This request would exceed the shard limit for the account {team.account_id}")
    with pytest.raises(ClientError) as e:
        kin.update_shard_count(StreamName="q1", TargetShardCount=6, ScalingType="UNIFORM_SCALING")
    assert error_of(e)[0] == "LimitExceededException"
    assert Stream.objects.count() == 1 and Shard.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_functions_execution_policy_decides_its_kinesis_calls(make_function, member_key, team):
    from awsapi import principals
    from functions.models import Function
    from tests.unit.aws_clients import aws_client

    key, secret = member_key
    boto_client("kinesis", key.access_key_id, secret).create_stream(StreamName="fn-out", ShardCount=1)
    fn = make_function("producer")
    Function.objects.filter(pk=fn.pk).update(execution_policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
         "Resource": arn_of(team, "fn-out")}]})
    own = principals.issue(fn)
    kin = aws_client("kinesis", own["AWS_ACCESS_KEY_ID"], own["AWS_SECRET_ACCESS_KEY"],
                     token=own["AWS_SESSION_TOKEN"])
    kin.put_record(StreamName="fn-out", Data=b"from a function", PartitionKey="k")
    with pytest.raises(ClientError) as e:
        kin.describe_stream(StreamName="fn-out")
    code, message = error_of(e)
    assert code == "AccessDeniedException"
    assert f"kinesis:DescribeStream on resource: {arn_of(team, 'fn-out')}" in message
    assert [bytes(r.data) for r in Record.objects.all()] == [b"from a function"]


def test_get_records_stops_at_ten_mib(kin, monkeypatch):
    monkeypatch.setattr(records, "MAX_GET_BYTES", 2500)
    kin.create_stream(StreamName="heavy", ShardCount=1)
    kin.put_records(StreamName="heavy",
                    Records=[{"Data": bytes([n]) * 1000, "PartitionKey": "k"} for n in range(5)])
    it = kin.get_shard_iterator(StreamName="heavy", ShardId="shardId-000000000000",
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    pages = []
    while True:
        got = kin.get_records(ShardIterator=it)
        pages.append([r["Data"][0] for r in got["Records"]])
        if not got["Records"]:
            break
        it = got["NextShardIterator"]
    assert pages == [[0, 1], [2, 3], [4], []]
