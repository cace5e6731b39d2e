"""The Lambda API's async-invocation operations, which live under other API
dates than 2015-03-31 (botocore's model puts them there):

- 2019-09-25: Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s), one
  config per qualifier ($LATEST, a version or an alias: the FunctionName's
  `:qualifier` or the Qualifier parameter; none is $LATEST)
- 2017-10-31: Put/DeleteFunctionConcurrency; 2019-09-30: GetFunctionConcurrency
- 2014-11-13: InvokeAsync (deprecated by AWS, still in boto3)

Handlers as in functions.lambda_api (`handler(context, params) -> dict`,
served by the AWS front door); validation is invocations.delivery's and
invocations.concurrency's, after the request's JSON types were checked
against botocore's model (functions.lambda_door.check_input)."""

from django.db import IntegrityError, transaction

from awsapi import arns, errors, services
from functions import invoke_api, lambda_paging
from functions.lambda_api import get_function_of, latest_function_of, qualified_name
from functions.models import Function
from invocations import concurrency, delivery, dispatch
from invocations.models import EventInvokeConfig

DEFAULT = delivery.Settings()


def _qualifier(fn: Function) -> str:
    """The config's qualifier: what get_function_of resolved (None: $LATEST)."""
    return delivery.qualifier_key(fn.qualifier)


def _config_shape(fn: Function, config: EventInvokeConfig) -> dict:
    destination_config = {}
    if config.on_success:
        destination_config["OnSuccess"] = {"Destination": config.on_success}
    if config.on_failure:
        destination_config["OnFailure"] = {"Destination": config.on_failure}
    return {
        "LastModified": config.updated_at,
        # Lambda answers with the qualified ARN, $LATEST included.
        "FunctionArn": arns.function_arn(fn.team.account_id, fn.name, config.qualifier),
        "MaximumRetryAttempts": config.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": config.maximum_event_age_s,
        "DestinationConfig": destination_config,
    }


def _no_config(fn: Function) -> errors.AwsError:
    arn = arns.function_arn(fn.team.account_id, fn.name, _qualifier(fn))
    return errors.resource_not_found(f"The function {arn} doesn't have an EventInvokeConfig")


def _destination(parameters: dict, key: str, current: str | None) -> str | None:
    """The requested ARN, "" to remove, or `current` when not mentioned."""
    config = parameters.get("DestinationConfig")
    if config is None or key not in config:
        return current
    return (config[key] or {}).get("Destination") or ""


def _store(fn: Function, parameters: dict, base: delivery.Settings) -> dict:
    """Put (base = defaults) or Update (base = what is stored)."""
    wanted = delivery.Settings(
        parameters.get("MaximumRetryAttempts", base.maximum_retry_attempts),
        parameters.get("MaximumEventAgeInSeconds", base.maximum_event_age_s),
        _destination(parameters, "OnSuccess", base.on_success),
        _destination(parameters, "OnFailure", base.on_failure),
    )
    try:
        cleaned = delivery.clean(fn, wanted)
    except delivery.ConfigError as e:
        raise errors.invalid_parameter(str(e)) from None
    return _config_shape(fn, delivery.save_config(fn, cleaned, _qualifier(fn)))


# Event invoke config -----------------------------------------------------------


def put_function_event_invoke_config(context: services.Context, parameters: dict) -> dict:
    """PutFunctionEventInvokeConfig of the function or of the version or
    alias its Qualifier names (ResourceNotFoundException when none): members
    not named take Lambda's defaults. Retries 0-2, maximum event age
    60-21600 s, destinations: ARNs of the team's functions, topics or
    queues (InvalidParameterValueException)."""
    return _store(get_function_of(context.key, parameters), parameters, DEFAULT)


def update_function_event_invoke_config(context: services.Context, parameters: dict) -> dict:
    """UpdateFunctionEventInvokeConfig: only the named members change (on
    top of the defaults when nothing is stored yet for that qualifier)."""
    fn = get_function_of(context.key, parameters)
    with transaction.atomic():
        current = delivery.config_for(fn, _qualifier(fn))
        return _store(fn, parameters, delivery.settings_of(current))


def get_function_event_invoke_config(context: services.Context, parameters: dict) -> dict:
    """GetFunctionEventInvokeConfig of one qualifier; ResourceNotFoundException without one."""
    fn = get_function_of(context.key, parameters)
    if not delivery.has_config(fn, _qualifier(fn)):
        raise _no_config(fn)
    return _config_shape(fn, delivery.config_for(fn, _qualifier(fn)))


def delete_function_event_invoke_config(context: services.Context, parameters: dict) -> services.Reply:
    """DeleteFunctionEventInvokeConfig of one qualifier (204);
    ResourceNotFoundException without one."""
    fn = get_function_of(context.key, parameters)
    if not delivery.delete_config(fn, _qualifier(fn)):
        raise _no_config(fn)
    return services.Reply({}, status=204)


def list_function_event_invoke_configs(context: services.Context, parameters: dict) -> dict:
    """ListFunctionEventInvokeConfigs: every qualifier's config, $LATEST
    first, then versions by number, then aliases by name. MaxItems 1-50
    (default 50); Marker: the qualifier the previous page ended with.
    The FunctionName takes no qualifier (InvalidParameterValueException)."""
    fn = latest_function_of(context.key, parameters, "ListFunctionEventInvokeConfigs")
    configs = delivery.configs_of(fn)
    if marker := parameters.get("Marker"):
        seen = [c.qualifier for c in configs]
        if marker not in seen:
            raise errors.invalid_parameter(f"Marker {marker!r} is not one this operation gave.")
        configs = configs[seen.index(marker) + 1:]
    return lambda_paging.page("FunctionEventInvokeConfigs", configs, lambda_paging.max_items(parameters),
                              lambda config: _config_shape(fn, config), lambda config: config.qualifier)


# Reserved concurrency ------------------------------------------------------------


def put_function_concurrency(context: services.Context, parameters: dict) -> dict:
    """PutFunctionConcurrency: ReservedConcurrentExecutions, a whole number
    from 0 to concurrency.MAX_RESERVED that leaves the team at least its
    unreserved minimum (concurrency.check_reservation; both
    InvalidParameterValueException, nothing stored)."""
    fn = latest_function_of(context.key, parameters, "PutFunctionConcurrency")
    try:
        reserved = concurrency.clean_reserved(parameters["ReservedConcurrentExecutions"])
        concurrency.set_reserved(fn, reserved)
    except concurrency.ReservedConcurrencyError as e:
        raise errors.invalid_parameter(str(e)) from None
    return {"ReservedConcurrentExecutions": reserved}


def get_function_concurrency(context: services.Context, parameters: dict) -> dict:
    """GetFunctionConcurrency: {} when the function has no reservation."""
    fn = get_function_of(context.key, parameters)
    if fn.reserved_concurrency is None:
        return {}
    return {"ReservedConcurrentExecutions": fn.reserved_concurrency}


def delete_function_concurrency(context: services.Context, parameters: dict) -> services.Reply:
    """DeleteFunctionConcurrency (204)."""
    concurrency.set_reserved(latest_function_of(context.key, parameters, "DeleteFunctionConcurrency"), None)
    return services.Reply({}, status=204)


# InvokeAsync ---------------------------------------------------------------------


def invoke_async(context: services.Context, parameters: dict) -> dict:
    """InvokeAsync (POST /2014-11-13/functions/NAME/invoke-async/): the body
    is the event, queued as Invoke with InvocationType Event does (at most
    1 MB of JSON); 202 with {"Status": 202}."""
    # As Invoke: an alias picks its version by weight for each event.
    name, qualifier, missing = qualified_name(context.key, parameters["FunctionName"], None)
    fn = invoke_api.target(context.key.team, name, qualifier)
    if fn is None:
        raise missing
    payload = parameters.get("InvokeArgs") or b""
    if len(payload) > invoke_api.ASYNC_PAYLOAD_MAX:
        raise errors.too_large(invoke_api.ASYNC_PAYLOAD_MAX, "the InvokeAsync operation")
    invoke_api.check_payload(payload)
    try:
        dispatch.submit_async(fn, payload.decode("utf-8") if payload else "{}", source="api")
    except IntegrityError:
        raise errors.not_found(fn.arn) from None  # deleted meanwhile
    return {"Status": 202}


HANDLERS = {
    "PutFunctionEventInvokeConfig": put_function_event_invoke_config,
    "UpdateFunctionEventInvokeConfig": update_function_event_invoke_config,
    "GetFunctionEventInvokeConfig": get_function_event_invoke_config,
    "DeleteFunctionEventInvokeConfig": delete_function_event_invoke_config,
    "ListFunctionEventInvokeConfigs": list_function_event_invoke_configs,
    "PutFunctionConcurrency": put_function_concurrency,
    "GetFunctionConcurrency": get_function_concurrency,
    "DeleteFunctionConcurrency": delete_function_concurrency,
    "InvokeAsync": invoke_async,
}
READS = {"GetFunctionEventInvokeConfig", "ListFunctionEventInvokeConfigs", "GetFunctionConcurrency"}
