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
    when missing, or when the row left is of another generation of the
    stream (deleted and created again under its ARN: its shards reuse the
    old ids). LATEST: after the last record written before the mapping was
    created or last modified. A child shard (its parent is known) starts at
    its beginning whatever the StartingPosition, as Lambda reads every
    record after a reshard."""
    found = ShardCheckpoint.objects.filter(mapping=mapping, shard_id=shard.shard_id).first()
    if found is not None and found.generation == shard.generation:
        return found
    parents = list(shard.must_follow())
    if parents and ShardCheckpoint.objects.filter(
        mapping=mapping, shard_id__in=parents, generation=shard.generation
    ).exists():
        after = None
    else:
        starting, at = mapping.starting_position or "LATEST", mapping.starting_position_at
        if starting == "LATEST":
            # New records: those written since the mapping was created (or
            # last changed, e.g. enabled), so a record written between
            # CreateEventSourceMapping and the first poll is not skipped.
            starting, at = "AT_TIMESTAMP", mapping.modified_at
        after = source.position(mapping.event_source_arn, shard.shard_id, starting, at)
    fresh = {"sequence_number": after, "finished": False, "generation": shard.generation,
             "updated_at": timezone.now()}
    if found is not None:
        # Only the stale row we saw: a worker that replaced it first wins.
        ShardCheckpoint.objects.filter(pk=found.pk, generation=found.generation).update(**fresh)
        return ShardCheckpoint.objects.get(pk=found.pk)
    try:
        with transaction.atomic():
            return ShardCheckpoint.objects.create(mapping=mapping, shard_id=shard.shard_id, **fresh)
    except IntegrityError:
        # Another worker created it first (it held the lease before us).
        return ShardCheckpoint.objects.get(mapping=mapping, shard_id=shard.shard_id)


def advance(mapping_id, shard: Shard, sequence_number: int) -> bool:
    """Move the checkpoint to `sequence_number`, never backwards (a worker
    that lost its lease mid-batch must not undo its successor's progress),
    and only the row of the shard's own generation."""
    return bool(
        ShardCheckpoint.objects.filter(
            mapping_id=mapping_id, shard_id=shard.shard_id, generation=shard.generation
        )
        .filter(Q(sequence_number__isnull=True) | Q(sequence_number__lt=sequence_number))
        .update(sequence_number=sequence_number, updated_at=timezone.now())
    )


def finish(mapping_id, shard: Shard) -> None:
    ShardCheckpoint.objects.filter(
        mapping_id=mapping_id, shard_id=shard.shard_id, generation=shard.generation
    ).update(
        finished=True, updated_at=timezone.now()
    )


def finished(mapping_ids) -> set[tuple[str, str, str]]:
    """(mapping id text, shard id, generation) of every finished shard of
    these mappings."""
    return {
        (str(m), s, g)
        for m, s, g in ShardCheckpoint.objects.filter(mapping_id__in=list(mapping_ids), finished=True)
        .values_list("mapping_id", "shard_id", "generation")
    }


def forget(arn: str) -> int:
    """Drop every checkpoint of the mappings reading the stream `arn`, as
    the app owning it deletes the stream (the mappings stay, as Lambda's
    do; their positions go with the stream). Returns how many rows went."""
    return ShardCheckpoint.objects.filter(mapping__event_source_arn=arn).delete()[0]
