"""The kinds of event source a mapping can read, registered by the apps
that own them from their `AppConfig.ready()`:

    sources.register(KinesisSource())     # kinesis app
    sources.register(DynamoDBStreamSource())  # tables app
    sources.register(QueueSource())       # messaging app

This app never imports those apps (they sit above it); it only calls what
they registered. Sequence numbers are ints here (Kinesis's and DynamoDB
Streams' are decimal strings that compare as integers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Protocol

from functions.models import Team


@dataclass(frozen=True)
class Shard:
    """A shard of a stream. `parent_shard_id`'s records come first (Lambda
    finishes a parent before its children); `closed` once it takes no more
    records (after a reshard), so a poller that read it all is done with it."""

    shard_id: str
    parent_shard_id: str | None = None
    closed: bool = False
    # Kinesis's AdjacentParentShardId (a merge): also finished first.
    adjacent_parent_shard_id: str | None = None
    # Every other shard to finish first: a reshard's child can overlap more
    # than two parents' hash ranges (UpdateShardCount 5 -> 3), and each
    # holds older records of some of its keys.
    after: tuple[str, ...] = ()
    # Which incarnation of the stream the shard belongs to (Kinesis: the
    # stream row's id): a stream deleted and created again under the same
    # ARN reuses shard ids, and a poller must not carry a run of the old
    # shard on into the new one.
    generation: str = ""

    def must_follow(self) -> tuple[str, ...]:
        """The shards whose records come before this one's: parent,
        adjacent parent and `after`."""
        found = [p for p in (self.parent_shard_id, self.adjacent_parent_shard_id, *self.after) if p]
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Record:
    """One record as a stream mapping sees it: `sequence_number` (int),
    `arrival` (ApproximateArrivalTimestamp / ApproximateCreationDateTime,
    aware UTC), `size` (bytes, for the 6 MB batch limit), and `event` — the
    entry of the Lambda event's `Records` list, complete (eventSourceARN,
    eventID, ... as AWS sends it)."""

    sequence_number: int
    arrival: datetime
    size: int
    event: dict

    @cached_property
    def text(self) -> str:
        """`event` as compact JSON text, serialized once: a batch's size
        (stream_batches.take) and its payload both need it."""
        return json.dumps(self.event, separators=(",", ":"))


class Source(Protocol):
    """What every kind offers. `kind` is EventSourceMapping.kind
    ("sqs", "kinesis", "dynamodb"); `exists` answers whether the team owns
    the source named by `arn` (CreateEventSourceMapping's
    InvalidParameterValueException otherwise)."""

    kind: str

    def matches(self, arn: str) -> bool:
        """Whether `arn` names a source of this kind (by ARN service and resource)."""

    def exists(self, team: Team, arn: str) -> bool: ...

    # Optional: `check(function, arn) -> str | None`, a reason Lambda would
    # refuse this function on this source (SQS: a visibility timeout shorter
    # than the function's timeout), raised by mappings.configure as
    # InvalidParameterValueException.


class StreamSource(Source, Protocol):
    """A Kinesis stream or a DynamoDB stream, read by mappings/stream pollers."""

    def shards(self, arn: str) -> list[Shard]:
        """Every shard of the stream still holding records, parents first."""

    def read(self, arn: str, shard_id: str, after: int | None, limit: int) -> list[Record]:
        """Up to `limit` records of the shard with a sequence number above
        `after` (None: from the oldest record kept), in order."""

    def position(self, arn: str, shard_id: str, starting: str, at: datetime | None) -> int | None:
        """The `after` to begin a new checkpoint with: None for
        TRIM_HORIZON; the shard's last sequence number for LATEST (so only
        newer records are read); for AT_TIMESTAMP the last one that arrived
        before `at`."""

    def wake_channel(self, arn: str) -> str:
        """The Redis pub/sub channel published to (mappings.wakeups.notify)
        after each committed write to the stream."""


_sources: list[Source] = []


def register(source: Source) -> None:
    """Serve mappings of `source.kind`; registering a kind again replaces it."""
    _sources[:] = [s for s in _sources if s.kind != source.kind] + [source]


def for_arn(arn: str) -> Source | None:
    """The registered kind whose ARNs `arn` looks like, or None."""
    return next((s for s in _sources if s.matches(arn)), None)


def of_kind(kind: str) -> Source | None:
    return next((s for s in _sources if s.kind == kind), None)
