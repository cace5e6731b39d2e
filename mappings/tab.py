"""What the function page's Triggers tab shows of a function's event source
mappings (SQS, Kinesis and DynamoDB alike): plain data, one dict a mapping.

The triggers app sits above this one (functions < invocations < mappings <
triggers), so the provider that turns these into `triggers.registry`
rows, with the toggle and delete URLs, lives in messaging.triggers,
registered from MessagingConfig.ready()."""

from __future__ import annotations

from awsapi import arns
from functions.models import Function
from mappings.models import EventSourceMapping

KIND_LABELS = {"sqs": "SQS queue", "kinesis": "Kinesis stream", "dynamodb": "DynamoDB stream"}


def source_name(mapping: EventSourceMapping) -> str:
    """The queue's, stream's or table's name from the ARN (the ARN itself
    when it has no such part)."""
    try:
        resource = arns.parse(mapping.event_source_arn).resource
    except arns.ArnError:
        return mapping.event_source_arn
    if mapping.kind == "kinesis":
        return resource.removeprefix("stream/")
    if mapping.kind == "dynamodb":
        # table/<name>/stream/<label>
        parts = resource.split("/")
        return f"{parts[1]} (stream {parts[3]})" if len(parts) == 4 else resource
    return resource


def positions(mapping: EventSourceMapping) -> list[tuple[str, str]]:
    """(shard id, last finished sequence number or "—") per shard of a
    stream mapping, from its checkpoints; [] for SQS or none yet."""
    # Sorted here, not with order_by(), so rows()' prefetched checkpoints
    # serve it without a query per mapping.
    return [
        (c.shard_id, "—" if c.sequence_number is None else str(c.sequence_number)
         + (" (finished)" if c.finished else ""))
        for c in sorted(mapping.checkpoints.all(), key=lambda c: c.shard_id)
    ]


def describe(mapping: EventSourceMapping, where: list[tuple[str, str]] | None = None) -> str:
    """One line: state, batch settings, filters, position, last result and
    error. `where`: positions(mapping) when the caller has it already."""
    parts = [mapping.state, f"batch {mapping.batch_size}", f"window {mapping.batching_window_s} s"]
    if mapping.kind != "sqs":
        parts.append(f"from {mapping.starting_position}")
        where = positions(mapping) if where is None else where
        parts.append(
            "position " + (", ".join(f"{shard}: {seq}" for shard, seq in where) if where else "not started")
        )
    elif mapping.max_concurrency:
        parts.append(f"max concurrency {mapping.max_concurrency}")
    filters = len((mapping.filter_criteria or {}).get("Filters") or [])
    if filters:
        parts.append(f"{filters} filter(s)")
    if mapping.function_response_types:
        parts.append(", ".join(mapping.function_response_types))
    parts.append(f"priority {mapping.priority}")
    if mapping.qualifier:
        parts.append(f"runs {mapping.function.name}:{mapping.qualifier}")
    parts.append(f"last result: {mapping.last_processing_result}")
    if mapping.last_error:
        parts.append(f"last error: {mapping.last_error[:200]}")
    return " · ".join(parts)


def rows(fn: Function) -> list[dict]:
    """Every mapping of `fn`, oldest first: {mapping, kind (label), target
    (the source's name), arn, trigger (Invocation.trigger key), enabled,
    state, batch_size, positions, last_processing_result, last_error,
    last_fired_at, description}."""
    found = EventSourceMapping.objects.filter(function=fn).prefetch_related("checkpoints")
    return [_row(m, positions(m) if m.kind != "sqs" else []) for m in found]


def _row(m: EventSourceMapping, where: list[tuple[str, str]]) -> dict:
    return {
        "mapping": m,
        "kind": KIND_LABELS.get(m.kind, m.kind),
        "target": source_name(m),
        "arn": m.event_source_arn,
        "trigger": m.trigger,
        "enabled": m.enabled,
        "state": m.state,
        "batch_size": m.batch_size,
        "positions": where,
        "last_processing_result": m.last_processing_result,
        "last_error": m.last_error,
        "last_fired_at": m.last_fired_at,
        "description": describe(m, where),
    }
