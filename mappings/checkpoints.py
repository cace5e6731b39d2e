"""Where each stream mapping has got to in each shard (ShardCheckpoint
rows): created from the mapping's StartingPosition when a shard is first
leased, moved forward after each finished batch, marked finished when a
closed shard was read to its end (its children may start then).

Blocking (Django ORM); the pollers call these from their event loop
through sync_to_async."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from mappings.models import EventSourceMapping, ShardCheckpoint
from mappings.sources import Shard, StreamSource


def start(mapping: EventSourceMapping, shard: Shard, source: StreamSource) -> ShardCheckpoint:
    """The shard's checkpoint, created from the mapping's StartingPosition
    when missing (LATEST: after the last record written before the mapping
    was created or last modified). A child shard (its parent is known) starts at its
    beginning whatever the StartingPosition, as Lambda reads every record
    after a reshard."""
    found = ShardCheckpoint.objects.filter(mapping=mapping, shard_id=shard.shard_id).first()
    if found is not None:
        return found
    parents = list(shard.must_follow())
    if parents and ShardCheckpoint.objects.filter(mapping=mapping, shard_id__in=parents).exists():
        after = None
    else:
        starting, at = mapping.starting_position or "LATEST", mapping.starting_position_at
        if starting == "LATEST":
            # New records: those written since the mapping was created (or
            # last changed, e.g. enabled), so a record written between
            # CreateEventSourceMapping and the first poll is not skipped.
            starting, at = "AT_TIMESTAMP", mapping.modified_at
        after = source.position(mapping.event_source_arn, shard.shard_id, starting, at)
    try:
        with transaction.atomic():
            return ShardCheckpoint.objects.create(
                mapping=mapping, shard_id=shard.shard_id, sequence_number=after,
            )
    except IntegrityError:
        # Another worker created it first (it held the lease before us).
        return ShardCheckpoint.objects.get(mapping=mapping, shard_id=shard.shard_id)


def advance(mapping_id, shard_id: str, sequence_number: int) -> bool:
    """Move the checkpoint to `sequence_number`, never backwards (a worker
    that lost its lease mid-batch must not undo its successor's progress)."""
    return bool(
        ShardCheckpoint.objects.filter(mapping_id=mapping_id, shard_id=shard_id)
        .filter(Q(sequence_number__isnull=True) | Q(sequence_number__lt=sequence_number))
        .update(sequence_number=sequence_number, updated_at=timezone.now())
    )


def finish(mapping_id, shard_id: str) -> None:
    ShardCheckpoint.objects.filter(mapping_id=mapping_id, shard_id=shard_id).update(
        finished=True, updated_at=timezone.now()
    )


def finished(mapping_ids) -> set[tuple[str, str]]:
    """(mapping id text, shard id) of every finished shard of these mappings."""
    return {
        (str(m), s)
        for m, s in ShardCheckpoint.objects.filter(mapping_id__in=list(mapping_ids), finished=True)
        .values_list("mapping_id", "shard_id")
    }


def forget(arn: str) -> int:
    """Drop every checkpoint of the mappings reading the stream `arn`: the
    stream was deleted (or one of that ARN created), and a new stream's
    shards reuse the old ids (`shardId-000000000000`), so an old checkpoint
    (a sequence number, `finished`) must never apply to them. Called by the
    apps owning streams inside their delete/create transaction. Returns how
    many rows went."""
    return ShardCheckpoint.objects.filter(mapping__event_source_arn=arn).delete()[0]
