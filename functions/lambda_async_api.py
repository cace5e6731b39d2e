"""The Lambda API's async-invocation config and reserved concurrency, which
live under later API dates than 2015-03-31:

- 2019-09-25: Put/Update/Get/DeleteFunctionEventInvokeConfig
- 2017-10-31: Put/DeleteFunctionConcurrency
- 2019-09-30: GetFunctionConcurrency

Authentication, team scoping and error shapes are lambda_api's; validation is
invocations.delivery's and invocations.concurrency's, after the body's
JSON types were checked against botocore's model (lambda_api._body)."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from awsapi import arns, errors
from awsapi.guard import api_view, require_write
from functions.lambda_api import _body, _get_function, _given, _not_supported
from functions.models import ApiKey, Function
from invocations import concurrency, delivery
from invocations.models import EventInvokeConfig

DEFAULT = delivery.Settings()


def _config_shape(fn: Function, config: EventInvokeConfig) -> dict:
    destination_config = {}
    if config.on_success:
        destination_config["OnSuccess"] = {"Destination": config.on_success}
    if config.on_failure:
        destination_config["OnFailure"] = {"Destination": config.on_failure}
    return {
        # rest-json timestamps are epoch seconds.
        "LastModified": config.updated_at.timestamp(),
        "FunctionArn": arns.function_arn(fn.team.account_id, fn.name, "$LATEST"),
        "MaximumRetryAttempts": config.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": config.maximum_event_age_s,
        "DestinationConfig": destination_config,
    }


def _no_config(fn: Function) -> errors.AwsError:
    return errors.AwsError(
        404, "ResourceNotFoundException",
        f"The function {fn.arn} doesn't have an EventInvokeConfig",
    )


def _destination(body: dict, key: str, current: str | None) -> str | None:
    """The requested ARN, "" to remove, or `current` when not mentioned."""
    config = body.get("DestinationConfig")
    if config is None:
        return current
    if not isinstance(config, dict):
        raise errors.invalid_parameter("DestinationConfig must be an object with OnSuccess and OnFailure.")
    if key not in config:
        return current
    entry = config[key] or {}
    if not isinstance(entry, dict):
        raise errors.invalid_parameter(f"DestinationConfig.{key} must be an object with a Destination.")
    return entry.get("Destination") or ""


def _store(fn: Function, body: dict, base: delivery.Settings) -> HttpResponse:
    """Put (base = defaults) or Update (base = what is stored)."""
    wanted = delivery.Settings(
        _given(body, "MaximumRetryAttempts", base.maximum_retry_attempts),
        _given(body, "MaximumEventAgeInSeconds", base.maximum_event_age_s),
        _destination(body, "OnSuccess", base.on_success),
        _destination(body, "OnFailure", base.on_failure),
    )
    try:
        cleaned = delivery.clean(fn, wanted)
    except delivery.ConfigError as e:
        raise errors.invalid_parameter(str(e)) from None
    return JsonResponse(_config_shape(fn, delivery.save_config(fn, cleaned)))


@api_view
def event_invoke_config_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """Put (PUT: unnamed members take Lambda's defaults), Update (POST:
    only the named members change), Get and Delete
    FunctionEventInvokeConfig. Retries 0-2, maximum event age 60-21600 s,
    destinations: ARNs of the team's functions, topics or queues."""
    fn = _get_function(request, key, function_name)
    if request.method == "GET":
        if not delivery.has_config(fn):
            raise _no_config(fn)
        return JsonResponse(_config_shape(fn, delivery.config_for(fn)))
    if request.method not in ("PUT", "POST", "DELETE"):
        raise _not_supported(request)
    require_write(key)
    if request.method == "DELETE":
        if not EventInvokeConfig.objects.filter(function=fn).delete()[0]:
            raise _no_config(fn)
        return HttpResponse(status=204)
    if request.method == "PUT":
        return _store(fn, _body(request, "PutFunctionEventInvokeConfig"), DEFAULT)
    body = _body(request, "UpdateFunctionEventInvokeConfig")
    # Update changes only what the request names (on top of the defaults
    # when nothing is stored yet).
    with transaction.atomic():
        return _store(fn, body, delivery.settings_of(delivery.config_for(fn)))


@api_view
def concurrency_view(request: HttpRequest, key: ApiKey, function_name: str) -> HttpResponse:
    """Put (ReservedConcurrentExecutions, a whole number from 0 to
    concurrency.MAX_RESERVED), Get and Delete FunctionConcurrency."""
    fn = _get_function(request, key, function_name)
    if request.method == "GET":
        if fn.reserved_concurrency is None:
            return JsonResponse({})
        return JsonResponse({"ReservedConcurrentExecutions": fn.reserved_concurrency})
    if request.method == "PUT":
        require_write(key)
        body = _body(request, "PutFunctionConcurrency")
        if "ReservedConcurrentExecutions" not in body:
            raise errors.invalid_parameter("ReservedConcurrentExecutions is required.")
        value = body["ReservedConcurrentExecutions"]
        if value is None or isinstance(value, bool):
            raise errors.invalid_parameter("ReservedConcurrentExecutions must be a whole number.")
        try:
            reserved = concurrency.clean_reserved(value)
        except concurrency.ReservedConcurrencyError as e:
            raise errors.invalid_parameter(str(e)) from None
        concurrency.set_reserved(fn, reserved)
        return JsonResponse({"ReservedConcurrentExecutions": reserved})
    if request.method == "DELETE":
        require_write(key)
        concurrency.set_reserved(fn, None)
        return HttpResponse(status=204)
    raise _not_supported(request)
