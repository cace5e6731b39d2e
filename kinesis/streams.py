"""Streams and shards: creating, resharding, retention and deleting, shared
by the Kinesis API (kinesis.kinesis_api) and the console. Rules and words
from the Amazon Kinesis Data Streams API Reference (CreateStream,
UpdateShardCount, Increase/DecreaseStreamRetentionPeriod) and the
Developer Guide's quotas page (500 shards per account by default; a
reshard scales to at most double, at least half the open shards)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from awsapi import arns
from functions.models import Team
from kinesis import errors, routing
from kinesis.models import Record, Shard, Stream, hash_text
from mappings import checkpoints

NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
ON_DEMAND_SHARDS = 4
# Kinesis's default shard quota per account and region.
SHARD_LIMIT = 500
MAX_RETENTION_HOURS = 8760


def min_retention_hours() -> int:
    """Kinesis's minimum, 24 hours; lower when the operator's default is
    (STRATUS_KINESIS_RETENTION_HOURS), so such a stream can be set back."""
    return min(24, settings.STRATUS_KINESIS_RETENTION_HOURS)


def check_name(name) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise errors.validation(
            name, "streamName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ "
            "and have length between 1 and 128",
        )
    return name


def get(team: Team, name: str) -> Stream:
    stream = Stream.objects.select_related("team").filter(team=team, name=name).first()
    if stream is None:
        raise errors.not_found(name, team.account_id)
    return stream


def name_of_arn(team: Team, arn: str) -> str:
    """The stream name of a Kinesis stream ARN of the team's account and
    this region; ResourceNotFoundException for an ARN of another account."""
    try:
        parsed = arns.parse(arn)
    except arns.ArnError:
        raise errors.invalid(f"StreamARN {arn} is not a Kinesis stream ARN "
                             "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).") from None
    if parsed.service != "kinesis" or not parsed.resource.startswith("stream/"):
        raise errors.invalid(f"StreamARN {arn} is not a Kinesis stream ARN "
                             "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).")
    name = parsed.resource.removeprefix("stream/")
    if parsed.account != team.account_id or parsed.region != settings.STRATUS_REGION:
        raise errors.not_found(name, parsed.account)
    return name


def next_sequence() -> int:
    """Above every record written so far: a new shard's StartingSequenceNumber
    (ids are handed out in increasing order, so the shard's records are above)."""
    return (Record.objects.aggregate(top=Max("id"))["top"] or 0) + 1


def _check_quota(team: Team, adding: int) -> None:
    open_now = Shard.objects.filter(stream__team=team, closed_at__isnull=True).count()
    if open_now + adding > SHARD_LIMIT:
        raise errors.limit(
            f"This request would exceed the shard limit for the account {team.account_id} in "
            f"{settings.STRATUS_REGION}. Current shard count for the account: {open_now}. Limit: "
            f"{SHARD_LIMIT}. Number of additional shards that would have resulted from this request: "
            f"{adding}."
        )


def create(team: Team, name: str, shard_count: int, mode: str = "PROVISIONED",
           tags: dict | None = None) -> Stream:
    """A new ACTIVE stream of `shard_count` uniform shards.
    ResourceInUseException when the team has a stream of that name."""
    check_name(name)
    _check_quota(team, shard_count)
    try:
        with transaction.atomic():
            stream = Stream.objects.create(team=team, name=name, mode=mode, tags=dict(tags or {}),
                                           next_shard_index=shard_count)
            start = next_sequence()
            Shard.objects.bulk_create([
                Shard(stream=stream, index=i, hash_start=hash_text(low), hash_end=hash_text(high),
                      starting_sequence=start, created_at=stream.created_at)
                for i, (low, high) in enumerate(routing.uniform_ranges(shard_count))
            ])
    except IntegrityError:
        raise errors.in_use(f"Stream {name} under account {team.account_id} already exists.") from None
    return stream


def delete(stream: Stream) -> None:
    """The stream, its shards and records, and the checkpoints of the
    mappings reading it (mappings.checkpoints.forget). Records go in one
    statement (a plain DELETE: nothing cascades from them)."""
    with transaction.atomic():
        Record.objects.filter(shard__stream=stream).delete()
        Shard.objects.filter(stream=stream).delete()
        stream.delete()
        # Mappings on it stay (Lambda keeps them); their positions go with
        # it. (A row a poller writes after this is of the old generation, and
        # never applies to a stream created again: mappings.checkpoints.start.)
        checkpoints.forget(stream.arn)


def open_shards(stream: Stream, *, lock: bool = False) -> list[Shard]:
    found = Shard.objects.filter(stream=stream, closed_at__isnull=True).order_by("hash_start")
    return list(found.select_for_update() if lock else found)


def shard_by_id(stream: Stream, shard_id: str) -> Shard | None:
    """The stream's shard named `shard_id` ("shardId-" and its index's
    digits), closed or not; None for no such shard or a name not so made."""
    if not shard_id.startswith("shardId-") or not shard_id[8:].isdigit():
        return None
    return Shard.objects.filter(stream=stream, index=int(shard_id[8:])).first()


def kept_shards(stream: Stream, now: datetime | None = None):
    """The shards DescribeStream and ListShards show: open ones and closed
    ones whose records may still be within retention."""
    cutoff = (now or timezone.now()) - timedelta(hours=stream.retention_hours)
    return Shard.objects.filter(stream=stream).exclude(closed_at__lt=cutoff).order_by("index")


def reshard(stream: Stream, target: int) -> int:
    """UpdateShardCount's UNIFORM_SCALING: close every open shard and open
    `target` uniform shards, each with the closed shard holding its start
    as ParentShardId (and the one holding its end as AdjacentParentShardId
    when another). Returns the count of open shards before. The closed
    shards get an EndingSequenceNumber above all their records: their
    rows are locked, so no record is being added to them meanwhile."""
    if stream.mode == "ON_DEMAND":
        raise errors.invalid(
            f"UpdateShardCount is not supported for stream {stream.name} under account "
            f"{stream.team.account_id} in ON_DEMAND mode."
        )
    with transaction.atomic():
        current = open_shards(stream, lock=True)
        count = len(current)
        if target == count:
            return count
        if target > 2 * count or target * 2 < count:
            raise errors.limit(
                f"UpdateShardCount request for stream {stream.name} under account "
                f"{stream.team.account_id}: target shard count {target} must be between half and "
                f"double the current open shard count {count} ({(count + 1) // 2} to {2 * count})."
            )
        if target > count:
            _check_quota(stream.team, target - count)
        now = timezone.now()
        ending = next_sequence() - 1
        old = [(int(s.hash_start), int(s.hash_end)) for s in current]
        first = Stream.objects.select_for_update().get(pk=stream.pk).next_shard_index
        fresh = []
        for i, new in enumerate(routing.uniform_ranges(target)):
            parent, adjacent = routing.parents(old, new)
            fresh.append(Shard(
                stream=stream, index=first + i, parent_index=current[parent].index,
                adjacent_parent_index=None if adjacent is None else current[adjacent].index,
                hash_start=hash_text(new[0]), hash_end=hash_text(new[1]),
                starting_sequence=ending + 1, created_at=now,
            ))
        for shard in current:
            shard.closed_at = now
            shard.ending_sequence = max(ending, shard.starting_sequence)
        Shard.objects.bulk_update(current, ["closed_at", "ending_sequence"])
        Shard.objects.bulk_create(fresh)
        Stream.objects.filter(pk=stream.pk).update(next_shard_index=first + target)
        stream.next_shard_index = first + target
    return count


def set_retention(stream: Stream, hours, *, increase: bool) -> None:
    """Increase/DecreaseStreamRetentionPeriod (hours, 24 to 8760)."""
    if not isinstance(hours, int) or isinstance(hours, bool):
        raise errors.validation(hours, "retentionPeriodHours", "Member must not be null")
    low = min_retention_hours()
    if hours < low:
        raise errors.invalid(
            f"Minimum allowed retention period is {low} hours. "
            f"Requested retention period ({hours} hours) is too short."
        )
    if hours > MAX_RETENTION_HOURS:
        raise errors.invalid(
            f"Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. "
            f"Requested retention period ({hours} hours) is too long."
        )
    if increase and hours < stream.retention_hours:
        raise errors.invalid(
            f"Requested retention period ({hours} hours) for stream {stream.name} can not be shorter "
            f"than existing retention period ({stream.retention_hours} hours). "
            "Use DecreaseRetentionPeriod API."
        )
    if not increase and hours > stream.retention_hours:
        raise errors.invalid(
            f"Requested retention period ({hours} hours) for stream {stream.name} can not be longer "
            f"than existing retention period ({stream.retention_hours} hours). "
            "Use IncreaseRetentionPeriod API."
        )
    Stream.objects.filter(pk=stream.pk).update(retention_hours=hours)
    stream.retention_hours = hours


def trim(now: datetime | None = None) -> int:
    """Delete every record past its stream's retention, and closed shards
    whose records all are (a closed shard's records arrived before it
    closed). Returns how many records went. Safe to run twice at once."""
    now = now or timezone.now()
    removed = 0
    for stream_id, hours in Stream.objects.values_list("id", "retention_hours"):
        cutoff = now - timedelta(hours=hours)
        removed += Record.objects.filter(shard__stream_id=stream_id, arrival__lt=cutoff).delete()[0]
        Shard.objects.filter(stream_id=stream_id, closed_at__lt=cutoff).delete()
    return removed
