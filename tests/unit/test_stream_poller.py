"""mappings.stream_poller with real leases (the tests' redis-server) and
checkpoints (the test database), an in-memory stream and a fake function:
order per shard, checkpoints, ReportBatchItemFailures, retries, bisecting,
record age, the OnFailure record, leases moving between pollers, and
ParallelizationFactor partitions."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async

from mappings import failures, sources
from mappings import stream_batches as batches
from mappings import stream_poller as sp
from mappings.models import EventSourceMapping, ShardCheckpoint
from tests.unit.stream_fakes import (  # noqa: F401 - own_redis, quick_backoff: autouse fixtures
    ARN, FakeFunction, MemoryStream, data_of, own_redis, poller, quick_backoff, run, served_until, serving,
    stopped, until,
)


@pytest.fixture
def stream(monkeypatch, redis_url):
    s = MemoryStream(redis_url)
    monkeypatch.setattr(sources, "_sources", [s])
    return s


@pytest.fixture
def sent(monkeypatch):
    """OnFailure records, as failures.send would deliver them."""
    out = []
    monkeypatch.setattr(failures, "send", lambda mapping, body: out.append((mapping.on_failure_arn, body)))
    return out


@pytest.fixture
def mapping(make_function):
    def make(**fields):
        fields.setdefault("starting_position", "TRIM_HORIZON")
        return EventSourceMapping.objects.create(
            function=make_function(name=f"f{uuid.uuid4().hex[:6]}"), event_source_arn=ARN, kind="kinesis",
            **fields,
        )

    return make


@sync_to_async
def checkpoint(m, shard_id):
    row = ShardCheckpoint.objects.filter(mapping=m, shard_id=shard_id).first()
    return None if row is None or row.sequence_number is None else int(row.sequence_number)


async def at(m, shard_id, seq=None):
    """Whether the shard's checkpoint is `seq` (None: any number)."""
    found = await checkpoint(m, shard_id)
    return found is not None if seq is None else found == seq


async def problem(m):
    saved = await reload(m)
    return saved.last_processing_result == "PROBLEM: Function call failed" and "timed out" in saved.last_error


@sync_to_async
def reload(m):
    return EventSourceMapping.objects.get(pk=m.pk)


def test_it_delivers_every_shard_in_order_and_checkpoints(stream, mapping):
    stream.add_shard("shardId-0")
    stream.add_shard("shardId-1")
    for i in range(25):
        stream.put("shardId-0", f"a{i}")
        stream.put("shardId-1", f"b{i}")
    m = mapping(batch_size=10)
    fn = FakeFunction()

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: len(fn.delivered()) >= 50, what="50 records")
        last = {s: stream.records[s][-1].sequence_number for s in stream.records}
        await until(lambda: at(m, "shardId-0", last["shardId-0"]))
        await until(lambda: at(m, "shardId-1", last["shardId-1"]))
        assert await checkpoint(m, "shardId-0") == last["shardId-0"]
        assert await checkpoint(m, "shardId-1") == last["shardId-1"]
        await stopped(p, task)
        assert (await reload(m)).last_processing_result == "OK"

    run(scenario)
    for call in fn.calls:
        assert 1 <= len(call) <= 10
        assert len({r["eventID"].split(":")[0] for r in call}) == 1  # one shard per batch
    assert all(set(e) == {"Records"} for e in fn.events)  # Lambda's stream event, nothing more
    got = fn.delivered()
    assert [d for d in got if d.startswith("a")] == [f"a{i}" for i in range(25)]
    assert [d for d in got if d.startswith("b")] == [f"b{i}" for i in range(25)]


def test_a_restart_resumes_after_the_checkpoint_and_latest_skips_the_past(stream, mapping):
    stream.add_shard("shardId-0")
    for i in range(3):
        stream.put("shardId-0", f"old{i}")
    m = mapping(batch_size=5, starting_position="LATEST")
    # Written after the mapping was created, before its first poll: new.
    stream.put("shardId-0", "early")
    fn = FakeFunction()

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: fn.delivered() == ["early"], what="the record written since the mapping")
        stream.put("shardId-0", "new0")
        await until(lambda: fn.delivered() == ["early", "new0"])
        await stopped(p, task)
        stream.put("shardId-0", "new1")
        p2 = poller(fn, holder="b")
        task = await serving(p2)
        await until(lambda: len(fn.delivered()) >= 3)
        await until(lambda: at(m, "shardId-0", stream.records["shardId-0"][-1].sequence_number))
        await stopped(p2, task)

    run(scenario)
    assert fn.delivered() == ["early", "new0", "new1"]


def test_report_batch_item_failures_retries_from_the_lowest_failed_record(stream, mapping):
    stream.add_shard("shardId-0")
    records = [stream.put("shardId-0", f"r{i}") for i in range(6)]
    m = mapping(batch_size=6, function_response_types=["ReportBatchItemFailures"])
    answers = [
        # r2 and r4 failed: Lambda retries from r2.
        {"batchItemFailures": [{"itemIdentifier": str(records[4].sequence_number)},
                               {"itemIdentifier": batches.sequence_text(records[2])}]},
        # Malformed (an id not in the batch): the whole batch again.
        {"batchItemFailures": [{"itemIdentifier": "nope"}]},
        {"batchItemFailures": []},
    ]

    def behave(recs):
        import json

        return {"status": "succeeded", "result": json.dumps(answers.pop(0) if answers else None)}

    fn = FakeFunction(behave)

    served_until(fn, lambda: at(m, "shardId-0", records[-1].sequence_number))
    assert [[data_of(r) for r in call] for call in fn.calls] == [
        [f"r{i}" for i in range(6)], ["r2", "r3", "r4", "r5"], ["r2", "r3", "r4", "r5"],
    ]


def test_a_partial_batch_failure_is_an_ok_call_whose_error_names_the_reported_records(
    stream, mapping, sent,
):
    stream.add_shard("shardId-0")
    records = [stream.put("shardId-0", f"r{i}") for i in range(4)]
    m = mapping(batch_size=4, max_retry_attempts=0, function_response_types=["ReportBatchItemFailures"])
    failed = batches.sequence_text(records[2])

    def behave(recs):
        import json

        report = {"batchItemFailures": [{"itemIdentifier": failed}]}
        return {"status": "succeeded", "result": json.dumps(report)}

    fn = FakeFunction(behave)

    served_until(fn, lambda: at(m, "shardId-0", records[-1].sequence_number))
    saved = EventSourceMapping.objects.get(pk=m.pk)
    # The function returned normally: Lambda's LastProcessingResult is "OK".
    assert saved.last_processing_result == "OK"
    assert saved.last_error.startswith("BatchItemFailures:") and failed in saved.last_error
    assert [data_of(r) for r in fn.calls[0]] == ["r0", "r1", "r2", "r3"] and len(sent) == 1


def test_bisecting_isolates_the_bad_record_and_sends_its_failure_record(stream, mapping, sent):
    stream.add_shard("shardId-7")
    records = [stream.put("shardId-7", f"r{i}") for i in range(8)]
    m = mapping(batch_size=8, bisect_on_error=True, max_retry_attempts=1,
                on_failure_arn="arn:aws:sqs:us-east-1:000000000000:dlq")

    def behave(recs):
        if any(data_of(r) == "r5" for r in recs):
            return {"status": "failed", "error": {"errorType": "ValueError", "errorMessage": "bad r5"}}
        return {"status": "succeeded", "result": "null"}

    fn = FakeFunction(behave)

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: at(m, "shardId-7", records[-1].sequence_number))
        await stopped(p, task)
        saved = await reload(m)
        assert "bad r5" in saved.last_error
        assert saved.last_processing_result == "OK"  # the batches after it succeeded

    run(scenario)
    succeeded = [data_of(r) for call in fn.calls if not any(data_of(x) == "r5" for x in call) for r in call]
    assert succeeded == [f"r{i}" for i in range(8) if i != 5]  # in order, each once
    alone = [call for call in fn.calls if [data_of(r) for r in call] == ["r5"]]
    assert len(alone) == 2  # the first try alone and one retry
    assert len(sent) == 1
    arn, body = sent[0]
    assert arn == "arn:aws:sqs:us-east-1:000000000000:dlq"
    info = body["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-7" and info["batchSize"] == 1 and info["streamArn"] == ARN
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == batches.sequence_text(records[5])
    assert batches.sequence_text(records[5]).startswith("000")  # as the event carries it
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    # The full batch, its half, its quarter, then alone twice.
    assert body["requestContext"]["approximateInvokeCount"] == 5
    assert body["responseContext"] == {
        "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled",
    }
    assert body["version"] == "1.0" and body["timestamp"].endswith("Z")


def test_retries_run_out_then_the_batch_is_skipped(stream, mapping, sent):
    stream.add_shard("shardId-0")
    first = [stream.put("shardId-0", f"x{i}") for i in range(3)]
    m = mapping(batch_size=3, max_retry_attempts=2)
    fn = FakeFunction(lambda recs: (
        {"status": "timed_out", "error": {"errorType": "Sandbox.Timedout", "errorMessage": "timed out"}}
        if data_of(recs[0]).startswith("x") else {"status": "succeeded", "result": "null"}
    ))

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: len(fn.calls) >= 3)
        await until(lambda: problem(m), what="the mapping says the call failed")
        stream.put("shardId-0", "y0")
        await until(lambda: "y0" in fn.delivered())
        await stopped(p, task)

    run(scenario)
    assert [[data_of(r) for r in c] for c in fn.calls] == [["x0", "x1", "x2"]] * 3 + [["y0"]]
    assert sent[0][0] == ""  # no destination configured: the record is only dropped
    body = sent[0][1]
    assert body["requestContext"]["approximateInvokeCount"] == 3
    assert int(body["KinesisBatchInfo"]["startSequenceNumber"]) == first[0].sequence_number
    assert int(body["KinesisBatchInfo"]["endSequenceNumber"]) == first[-1].sequence_number


def test_records_past_their_maximum_age_are_skipped_without_a_call(stream, mapping, sent):
    stream.add_shard("shardId-0")
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    stream.put("shardId-0", "stale", arrival=long_ago)
    fresh = stream.put("shardId-0", "fresh")
    m = mapping(batch_size=1, max_record_age_s=60)
    fn = FakeFunction()

    served_until(fn, lambda: at(m, "shardId-0", fresh.sequence_number))
    assert fn.delivered() == ["fresh"]
    body = sent[0][1]
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
    assert body["requestContext"]["approximateInvokeCount"] == 0 and "responseContext" not in body


def test_only_the_old_records_of_a_batch_are_discarded_the_fresh_ones_delivered(stream, mapping, sent):
    stream.add_shard("shardId-0")
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    old = [stream.put("shardId-0", f"stale{i}", arrival=long_ago) for i in range(2)]
    fresh = stream.put("shardId-0", "fresh")
    m = mapping(batch_size=10, max_record_age_s=60)
    fn = FakeFunction()

    served_until(fn, lambda: at(m, "shardId-0", fresh.sequence_number))
    assert fn.delivered() == ["fresh"]
    assert len(sent) == 1
    info = sent[0][1]["KinesisBatchInfo"]
    assert sent[0][1]["requestContext"]["condition"] == "RecordAgeExceeded"
    assert int(info["startSequenceNumber"]) == old[0].sequence_number
    assert int(info["endSequenceNumber"]) == old[-1].sequence_number and info["batchSize"] == 2


def test_invoke_identity_arn_is_the_functions_execution_role(stream, mapping):
    from functions.models import Function

    stream.add_shard("shardId-0")
    last = stream.put("shardId-0", "r0")
    m = mapping(batch_size=10)
    role = "arn:aws:iam::000000000000:role/orders-reader"
    Function.objects.filter(pk=m.function_id).update(role=role)
    fn = FakeFunction()

    served_until(fn, lambda: at(m, "shardId-0", last.sequence_number))
    assert [r["invokeIdentityArn"] for call in fn.calls for r in call] == [role]


def test_throttles_do_not_use_the_retry_quota(stream, mapping, sent):
    stream.add_shard("shardId-0")
    stream.put("shardId-0", "t0")
    m = mapping(batch_size=1, max_retry_attempts=0)
    throttled = {"errorType": "TooManyRequestsException", "errorMessage": "x"}
    answers = [{"status": "throttled", "error": throttled}] * 2
    fn = FakeFunction(lambda recs: answers.pop(0) if answers else {"status": "succeeded", "result": "null"})

    served_until(fn, lambda: at(m, "shardId-0"))
    assert len(fn.calls) == 3 and sent == []


def test_a_parent_shard_is_finished_before_its_children(stream, mapping):
    stream.add_shard("parent", closed=True)
    stream.add_shard("child", parent="parent")
    for i in range(5):
        stream.put("parent", f"p{i}")
    for i in range(5):
        stream.put("child", f"c{i}")
    m = mapping(batch_size=2)
    fn = FakeFunction()

    served_until(fn, lambda: len(fn.delivered()) >= 10)
    assert fn.delivered() == [f"p{i}" for i in range(5)] + [f"c{i}" for i in range(5)]
    assert ShardCheckpoint.objects.get(mapping=m, shard_id="parent").finished


def test_parallelization_keeps_each_key_in_order_with_one_batch_in_flight(stream, mapping):
    stream.add_shard("shardId-0")
    keys = [f"key{i}" for i in range(6)]
    for n in range(60):
        stream.put("shardId-0", f"{keys[n % 6]}-{n}", key=keys[n % 6])
    m = mapping(batch_size=4, parallelization_factor=3)
    fn = FakeFunction()

    served_until(fn, lambda: at(m, "shardId-0", stream.records["shardId-0"][-1].sequence_number))
    got = fn.delivered()
    assert sorted(got) == sorted(f"{keys[n % 6]}-{n}" for n in range(60))
    for key in keys:
        mine = [int(d.split("-")[1]) for d in got if d.startswith(key + "-")]
        assert mine == sorted(mine)
    # Each batch is one partition's; a key's partition has one batch in flight.
    parts = {k: batches.partition(stream.records["shardId-0"][keys.index(k)], 3) for k in keys}
    for call in fn.calls:
        assert len({parts[r["kinesis"]["partitionKey"]] for r in call}) == 1
    assert max(fn.peak.values()) == 1


def test_the_lease_moves_to_another_poller_when_its_holder_dies(stream, mapping):
    stream.add_shard("shardId-0")
    for i in range(4):
        stream.put("shardId-0", f"r{i}")
    m = mapping(batch_size=2)
    stuck = FakeFunction()
    import asyncio

    stuck.gate = asyncio.Event()  # never set: the first holder dies mid-batch
    fn = FakeFunction()

    async def scenario():
        a = poller(stuck, holder="a", ttl_s=0.5)
        task_a = await serving(a)
        await until(lambda: stuck.calls, what="a batch in flight on a")
        a.crash()  # no release: as if killed
        task_a.cancel()
        b = poller(fn, holder="b", ttl_s=5)  # a survivor: no lease of its own lost under load
        task_b = await serving(b)
        await until(lambda: len(fn.delivered()) >= 4, what="b takes the shard over")
        await until(lambda: at(m, "shardId-0", stream.records["shardId-0"][-1].sequence_number))
        await stopped(b, task_b)

    run(scenario)
    assert [data_of(r) for r in stuck.calls[0]] == ["r0", "r1"]
    assert fn.delivered() == ["r0", "r1", "r2", "r3"]  # the batch in flight again, in order


def test_two_live_pollers_share_the_shards(stream, mapping, redis_url):
    import redis

    for i in range(4):
        stream.add_shard(f"shardId-{i}")
    mapping()
    fn = FakeFunction()
    client = redis.Redis.from_url(redis_url)

    async def scenario():
        a, b = poller(fn, holder="a", ttl_s=60), poller(fn, holder="b", ttl_s=60)
        tasks = [await serving(a), await serving(b)]
        await until(lambda: len(a.runs) == 2 and len(b.runs) == 2, what="two shards each")
        assert set(a.runs).isdisjoint(b.runs)
        held_by_a = list(a.runs)
        assert all(client.get(key) == b"a" for key in held_by_a)
        # One stops cleanly: its leases are given back (they would otherwise
        # last a minute) and the other takes all four.
        await stopped(a, tasks[0])
        assert not any(client.exists(key) and client.get(key) == b"a" for key in held_by_a)
        await until(lambda: len(b.runs) == 4, what="b holding all four")
        await stopped(b, tasks[1])

    run(scenario)


def test_a_disabled_mapping_stops_and_a_new_one_starts(stream, mapping):
    stream.add_shard("shardId-0")
    m = mapping()
    fn = FakeFunction()

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: len(p.runs) == 1)
        await sync_to_async(EventSourceMapping.objects.filter(pk=m.pk).update)(enabled=False)
        await until(lambda: not p.runs, what="the disabled mapping's shard stopped")
        await sync_to_async(EventSourceMapping.objects.filter(pk=m.pk).update)(enabled=True)
        await until(lambda: len(p.runs) == 1, what="the enabled mapping's shard read again")
        await stopped(p, task)

    run(scenario)



def test_a_mapping_whose_stream_was_deleted_says_so(stream, mapping):
    """As Lambda's: the mapping stays, and LastProcessingResult names the
    missing source; its shards stop."""
    stream.add_shard("shardId-0")
    m = mapping()
    fn = FakeFunction()

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: len(p.runs) == 1)
        stream.delete()
        await until(lambda: not p.runs, what="the deleted stream's shard stopped")

        async def noted():
            return (await reload(m)).last_processing_result == sp.gone(ARN)

        await until(noted, what="the mapping's LastProcessingResult names the missing stream")
        await stopped(p, task)

    run(scenario)


def test_filtered_out_records_are_skipped_and_checkpointed_past(stream, mapping):
    stream.add_shard("shardId-0")
    for i, kind in enumerate(["keep", "drop", "keep", "drop"]):
        stream.put("shardId-0", f'{{"kind": "{kind}", "n": {i}}}')
    m = mapping(batch_size=10, filter_criteria={"Filters": [{"Pattern": '{"data": {"kind": ["keep"]}}'}]})
    fn = FakeFunction()

    served_until(fn, lambda: at(m, "shardId-0", stream.records["shardId-0"][-1].sequence_number))
    assert fn.delivered() == ['{"kind": "keep", "n": 0}', '{"kind": "keep", "n": 2}']


def test_a_write_wakes_the_shard_without_waiting_for_its_next_look(stream, mapping, redis_url):
    import redis

    from mappings import wakeups

    stream.add_shard("shardId-0")
    mapping()
    fn = FakeFunction()
    client = redis.Redis.from_url(redis_url)

    def subscribed():
        return client.pubsub_numsub(wakeups.channel(ARN))[0][1] >= 1

    async def scenario():
        p = poller(fn, look_s=60)  # no look of its own during the test
        task = await serving(p)
        await until(subscribed, what="the shard's wake subscription")
        stream.put("shardId-0", "woken")  # publishes the stream's wake
        await until(lambda: fn.delivered() == ["woken"], timeout_s=20, what="the woken delivery")
        await stopped(p, task)

    run(scenario)



def test_tumbling_windows_carry_state_and_end_with_a_final_invoke(stream, mapping):
    stream.add_shard("shardId-0")
    base = (int(datetime.now(UTC).timestamp()) // 60 - 10) * 60  # ten minutes ago, on a minute
    first = datetime.fromtimestamp(base + 5, UTC)
    second = datetime.fromtimestamp(base + 65, UTC)
    for i in range(3):
        stream.put("shardId-0", f"a{i}", arrival=first)
    for i in range(2):
        stream.put("shardId-0", f"b{i}", arrival=second)
    m = mapping(batch_size=2, tumbling_window_s=60)

    def behave(event):
        import json

        count = event["state"].get("count", 0) + len(event["Records"])
        return {"status": "succeeded", "result": json.dumps({"state": {"count": count}})}

    behave.whole_event = True
    fn = FakeFunction(behave)

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: sum(1 for e in fn.events if e["isFinalInvokeForWindow"]) >= 2,
                    what="two windows closed")
        await stopped(p, task)

    run(scenario)
    seen = [
        ([data_of(r) for r in e["Records"]], e["state"], e["isFinalInvokeForWindow"], e["window"]["start"])
        for e in fn.events
    ]
    start_a = batches.window_text(base)
    start_b = batches.window_text(base + 60)
    assert seen == [
        (["a0", "a1"], {}, False, start_a),
        (["a2"], {"count": 2}, False, start_a),
        ([], {"count": 3}, True, start_a),
        (["b0", "b1"], {}, False, start_b),
        ([], {"count": 2}, True, start_b),
    ]
    assert fn.events[0]["shardId"] == "shardId-0" and fn.events[0]["eventSourceARN"] == ARN
    assert fn.events[0]["window"]["end"] == batches.window_text(base + 60)
    last = stream.records["shardId-0"][-1].sequence_number
    assert ShardCheckpoint.objects.get(mapping=m).sequence_number == last


def test_a_poller_that_lost_its_lease_stops_and_writes_no_checkpoint(stream, mapping, redis_url):
    import asyncio

    import redis

    from mappings.leases import lease_key

    stream.add_shard("shardId-0")
    stream.put("shardId-0", "r0")
    m = mapping()
    fn = FakeFunction()

    async def scenario():
        fn.gate = asyncio.Event()  # never set until the lease is lost
        p = poller(fn, ttl_s=1.0)
        task = await serving(p)
        await until(lambda: fn.calls, what="a batch in flight")
        # Another worker took the shard (as after this one stalled past its lease).
        redis.Redis.from_url(redis_url).set(lease_key(m.id, "shardId-0"), "b")
        await until(lambda: not p.runs, what="the shard stopped")
        fn.gate.set()  # the call in flight ends after the loss
        await asyncio.sleep(0.3)
        assert await checkpoint(m, "shardId-0") is None
        await stopped(p, task)
        assert redis.Redis.from_url(redis_url).get(lease_key(m.id, "shardId-0")) == b"b"  # not released

    run(scenario)


def test_a_merged_shard_waits_for_both_parents(stream, mapping):
    from mappings.sources import Shard

    stream.add_shard("left", closed=True)
    stream.add_shard("right", closed=True)
    stream.shard_list.append(Shard("merged", "left", False, adjacent_parent_shard_id="right"))
    stream.records["merged"] = []
    stream.put("left", "l0")
    for i in range(30):  # the adjacent parent takes far longer than the parent
        stream.put("right", f"r{i}")
    stream.put("merged", "m0")
    mapping(batch_size=2)
    fn = FakeFunction()

    served_until(fn, lambda: len(fn.delivered()) >= 32)
    assert fn.delivered()[-1] == "m0"


def test_a_shard_that_ends_closes_its_open_window_first(stream, mapping):
    stream.add_shard("parent", closed=True)
    stream.add_shard("child", parent="parent")
    stream.put("parent", "p0")
    stream.put("child", "c0")
    m = mapping(batch_size=5, tumbling_window_s=900)  # the window is still open

    def behave(event):
        import json

        return {"status": "succeeded", "result": json.dumps({"state": {"n": len(event["Records"])}})}

    behave.whole_event = True
    fn = FakeFunction(behave)

    served_until(fn, lambda: "c0" in fn.delivered(), what="the child's record")
    got = [(e["shardId"], [data_of(r) for r in e["Records"]], e["isFinalInvokeForWindow"]) for e in fn.events]
    assert got[:3] == [("parent", ["p0"], False), ("parent", [], True), ("child", ["c0"], False)]
    assert fn.events[1]["state"] == {"n": 1}
    assert ShardCheckpoint.objects.get(mapping=m, shard_id="parent").finished


def test_a_mapping_on_a_version_runs_it_and_on_a_missing_alias_fails_its_batches(stream, mapping, sent):
    from functions import versions

    stream.add_shard("shardId-0")
    stream.put("shardId-0", "v0")
    m = mapping(batch_size=1, max_retry_attempts=0, on_failure_arn="arn:aws:sqs:us-east-1:000000000000:dlq")
    versions.publish(m.function)
    EventSourceMapping.objects.filter(pk=m.pk).update(qualifier="1")
    fn = FakeFunction()
    ran = []
    original = fn.__call__

    async def recording(target, event, **kwargs):
        ran.append(getattr(target, "executed_version", None))
        return await original(target, event, **kwargs)

    served_until(recording, lambda: at(m, "shardId-0"))
    assert ran == ["1"] and fn.delivered() == ["v0"] and sent == []

    # The alias is gone: the batch fails without a call (never $LATEST),
    # retried "before invocation" (no retry quota) until its records are
    # too old, goes to OnFailure and the shard moves on.
    EventSourceMapping.objects.filter(pk=m.pk).update(qualifier="gone", max_record_age_s=60)
    stream.put("shardId-0", "v1", arrival=datetime.now(UTC) - timedelta(seconds=57))
    last = stream.records["shardId-0"][-1].sequence_number
    served_until(recording, lambda: at(m, "shardId-0", last))
    assert ran == ["1"] and len(sent) == 1
    assert sent[0][1]["requestContext"]["functionArn"] == f"{m.function.arn}:gone"
    assert sent[0][1]["requestContext"]["condition"] == "RecordAgeExceeded"
