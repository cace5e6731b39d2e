"""The Lambda API's event source mapping operations on the AWS front door:
CreateEventSourceMapping, GetEventSourceMapping, ListEventSourceMappings,
UpdateEventSourceMapping and DeleteEventSourceMapping (botocore's `lambda`
model: REST JSON under /2015-03-31/event-source-mappings), added to the
"lambda" service that functions.lambda_door registers (`register()`, from
MappingsConfig.ready()), so Lambda's input check (lambda_door.check_input:
ValidationException for out-of-range members) applies to them too.

Answers are EventSourceMappingConfiguration: UUID, EventSourceArn,
FunctionArn, BatchSize, MaximumBatchingWindowInSeconds, FilterCriteria,
FunctionResponseTypes, LastModified (epoch seconds), LastProcessingResult,
State, StateTransitionReason, EventSourceMappingArn
(`arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>`); SQS adds
ScalingConfig; streams add StartingPosition(Timestamp),
ParallelizationFactor, DestinationConfig, MaximumRecordAgeInSeconds,
BisectBatchOnFunctionError, MaximumRetryAttempts, TumblingWindowInSeconds.

States, as Lambda reports them: Create answers "Creating" (the mapping is
then "Enabled", or "Disabled" when Enabled=false); Update answers
"Disabling" / "Enabling" when Enabled changes, else "Updating"; Delete
answers "Deleting" and the mapping is gone.

Errors (Lambda's codes): InvalidParameterValueException (a bad or
unsupported setting, a source that does not exist: mappings.configure's
words), ResourceNotFoundException (no such UUID or function),
ResourceConflictException (the function already maps that source)."""

from __future__ import annotations

import uuid as uuidlib

from awsapi import arns, errors, services
from functions import lambda_api, lambda_paging, qualifiers
from invocations import qualified
from functions.models import Function
from mappings import configure
from mappings.models import EventSourceMapping

LIST_DEFAULT = 100
NOT_FOUND = "The resource you requested does not exist."
# Members of the model this server does not serve (Kafka, MQ, DocumentDB,
# self-managed sources, KMS, metrics and logging settings, tags).
UNSUPPORTED = (
    "KMSKeyArn", "MetricsConfig", "LoggingConfig", "Tags", "Topics", "Queues", "SourceAccessConfigurations",
    "SelfManagedEventSource", "AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig", "ProvisionedPollerConfig",
)


def mapping_arn(account: str, uuid) -> str:
    """EventSourceMappingArn: arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>."""
    return arns.build("lambda", account, f"event-source-mapping:{uuid}")


def configuration(mapping: EventSourceMapping, state: str | None = None) -> dict:
    """EventSourceMappingConfiguration of `mapping` (State `state` when the
    operation answers with a transitional one)."""
    fn = mapping.function
    out: dict = {
        "UUID": str(mapping.id),
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.batching_window_s,
        "EventSourceArn": mapping.event_source_arn,
        "FunctionArn": mapping.function_arn,
        "LastModified": mapping.modified_at,
        "LastProcessingResult": mapping.last_processing_result,
        "State": state or mapping.state,
        "StateTransitionReason": mapping.state_reason,
        "FunctionResponseTypes": list(mapping.function_response_types or []),
        "EventSourceMappingArn": mapping_arn(fn.team.account_id, mapping.id),
    }
    if mapping.filter_criteria:
        out["FilterCriteria"] = mapping.filter_criteria
    if mapping.kind == "sqs":
        if mapping.max_concurrency:
            out["ScalingConfig"] = {"MaximumConcurrency": mapping.max_concurrency}
        return out
    out.update({
        "StartingPosition": mapping.starting_position,
        "ParallelizationFactor": mapping.parallelization_factor,
        "DestinationConfig": {
            "OnFailure": {"Destination": mapping.on_failure_arn} if mapping.on_failure_arn else {}
        },
        "MaximumRecordAgeInSeconds": mapping.max_record_age_s,
        "BisectBatchOnFunctionError": mapping.bisect_on_error,
        "MaximumRetryAttempts": mapping.max_retry_attempts,
        "TumblingWindowInSeconds": mapping.tumbling_window_s,
    })
    if mapping.starting_position_at is not None:
        out["StartingPositionTimestamp"] = mapping.starting_position_at
    return out


# Reading the input -----------------------------------------------------------


def _refuse_unsupported(parameters: dict) -> None:
    for name in UNSUPPORTED:
        if parameters.get(name) not in (None, [], {}):
            raise errors.invalid_parameter(f"{name} is not supported by this server's event source mappings.")


def _settings(parameters: dict) -> dict:
    """configure's settings from the operation's members (None: not given;
    configure.CLEAR: given empty, to clear)."""
    settings: dict = {
        "batch_size": parameters.get("BatchSize"),
        "batching_window_s": parameters.get("MaximumBatchingWindowInSeconds"),
        "enabled": parameters.get("Enabled"),
        "filter_criteria": parameters.get("FilterCriteria"),
        "function_response_types": parameters.get("FunctionResponseTypes"),
        "parallelization_factor": parameters.get("ParallelizationFactor"),
        "max_retry_attempts": parameters.get("MaximumRetryAttempts"),
        "max_record_age_s": parameters.get("MaximumRecordAgeInSeconds"),
        "bisect_on_error": parameters.get("BisectBatchOnFunctionError"),
        "tumbling_window_s": parameters.get("TumblingWindowInSeconds"),
    }
    if "ScalingConfig" in parameters:
        scaling = parameters["ScalingConfig"] or {}
        value = scaling.get("MaximumConcurrency")
        settings["max_concurrency"] = configure.CLEAR if value is None else value
    if "DestinationConfig" in parameters:
        destination = parameters["DestinationConfig"] or {}
        if (destination.get("OnSuccess") or {}).get("Destination"):
            raise errors.invalid_parameter(
                "Unsupported DestinationConfig parameter for given event source mapping type: OnSuccess."
            )
        target = (destination.get("OnFailure") or {}).get("Destination")
        settings["on_failure_arn"] = target if target else configure.CLEAR
    return settings


def _function(context: services.Context, value) -> tuple[Function, str]:
    """The function and qualifier FunctionName names (`name`, `name:alias`,
    a partial or full ARN, qualified or not): Lambda maps a version or an
    alias too. ResourceNotFoundException for a missing function, version or
    alias (naming the qualified ARN); $LATEST is stored unqualified."""
    name = value.rsplit(":", 1)[0] if _qualified(value) else value
    fn = lambda_api.get_function_of(context.key, {"FunctionName": name})
    qualifier = value.rsplit(":", 1)[1] if _qualified(value) else ""
    if qualifier in ("", qualifiers.LATEST):
        return fn, ""
    try:
        qualified.resolve(fn, qualifier)
    except qualifiers.QualifierNotFound:
        raise errors.not_found(qualified.qualified_arn(fn, qualifier)) from None
    return fn, qualifier


def _qualified(value) -> bool:
    """Whether a FunctionName ends in a qualifier (`fn:q`, `ACCOUNT:fn:q`,
    `...:function:fn:q`)."""
    try:
        return isinstance(value, str) and arns.split_function_name(value)[2] is not None
    except arns.ArnError:
        return False


def _find(context: services.Context, uuid) -> EventSourceMapping | None:
    """The team's mapping of that UUID; None for another team's, a missing
    one, or a value that is no UUID."""
    key = _uuid(uuid)
    if key is None:
        return None
    return EventSourceMapping.objects.select_related("function__team").filter(
        function__team=context.team, id=key
    ).first()


def _mapping(context: services.Context, uuid) -> EventSourceMapping:
    mapping = _find(context, uuid)
    if mapping is None:
        raise errors.AwsError(404, "ResourceNotFoundException", NOT_FOUND)
    return mapping


def _uuid(value) -> str | None:
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        return None


def _lambda_error(e: configure.MappingError) -> errors.AwsError:
    status = {"ResourceConflictException": 409, "ResourceInUseException": 400}.get(e.code, 400)
    return errors.AwsError(status, e.code, str(e))


# Operations --------------------------------------------------------------------


def create_event_source_mapping(context: services.Context, parameters: dict) -> services.Reply:
    """CreateEventSourceMapping (202): an SQS queue, Kinesis stream or
    DynamoDB stream of the caller's team, read into FunctionName."""
    _refuse_unsupported(parameters)
    arn = parameters.get("EventSourceArn")
    if not arn:
        raise errors.invalid_parameter("EventSourceArn is required for this event source mapping type.")
    fn, qualifier = _function(context, parameters["FunctionName"])
    settings = {k: v for k, v in _settings(parameters).items() if v is not None and v is not configure.CLEAR}
    settings["starting_position"] = parameters.get("StartingPosition")
    settings["starting_position_at"] = parameters.get("StartingPositionTimestamp")
    try:
        mapping = configure.create(fn, arn, qualifier=qualifier, **settings)
    except configure.MappingError as e:
        raise _lambda_error(e) from None
    return services.Reply(configuration(mapping, state="Creating"), status=202)


def get_event_source_mapping(context: services.Context, parameters: dict) -> dict:
    return configuration(_mapping(context, parameters["UUID"]))


def list_event_source_mappings(context: services.Context, parameters: dict) -> dict:
    """ListEventSourceMappings: filtered by EventSourceArn and FunctionName
    (a name or ARN); MaxItems 1-10000 (default 100: the model's
    MaxListItems bounds, which lambda_door.check_input answers with
    ValidationException before this runs); Marker = the last UUID of the
    previous page, NextMarker when there is more."""
    max_items = parameters.get("MaxItems", LIST_DEFAULT)
    found = EventSourceMapping.objects.select_related("function__team").filter(function__team=context.team)
    if arn := parameters.get("EventSourceArn"):
        found = found.filter(event_source_arn=arn)
    if name := parameters.get("FunctionName"):
        # A qualified name lists that version's or alias's mappings only.
        qualifier = name.rsplit(":", 1)[1] if _qualified(name) else None
        bare, _ = lambda_api.function_name(context.key, name.rsplit(":", 1)[0] if qualifier else name)
        found = found.filter(function__name=bare)
        if qualifier is not None:
            found = found.filter(qualifier="" if qualifier == qualifiers.LATEST else qualifier)
    found = found.order_by("created_at", "id")
    if marker := parameters.get("Marker"):
        after = _find(context, marker)
        if after is None:
            raise errors.invalid_parameter(f"Invalid Marker: {marker}")
        found = found.filter(created_at__gt=after.created_at) | found.filter(
            created_at=after.created_at, id__gt=after.id
        )
        found = found.order_by("created_at", "id")
    return lambda_paging.page("EventSourceMappings", found, max_items, configuration, lambda m: str(m.id))


def update_event_source_mapping(context: services.Context, parameters: dict) -> services.Reply:
    """UpdateEventSourceMapping (202): the settings given change, the rest
    stay; FunctionName moves the mapping to another function; an empty
    FilterCriteria clears the filters, an empty ScalingConfig the maximum
    concurrency, an empty DestinationConfig.OnFailure the destination."""
    _refuse_unsupported(parameters)
    mapping = _mapping(context, parameters["UUID"])
    target, qualifier = None, None
    if parameters.get("FunctionName"):
        target, qualifier = _function(context, parameters["FunctionName"])
    was_enabled = mapping.enabled
    try:
        mapping = configure.update(mapping, function=target, qualifier=qualifier, **_settings(parameters))
    except configure.MappingError as e:
        raise _lambda_error(e) from None
    if mapping.enabled != was_enabled:
        state = "Enabling" if mapping.enabled else "Disabling"
    else:
        state = "Updating"
    return services.Reply(configuration(mapping, state=state), status=202)


def delete_event_source_mapping(context: services.Context, parameters: dict) -> services.Reply:
    """DeleteEventSourceMapping (202): the mapping as it was, State "Deleting"."""
    mapping = configure.delete(_mapping(context, parameters["UUID"]))
    return services.Reply(configuration(mapping, state="Deleting"), status=202)


HANDLERS = {
    "CreateEventSourceMapping": create_event_source_mapping,
    "GetEventSourceMapping": get_event_source_mapping,
    "ListEventSourceMappings": list_event_source_mappings,
    "UpdateEventSourceMapping": update_event_source_mapping,
    "DeleteEventSourceMapping": delete_event_source_mapping,
}
READS = {"GetEventSourceMapping", "ListEventSourceMappings"}


def resources(context: services.Context, operation: str, parameters: dict) -> list[tuple[str, str]]:
    """(IAM action, resource) as the Service Authorization Reference names
    them: Create and List act on "*" (Create is conditioned on the
    function), Get, Update and Delete on the mapping's ARN."""
    action = f"lambda:{operation}"
    uuid = _uuid(parameters.get("UUID"))
    if operation in ("CreateEventSourceMapping", "ListEventSourceMappings") or uuid is None:
        return [(action, "*")]
    return [(action, mapping_arn(context.team.account_id, uuid))]


def register() -> None:
    services.extend(lambda_api.SERVICE, HANDLERS, reads=READS, resources=resources)
