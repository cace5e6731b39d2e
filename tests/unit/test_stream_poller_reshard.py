"""The stream poller over real Kinesis streams (kinesis.streams, read
through kinesis.stream_source) with the poller's fake function
(tests.unit.stream_fakes): every partition key's records are delivered in
the order they were put across reshards (UNIFORM_SCALING 5 -> 3, a child
overlapping three parents; 3 -> 5; 2 -> 3 -> 2), and a stream deleted and
created again under its name is read anew."""

import uuid


from kinesis import records, streams
from mappings.models import EventSourceMapping
from tests.unit.stream_fakes import (  # noqa: F401 - own_redis, quick_backoff: autouse fixtures
    FakeFunction, data_of, own_redis, poller, quick_backoff, run, served_until, serving, stopped, until,
)

# Ten keys spread over the hash key space, each pinned by ExplicitHashKey.
KEYS = {f"k{i}": (2 * i + 1) * (1 << 128) // 20 for i in range(10)}
# The key at the middle of the space: the middle parent of 5 -> 3 holds it.
HEAVY = "k4"


def put_phase(stream, phase: int, expected: dict) -> None:
    entries = []
    for key, hash_key in KEYS.items():
        for n in range(25 if key == HEAVY else 2):
            data = f"{key}:{phase}:{n}"
            expected.setdefault(key, []).append(data)
            entries.append(records.entry(key, data.encode(), str(hash_key)))
    records.put(stream, entries)


def delivered_in_order(team, make_function, counts: list[int]) -> None:
    stream = streams.create(team, f"s{uuid.uuid4().hex[:6]}", counts[0])
    expected: dict[str, list[str]] = {}
    for phase, target in enumerate(counts[1:]):
        put_phase(stream, phase, expected)
        streams.reshard(stream, target)
    put_phase(stream, len(counts), expected)
    EventSourceMapping.objects.create(
        function=make_function(name=f"f{uuid.uuid4().hex[:6]}"), event_source_arn=stream.arn,
        kind="kinesis", starting_position="TRIM_HORIZON", batch_size=2,
    )
    total = sum(len(v) for v in expected.values())
    fn = FakeFunction()

    served_until(fn, lambda: len(fn.delivered()) >= total, timeout_s=60, what=f"{total} records")
    got: dict[str, list[str]] = {}
    for call in fn.calls:
        for record in call:
            got.setdefault(record["kinesis"]["partitionKey"], []).append(data_of(record))
    assert got == expected


def test_a_child_of_three_parents_waits_for_all_of_them(team, make_function):
    delivered_in_order(team, make_function, [5, 3])


def test_splitting_keeps_each_keys_order(team, make_function):
    delivered_in_order(team, make_function, [3, 5])


def test_two_reshards_in_a_row_keep_each_keys_order(team, make_function):
    delivered_in_order(team, make_function, [2, 3, 2])


def test_the_kinesis_source_names_every_overlapping_parent(team):
    from mappings import sources

    stream = streams.create(team, "five", 5)
    streams.reshard(stream, 3)
    middle = [s for s in sources.of_kind("kinesis").shards(stream.arn) if not s.closed][1]
    assert set(middle.must_follow()) == {f"shardId-00000000000{n}" for n in (1, 2, 3)}
    assert (middle.parent_shard_id, middle.adjacent_parent_shard_id) == (
        "shardId-000000000001", "shardId-000000000003")


def test_a_stream_deleted_and_created_again_is_read_from_its_start(team, make_function):
    from asgiref.sync import sync_to_async

    from mappings.models import ShardCheckpoint

    stream = streams.create(team, "again", 1)
    records.put(stream, [records.entry("k", b"old-0")])
    streams.reshard(stream, 2)  # shardId-000000000000 closes: its checkpoint ends finished
    records.put(stream, [records.entry("k", b"old-1")])
    m = EventSourceMapping.objects.create(
        function=make_function(name="again"), event_source_arn=stream.arn, kind="kinesis",
        starting_position="TRIM_HORIZON", batch_size=10,
    )
    fn = FakeFunction()

    @sync_to_async
    def finished_first_shard():
        first = ShardCheckpoint.objects.filter(mapping=m, shard_id="shardId-000000000000")
        return first.filter(finished=True).exists()

    @sync_to_async
    def delete_and_create_again():
        # One call: no poller round sees the stream missing in between.
        streams.delete(streams.get(team, "again"))
        fresh = streams.create(team, "again", 2)
        records.put(fresh, [records.entry(key, f"new-{key}".encode()) for key in ("a", "b", "c", "d")])

    async def scenario():
        p = poller(fn)
        task = await serving(p)
        await until(lambda: len(fn.delivered()) >= 2, what="the old stream's records")
        await until(finished_first_shard, what="the old first shard finished")
        await delete_and_create_again()
        await until(lambda: len(fn.delivered()) >= 6, what="the new stream's records")
        await stopped(p, task)

    run(scenario)
    assert fn.delivered()[:2] == ["old-0", "old-1"]
    assert sorted(fn.delivered()[2:]) == ["new-a", "new-b", "new-c", "new-d"]

