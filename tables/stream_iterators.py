"""DynamoDB Streams' shard iterators: opaque tokens naming a position in a
shard, signed with the server's secret (so a client can neither forge nor
alter one) and valid 15 minutes ("A shard iterator expires 15 minutes
after it is returned to the requester", API Reference, GetShardIterator),
after which GetRecords answers ExpiredIteratorException.

A token holds the stream's ARN, the shard id and `after`: the id of the
last record before the position (None: before the oldest record kept)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

from awsapi.protocols import ServiceError

LIFETIME_S = 15 * 60
_SALT = "tables.stream-iterator"


@dataclass(frozen=True)
class Position:
    arn: str
    shard_id: str
    after: int | None


def issue(position: Position) -> str:
    """A new iterator for `position` (well under the model's 2048 characters
    for any stream ARN DynamoDB allows)."""
    return signing.dumps([position.arn, position.shard_id, position.after], salt=_SALT, compress=True)


def read(token: str) -> Position:
    """The position an iterator names. Raises ServiceError
    ExpiredIteratorException past its 15 minutes, ValidationException for
    a token Stratus did not issue."""
    try:
        arn, shard_id, after = signing.loads(token, salt=_SALT, max_age=LIFETIME_S)
    except signing.SignatureExpired:
        raise ServiceError(
            "ExpiredIteratorException",
            "Iterator expired. The iterator was created more than 15 minutes ago; "
            "get a new one with GetShardIterator.",
        ) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise ServiceError(
            "ValidationException", "Invalid ShardIterator: it is not one GetShardIterator returned."
        ) from None
    return Position(arn, shard_id, after)
