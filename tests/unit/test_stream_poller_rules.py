"""The stream pollers' rules on their own: batches under the payload
limit, ReportBatchItemFailures answers, the OnFailure record's shape, and
shard leases (on the tests' redis-server)."""

import uuid
from datetime import UTC, datetime

import pytest

from mappings import failures
from mappings import stream_batches as batches
from mappings.models import EventSourceMapping
from tests.unit.stream_fakes import ARN, run


@pytest.fixture
def mapping(make_function):
    return EventSourceMapping.objects.create(
        function=make_function(name=f"f{uuid.uuid4().hex[:6]}"), event_source_arn=ARN, kind="kinesis",
        starting_position="TRIM_HORIZON",
    )


def _rec(seq, size=10, key="k"):
    from mappings.sources import Record

    return Record(seq, datetime.now(UTC), size, {"kinesis": {"partitionKey": key, "data": "x" * size}})


def test_a_batch_stops_short_of_the_payload_limit():
    queue = [_rec(i, size=100) for i in range(10)]
    assert len(batches.take(queue, 10, max_bytes=500)) < 10
    assert len(batches.take(queue, 3)) == 3
    assert len(batches.take([_rec(1, size=1000)], 5, max_bytes=10)) == 1  # never empty


def test_batch_item_failure_reports():
    batch = [_rec(5), _rec(6), _rec(7)]
    assert batches.first_failed(None, batch) is None
    assert batches.first_failed('{"batchItemFailures": []}', batch) is None
    assert batches.first_failed('{"batchItemFailures": null}', batch) is None
    assert batches.first_failed('{"other": 1}', batch) is None
    two = '{"batchItemFailures": [{"itemIdentifier": "7"}, {"itemIdentifier": "6"}]}'
    assert batches.first_failed(two, batch) == 1
    for bad in (
        '{"batchItemFailures": [{"itemIdentifier": ""}]}',
        '{"batchItemFailures": [{"itemIdentifier": null}]}',
        '{"batchItemFailures": [{"id": "6"}]}', '{"batchItemFailures": "6"}',
    ):
        with pytest.raises(batches.MalformedReport):
            batches.first_failed(bad, batch)


def test_the_dynamodb_failure_record_names_its_batch(mapping):
    m = mapping
    m.kind, m.event_source_arn = "dynamodb", "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024"
    body = failures.record(m, "shardId-00001", [_rec(10), _rec(12)], condition="RecordAgeExceeded", invokes=0)
    info = body["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == "10" and info["endSequenceNumber"] == "12"
    assert info["batchSize"] == 2
    assert body["requestContext"]["functionArn"] == m.function.arn


def test_a_lease_is_one_holders_until_released_or_expired(redis_url):
    import asyncio

    import redis.asyncio

    from mappings.leases import Leases, lease_key

    async def scenario():
        client = redis.asyncio.Redis.from_url(redis_url)
        a, b = Leases(client, "a", 300), Leases(client, "b", 300)
        key = lease_key("m", "shardId-0")
        assert await a.take(key) and await a.take(key)  # its holder keeps it
        assert not await b.take(key)
        assert await b.renew([key]) == set() and await a.renew([key]) == {key}
        await b.release(key)  # not b's: still a's
        assert await a.holds(key)
        await a.release(key)
        assert await b.take(key)
        await asyncio.sleep(0.5)  # b stops renewing: the lease expires
        assert await a.take(key) and not await b.holds(key)
        await client.aclose()

    run(scenario)
