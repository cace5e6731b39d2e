"""Creating, changing and deleting event source mappings, with Lambda's
rules (CreateEventSourceMapping / UpdateEventSourceMapping in the Lambda
API reference, and "Lambda event source mappings"): the one place both the
Lambda API (mappings.lambda_esm_api) and the console's forms go through.

Settings use the model's field names (EventSourceMapping):

    batch_size, batching_window_s, enabled, filter_criteria (the wire dict),
    function_response_types, max_concurrency, starting_position,
    starting_position_at, parallelization_factor, max_retry_attempts,
    max_record_age_s, bisect_on_error, tumbling_window_s, on_failure_arn,
    priority

Every refusal is a `MappingError` whose `code` is Lambda's error code
(InvalidParameterValueException, ResourceConflictException) and whose text
is Lambda's message where Lambda's is known; nothing is stored then.

Per kind (Lambda's defaults and limits):
- sqs: BatchSize 1-10000, default 10; above 10 needs a batching window
  (MaximumBatchingWindowInSeconds > 0); FIFO queues at most 10 and no
  window. No StartingPosition, ParallelizationFactor, retries, record age,
  bisecting, tumbling window or DestinationConfig (stream settings).
  ScalingConfig.MaximumConcurrency 2-1000.
- kinesis / dynamodb: BatchSize 1-10000, default 100; StartingPosition
  required (AT_TIMESTAMP with StartingPositionTimestamp, Kinesis only);
  ParallelizationFactor 1-10; MaximumRetryAttempts -1..10000;
  MaximumRecordAgeInSeconds -1 or 60..604800; TumblingWindowInSeconds
  0-900; DestinationConfig.OnFailure an SQS queue or SNS topic of the team;
  no ScalingConfig.
- every kind: MaximumBatchingWindowInSeconds 0-300; FunctionResponseTypes
  [] or ["ReportBatchItemFailures"]; FilterCriteria as mappings.event_filter."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from awsapi import arns
from functions.models import Function
from invocations import destinations
from invocations.models import PRIORITIES
from mappings import event_filter, sources
from mappings.models import EventSourceMapping

INVALID = "InvalidParameterValueException"
CONFLICT = "ResourceConflictException"
DEFAULT_BATCH = {"sqs": 10, "kinesis": 100, "dynamodb": 100}
MAX_BATCH = 10000
SQS_BATCH_WITHOUT_WINDOW = 10
FIFO_MAX_BATCH = 10
RESPONSE_TYPES = ("ReportBatchItemFailures",)
# Settings that only stream mappings take, by their Lambda names.
STREAM_ONLY = {
    "starting_position": "StartingPosition",
    "starting_position_at": "StartingPositionTimestamp",
    "parallelization_factor": "ParallelizationFactor",
    "max_retry_attempts": "MaximumRetryAttempts",
    "max_record_age_s": "MaximumRecordAgeInSeconds",
    "bisect_on_error": "BisectBatchOnFunctionError",
    "tumbling_window_s": "TumblingWindowInSeconds",
    "on_failure_arn": "DestinationConfig",
}
SQS_ONLY = {"max_concurrency": "ScalingConfig"}
# What UpdateEventSourceMapping may change (StartingPosition and the source are fixed).
UPDATABLE = {
    "batch_size", "batching_window_s", "enabled", "filter_criteria", "function_response_types",
    "max_concurrency", "parallelization_factor", "max_retry_attempts", "max_record_age_s",
    "bisect_on_error", "tumbling_window_s", "on_failure_arn", "priority",
}


# A setting given empty, to clear it (UpdateEventSourceMapping's
# `ScalingConfig: {}`, `DestinationConfig: {"OnFailure": {}}`).
CLEAR = object()
_CLEARED = {"max_concurrency": None, "on_failure_arn": "", "filter_criteria": None}


class MappingError(ValueError):
    """A mapping Lambda would refuse: `code` is the Lambda error code."""

    def __init__(self, message: str, code: str = INVALID, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


def source_of(arn: str) -> sources.Source:
    """The registered kind of source `arn` names, or MappingError."""
    source = sources.for_arn(arn) if isinstance(arn, str) else None
    if source is None:
        raise MappingError(
            "Unrecognized event source, must be kinesis, dynamodb stream or sqs.", field="event_source_arn"
        )
    return source


def _missing_source(kind: str, arn: str) -> str:
    if kind == "sqs":
        return (
            "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist or you do not have access to it."
        )
    return f"Stream not found: {arn}"


def create(function: Function, arn: str, qualifier: str = "", **settings) -> EventSourceMapping:
    """A new mapping of `function` reading `arn` (stored Enabled, or
    Disabled with enabled=False). MappingError for what Lambda refuses:
    an unknown or missing source, a second mapping of the same function
    and source (ResourceConflictException), a setting out of its range or
    not for this kind. `qualifier`: the version or alias it runs ("" for
    $LATEST; its existence is the caller's to check)."""
    arn = (arn or "").strip()
    source = source_of(arn)
    kind = source.kind
    if not source.exists(function.team, arn):
        raise MappingError(_missing_source(kind, arn), field="event_source_arn")
    unknown = set(settings) - UPDATABLE - {"starting_position", "starting_position_at"}
    if unknown:
        raise TypeError(f"unknown mapping settings: {sorted(unknown)}")
    mapping = EventSourceMapping(
        function=function, event_source_arn=arn, kind=kind, qualifier=qualifier or ""
    )
    mapping.batch_size = DEFAULT_BATCH[kind]
    mapping.max_retry_attempts = -1
    mapping.max_record_age_s = -1
    for field, value in settings.items():
        if value is not None and value is not CLEAR:
            setattr(mapping, field, value)
    _check(mapping, set(k for k, v in settings.items() if v is not None), source)
    mapping.state = "Enabled" if mapping.enabled else "Disabled"
    mapping.state_reason = "USER_INITIATED"
    with transaction.atomic():
        existing = (
            EventSourceMapping.objects.select_for_update()
            .filter(function=function, event_source_arn=arn)
            .first()
        )
        if existing is not None:
            raise _already_mapped(arn, function, existing)
        now = timezone.now()
        mapping.created_at = mapping.modified_at = now
        mapping.save()
    return mapping


def _already_mapped(arn: str, function: Function, existing: EventSourceMapping) -> MappingError:
    """Lambda's ResourceConflictException for a second mapping of one
    function and source (Create, or Update moving a mapping)."""
    return MappingError(
        f'The event source arn (" {arn} ") and function (" {function.name} ") provided mapping '
        f"already exists. Please update or delete the existing mapping with UUID {existing.id}",
        CONFLICT,
    )


def update(
    mapping: EventSourceMapping, function: Function | None = None, qualifier: str | None = None, **changes
) -> EventSourceMapping:
    """Change some settings (None values are left as they are; an empty
    FilterCriteria clears the filters). `function` moves the mapping to
    another function of the team (UpdateEventSourceMapping's FunctionName).
    MappingError as for create; nothing is saved then."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise TypeError(f"unknown mapping settings: {sorted(unknown)}")
    given = {k: v for k, v in changes.items() if v is not None}
    # The kind is stored: a mapping can change (be disabled, say) even when
    # its source's app is not installed here.
    source = sources.for_arn(mapping.event_source_arn)
    if mapping.state in ("Creating", "Deleting"):
        raise MappingError(
            f"Cannot update the event source mapping {mapping.id}: it is {mapping.state}.",
            "ResourceInUseException",
        )
    with transaction.atomic():
        fresh = EventSourceMapping.objects.select_for_update().get(pk=mapping.pk)
        for field, value in given.items():
            setattr(fresh, field, _CLEARED.get(field) if value is CLEAR else value)
        if function is not None and function.pk != fresh.function_id:
            clash = EventSourceMapping.objects.filter(
                function=function, event_source_arn=fresh.event_source_arn
            ).exclude(pk=fresh.pk).first()
            if clash is not None:
                raise _already_mapped(fresh.event_source_arn, function, clash)
            fresh.function = function
        if qualifier is not None:
            fresh.qualifier = qualifier
        _check(fresh, set(given), source)
        if "enabled" in given:
            fresh.state = "Enabled" if fresh.enabled else "Disabled"
            fresh.state_reason = "USER_INITIATED"
        fresh.modified_at = timezone.now()
        fresh.save()
    return fresh


def set_enabled(mapping: EventSourceMapping, enabled: bool) -> EventSourceMapping:
    return update(mapping, enabled=enabled)


def delete(mapping: EventSourceMapping) -> EventSourceMapping:
    """Delete the mapping (its checkpoints go with it); the returned object
    is the mapping as it was, in state "Deleting" (DeleteEventSourceMapping's
    answer)."""
    EventSourceMapping.objects.filter(pk=mapping.pk).delete()
    mapping.state = "Deleting"
    return mapping


# Checks --------------------------------------------------------------------


def _range(value, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MappingError(f"{name} must be between {low} and {high}; got {value!r}.")


def _check(mapping: EventSourceMapping, given: set[str], source) -> None:
    kind = mapping.kind
    if kind == "sqs":
        for field, name in STREAM_ONLY.items():
            if field in given:
                raise MappingError(f"Unsupported parameter for SQS event sources: {name}.", field=field)
    else:
        for field, name in SQS_ONLY.items():
            if field in given:
                raise MappingError(
                    f"Unsupported parameter for {kind} event sources: {name}. ScalingConfig applies to SQS.",
                    field=field,
                )
    _range(mapping.batch_size, "BatchSize", 1, MAX_BATCH)
    _range(mapping.batching_window_s, "MaximumBatchingWindowInSeconds", 0, 300)
    if mapping.priority not in dict(PRIORITIES):
        raise MappingError(f"Priority must be one of {', '.join(dict(PRIORITIES))}.", field="priority")
    types = mapping.function_response_types or []
    if not isinstance(types, list) or len(types) > 1 or any(t not in RESPONSE_TYPES for t in types):
        raise MappingError(
            'FunctionResponseTypes must be [] or ["ReportBatchItemFailures"].',
            field="function_response_types",
        )
    if mapping.filter_criteria is not None or "filter_criteria" in given:
        try:
            mapping.filter_criteria = event_filter.parse(mapping.filter_criteria).criteria
        except event_filter.InvalidFilter as e:
            raise MappingError(str(e), field="filter_criteria") from None
    if kind == "sqs":
        _check_sqs(mapping, source)
    else:
        _check_stream(mapping, given)


def _check_sqs(mapping: EventSourceMapping, source) -> None:
    fifo = mapping.event_source_arn.endswith(".fifo")
    if fifo and mapping.batch_size > FIFO_MAX_BATCH:
        raise MappingError(
            f"BatchSize must be between 1 and {FIFO_MAX_BATCH} for a FIFO queue; got {mapping.batch_size}.",
            field="batch_size",
        )
    if fifo and mapping.batching_window_s:
        raise MappingError(
            "MaximumBatchingWindowInSeconds is not supported for FIFO queues.", field="batching_window_s"
        )
    if mapping.batch_size > SQS_BATCH_WITHOUT_WINDOW and not mapping.batching_window_s:
        raise MappingError(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            field="batching_window_s",
        )
    if mapping.max_concurrency is not None:
        _range(mapping.max_concurrency, "ScalingConfig.MaximumConcurrency", 2, 1000)
    check = getattr(source, "check", None)
    if check is not None:
        problem = check(mapping.function, mapping.event_source_arn)
        if problem:
            raise MappingError(problem, field="function")


def _check_stream(mapping: EventSourceMapping, given: set[str]) -> None:
    if not mapping.starting_position:
        raise MappingError(
            "StartingPosition is required for Kinesis and DynamoDB Streams event sources.",
            field="starting_position",
        )
    if mapping.starting_position == "AT_TIMESTAMP":
        if mapping.kind != "kinesis":
            raise MappingError("Unsupported starting position for DynamoDB Streams: AT_TIMESTAMP.")
        if mapping.starting_position_at is None:
            raise MappingError("StartingPositionTimestamp must be provided with AT_TIMESTAMP.")
    elif mapping.starting_position_at is not None:
        raise MappingError("StartingPositionTimestamp is only valid with the AT_TIMESTAMP starting position.")
    _range(mapping.parallelization_factor, "ParallelizationFactor", 1, 10)
    _range(mapping.max_retry_attempts, "MaximumRetryAttempts", -1, 10000)
    age = mapping.max_record_age_s
    if isinstance(age, bool) or not isinstance(age, int) or not (age == -1 or 60 <= age <= 604800):
        raise MappingError(f"MaximumRecordAgeInSeconds must be -1 or between 60 and 604800; got {age!r}.")
    _range(mapping.tumbling_window_s, "TumblingWindowInSeconds", 0, 900)
    if mapping.on_failure_arn:
        _check_on_failure(mapping)


def _check_on_failure(mapping: EventSourceMapping) -> None:
    arn = mapping.on_failure_arn.strip()
    try:
        service = arns.parse(arn).service
    except arns.ArnError:
        service = None
    if service not in ("sqs", "sns"):
        raise MappingError(
            f"The destination ARN {arn} is invalid: an on-failure destination of a stream mapping is an "
            "SQS queue or an SNS topic."
        )
    try:
        mapping.on_failure_arn = destinations.validate(mapping.function, arn)
    except destinations.DestinationError as e:
        raise MappingError(str(e)) from None
