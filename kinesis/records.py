"""Writing and reading records: PutRecord/PutRecords routing, shard
iterators and GetRecords, shared by the API, the console and the stream
source of event source mappings.

Rules (Amazon Kinesis Data Streams API Reference): a record's data is at
most 1 MiB (1048576 bytes) and its partition key 1 to 256 Unicode
characters; PutRecords takes 1 to 500 records and at most 5 MiB in all,
partition keys included; GetRecords returns at most 10000 records and 10 MiB;
an iterator expires 5 minutes after it was handed out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kinesis import errors, routing, streams
from kinesis.models import Record, Shard, Stream
from mappings import wakeups

MAX_DATA = 1024 * 1024
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_BATCH_RECORDS = 500
MAX_GET_RECORDS = 10000
MAX_GET_BYTES = 10 * 1024 * 1024
ITERATOR_TTL_S = 300
_SALT = "kinesis.shard-iterator"
# How many reshards in a row a write waits out before giving up.
RESHARD_WAITS = 20


@dataclass(frozen=True)
class Entry:
    """One record to put: its partition key, data, and the hash key
    (ExplicitHashKey, else the partition key's MD5)."""

    partition_key: str
    data: bytes
    hash_key: int


def entry(partition_key, data, explicit_hash_key=None, member: str = "") -> Entry:
    """Checks one record's fields (ValidationException /
    InvalidArgumentException in Kinesis's words); `member` is the wire path
    prefix for messages (`records.2.member.`). A partition key is Unicode
    text: the door refuses a lone surrogate for every service
    (awsapi.protocols.parser), and forms decode what they are sent."""
    if not isinstance(data, bytes | bytearray):
        raise errors.validation(None, f"{member}data", "Member must not be null")
    if len(data) > MAX_DATA:
        raise errors.validation(
            f"java.nio.HeapByteBuffer[pos=0 lim={len(data)} cap={len(data)}]", f"{member}data",
            f"Member must have length less than or equal to {MAX_DATA}",
        )
    if not isinstance(partition_key, str):
        raise errors.validation(None, f"{member}partitionKey", "Member must not be null")
    if not 1 <= len(partition_key) <= 256:
        raise errors.validation(
            partition_key, f"{member}partitionKey",
            "Member must have length less than or equal to 256" if partition_key
            else "Member must have length greater than or equal to 1",
        )
    if explicit_hash_key is not None:
        key = routing.explicit_hash_key(explicit_hash_key)
        if key is None:
            raise errors.invalid(
                f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                f"Specified value was {explicit_hash_key}"
            )
    else:
        key = routing.hash_key(partition_key)
    return Entry(partition_key, bytes(data), key)


def put(stream: Stream, entries: list[Entry]) -> list[tuple[Shard, Record]]:
    """Store `entries` in the shards owning their hash keys, in order, in
    one transaction, and wake the stream's pollers once it commits.
    Locking the open shards keeps a shard's commits in sequence-number
    order (a reader never skips a record that commits late) and waits out
    a reshard closing them."""
    now = to_millis(timezone.now())
    with transaction.atomic():
        shards = streams.open_shards(stream, lock=True)
        for _ in range(RESHARD_WAITS):
            if shards:
                break
            # PostgreSQL: a reshard committed while we waited for its locks;
            # the shards it closed no longer match, and a new statement sees
            # the shards it opened (unless another reshard closes them first).
            shards = streams.open_shards(stream, lock=True)
        if not shards:
            raise errors.gone(f"Stream {stream.name} under account {stream.team.account_id} not found.")
        ranges = [(int(s.hash_start), int(s.hash_end)) for s in shards]
        rows = [
            Record(shard=shards[routing.owner(ranges, e.hash_key)],
                   partition_key_utf8=e.partition_key.encode("utf-8"),
                   data=e.data, arrival=now)
            for e in entries
        ]
        Record.objects.bulk_create(rows)
        wakeups.notify(stream.arn)
    return [(r.shard, r) for r in rows]


def to_millis(moment: datetime) -> datetime:
    """`moment` cut to whole milliseconds: Kinesis's precision for
    ApproximateArrivalTimestamp, so the time a reader is given back is the
    stored one and AT_TIMESTAMP at it finds the record itself."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# Iterators ---------------------------------------------------------------------


def iterator(stream: Stream, shard: Shard, after: int, created: float | None = None) -> str:
    """An opaque, signed iterator: records of `shard` above sequence number `after`."""
    payload = {"s": str(stream.id), "i": shard.index, "a": after, "t": round(created or time.time(), 3)}
    return signing.dumps(payload, salt=_SALT, compress=True)


@dataclass(frozen=True)
class Position:
    stream_id: str
    shard_index: int
    after: int
    created: float


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def decode(text) -> Position:
    """The position an iterator stands for. InvalidArgumentException for
    text that is not one of ours; ExpiredIteratorException after 5 minutes."""
    try:
        payload = signing.loads(str(text), salt=_SALT)
        found = Position(str(payload["s"]), int(payload["i"]), int(payload["a"]), float(payload["t"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise errors.invalid(f"Invalid ShardIterator: {str(text)[:64]}... is not an iterator this "
                             "server handed out (GetShardIterator gives one).") from None
    now = time.time()
    if now - found.created > ITERATOR_TTL_S:
        raise errors.expired(
            f"Iterator expired. The iterator was created at time {_at(found.created)} while right now "
            f"it is {_at(now)} which is further in the future than the tolerated delay of "
            f"{ITERATOR_TTL_S * 1000} milliseconds."
        )
    return found


def last_sequence(shard: Shard) -> int:
    """The shard's newest record's sequence number, or just below its start."""
    top = Record.objects.filter(shard=shard).order_by("-id").values_list("id", flat=True).first()
    return top if top is not None else shard.starting_sequence - 1


def start_after(stream: Stream, shard: Shard, kind: str, sequence: str | None = None,
                at: datetime | None = None) -> int:
    """GetShardIterator's ShardIteratorType as the sequence number to read after."""
    if kind == "TRIM_HORIZON":
        return shard.starting_sequence - 1
    if kind == "LATEST":
        return last_sequence(shard)
    if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if sequence is None:
            raise errors.invalid(f"StartingSequenceNumber is required for ShardIteratorType {kind}.")
        number = int(sequence) if isinstance(sequence, str) and sequence.isdigit() else None
        # No record of the shard is above its end, or above the newest record yet.
        top = shard.ending_sequence if shard.closed else streams.next_sequence() - 1
        if number is None or number < shard.starting_sequence or number > top:
            raise errors.invalid(
                f"StartingSequenceNumber {sequence} used in GetShardIterator on shard {shard.shard_id} "
                f"in stream {stream.name} under account {stream.team.account_id} is invalid because it "
                "did not come from this stream."
            )
        return number - 1 if kind == "AT_SEQUENCE_NUMBER" else number
    if kind == "AT_TIMESTAMP":
        if at is None:
            raise errors.invalid("Must specify timestampInMillis parameter for iterator of type "
                                 "AT_TIMESTAMP. Current request has no timestamp parameter.")
        now = timezone.now()
        if at > now:
            raise errors.invalid(
                f"The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                f"timestampInMillis: {int(at.timestamp() * 1000)}, "
                f"currentTimestampInMillis: {int(now.timestamp() * 1000)}"
            )
        # Inclusive: a record that arrived at `at` (to the millisecond) is read.
        before = (Record.objects.filter(shard=shard, arrival__lt=to_millis(at)).order_by("-id")
                  .values_list("id", flat=True).first())
        return before if before is not None else shard.starting_sequence - 1
    raise errors.validation(
        kind, "shardIteratorType",
        "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, "
        "AT_TIMESTAMP, TRIM_HORIZON, LATEST]",
    )


def read(stream: Stream, shard: Shard, after: int, limit: int, max_bytes: int = MAX_GET_BYTES,
         now: datetime | None = None) -> tuple[list[Record], bool]:
    """Up to `limit` records of `shard` above `after`, within retention and
    `max_bytes` of data (at least one); and whether they reach the shard's
    current end. Rows are fetched in chunks, so a page of large records
    stops at `max_bytes` instead of loading `limit` of them."""
    cutoff = (now or timezone.now()) - timedelta(hours=stream.retention_hours)
    found = (Record.objects.filter(shard=shard, id__gt=after, arrival__gte=cutoff)
             .order_by("id")[: limit + 1])
    rows: list[Record] = []
    total = 0
    for row in found.iterator(chunk_size=64):
        size = len(row.data)
        if len(rows) == limit or (rows and total + size > max_bytes):
            return rows, False
        rows.append(row)
        total += size
    return rows, True


def child_shards(shard: Shard) -> list[Shard]:
    return list(Shard.objects.filter(stream_id=shard.stream_id)
                .filter(Q(parent_index=shard.index) | Q(adjacent_parent_index=shard.index)).order_by("index"))


def record_out(row: Record) -> dict:
    return {
        "SequenceNumber": row.sequence_number, "ApproximateArrivalTimestamp": row.arrival,
        "Data": bytes(row.data), "PartitionKey": row.partition_key,
    }
