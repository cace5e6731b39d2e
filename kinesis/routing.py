"""Which shard a record goes to, and how shards split the hash key space
(pure, no Django). Source: Kinesis Data Streams Developer Guide, "Terminology
and concepts" and the PutRecord reference: "An MD5 hash function is used to
map partition keys to 128-bit integer values", each shard owning a
contiguous HashKeyRange; ExplicitHashKey replaces the hash. A stream of N
uniform shards gives shard i the keys from i * floor(2**128 / N) up to the
next shard's start minus one (the last shard up to 2**128 - 1), as
CreateStream does: DescribeStream of a real 6-shard stream shows shard 2
starting at 113427455640312821154458202477256070484 = 2 * floor(2**128 / 6),
where floor(2 * 2**128 / 6) would be one more."""

from __future__ import annotations

import hashlib
import re

MAX_HASH_KEY = (1 << 128) - 1
_DECIMAL = re.compile(r"^(0|[1-9]\d{0,38})$")


def hash_key(partition_key: str) -> int:
    """The MD5 of the partition key's UTF-8 bytes as a big-endian 128-bit integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def explicit_hash_key(text: str) -> int | None:
    """ExplicitHashKey as an integer, or None when it is not a decimal in [0, 2**128 - 1]."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_HASH_KEY else None


def uniform_ranges(count: int) -> list[tuple[int, int]]:
    """`count` contiguous (start, end) ranges covering [0, 2**128 - 1]:
    equal widths of floor(2**128 / count), the remainder in the last."""
    width = (1 << 128) // count
    starts = [i * width for i in range(count)]
    ends = [s - 1 for s in starts[1:]] + [MAX_HASH_KEY]
    return list(zip(starts, ends, strict=True))


def owner(ranges: list[tuple[int, int]], key: int) -> int:
    """The index in `ranges` (sorted, contiguous) of the range holding `key`."""
    low, high = 0, len(ranges) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if ranges[middle][0] <= key:
            low = middle
        else:
            high = middle - 1
    return low


def parents(old: list[tuple[int, int]], new: tuple[int, int]) -> tuple[int, int | None]:
    """A new range's ParentShardId and AdjacentParentShardId among the old
    ranges (indexes into `old`): the old range holding its start, and the
    one holding its end when that is another."""
    first = owner(old, new[0])
    last = owner(old, new[1])
    return first, (last if last != first else None)
