"""Properties of Kinesis's record routing and ordering (hypothesis): every
hash key has exactly one owner among a stream's uniform shards, records
land in the shard whose HashKeyRange holds the MD5 of their partition key,
a reshard's new shards cover the key space with parents that overlap them,
and sequence numbers increase within a shard in the order records were
put, across PutRecord and PutRecords calls."""

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinesis import records, routing, streams
from kinesis.models import Shard

MAX_KEY = 2**128 - 1
counts = st.integers(min_value=1, max_value=64)
keys = st.integers(min_value=0, max_value=MAX_KEY)
partition_keys = st.text(min_size=1, max_size=256)


@given(count=counts, key=keys)
def test_each_hash_key_has_one_owner(count, key):
    ranges = routing.uniform_ranges(count)
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_KEY
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:], strict=False))
    owners = [n for n, (low, high) in enumerate(ranges) if low <= key <= high]
    assert owners == [routing.owner(ranges, key)]


def test_uniform_shards_start_at_multiples_of_the_floored_width():
    """A 6-shard stream as Kinesis describes it (DescribeStream output of a
    real stream): shard i starts at i * floor(2**128 / 6), not at
    floor(i * 2**128 / 6), and the last shard ends at 2**128 - 1."""
    width = 56713727820156410577229101238628035242
    assert routing.uniform_ranges(6) == [
        (0, width - 1),
        (width, 113427455640312821154458202477256070483),
        (113427455640312821154458202477256070484, 170141183460469231731687303715884105725),
        (170141183460469231731687303715884105726, 226854911280625642308916404954512140967),
        (226854911280625642308916404954512140968, 283568639100782052886145506193140176209),
        (283568639100782052886145506193140176210, MAX_KEY),
    ]


@given(partition_key=partition_keys)
def test_the_hash_key_is_the_md5_as_a_128_bit_integer(partition_key):
    digest = hashlib.md5(partition_key.encode("utf-8")).hexdigest()
    assert routing.hash_key(partition_key) == int(digest, 16)


@given(old=counts, new=counts, key=keys)
def test_a_new_shards_parents_overlap_it(old, new, key):
    before, after = routing.uniform_ranges(old), routing.uniform_ranges(new)
    child = after[routing.owner(after, key)]
    parent, adjacent = routing.parents(before, child)
    assert before[parent][0] <= child[0] <= before[parent][1]
    if adjacent is not None:
        assert before[adjacent][0] <= child[1] <= before[adjacent][1]
        assert adjacent != parent


@given(text=st.text(max_size=45))
def test_an_explicit_hash_key_is_a_decimal_in_range(text):
    value = routing.explicit_hash_key(text)
    if value is not None:
        assert 0 <= value <= MAX_KEY and str(value) == text


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(partition_keys, min_size=1, max_size=8), min_size=1, max_size=5),
       shard_count=st.integers(min_value=1, max_value=6))
def test_records_land_by_hash_and_sequence_numbers_increase_per_shard(team, batches, shard_count):
    streams.Stream.objects.filter(team=team).delete()
    stream = streams.create(team, "props", shard_count)
    shards = list(Shard.objects.filter(stream=stream))
    put_order: dict = {}
    for batch in batches:
        entries = [records.entry(key, key.encode(), None) for key in batch]
        for (shard, row), key in zip(records.put(stream, entries), batch, strict=True):
            number = routing.hash_key(key)
            assert int(shard.hash_start) <= number <= int(shard.hash_end)
            put_order.setdefault(shard.index, []).append(row.id)
    for shard in shards:
        wanted = put_order.get(shard.index, [])
        assert wanted == sorted(wanted) and len(set(wanted)) == len(wanted)
        got, at_end = records.read(stream, shard, shard.starting_sequence - 1, 10000)
        assert [r.id for r in got] == wanted and at_end
        assert all(r.id >= shard.starting_sequence for r in got)
