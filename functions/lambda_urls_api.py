"""Lambda's function URL operations (/2021-10-31/functions/{FunctionName}/url
and /urls), registered by functions.lambda_door; the rules are
functions.function_urls'. Answers carry FunctionUrl (this server's
/lambda-url/<url_id>/ as the caller reached it), FunctionArn (qualified
when the URL is an alias's), AuthType, Cors when set, InvokeMode and the
times in ISO 8601. Errors as Lambda's: ResourceNotFoundException (no such
function, alias or URL), ResourceConflictException (a URL exists),
InvalidParameterValueException (a bad setting)."""

from datetime import datetime

from awsapi import arns, errors, services
from functions import function_urls, lambda_paging
from functions.lambda_api import function_and_qualifier_of
from functions.models import Function, FunctionUrlConfig

def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def shape(config: FunctionUrlConfig, endpoint: str, *, modified: bool = True) -> dict:
    """A FunctionUrlConfig in Lambda's shape (Create's answer has no
    LastModifiedTime)."""
    fn = config.function
    answer = {
        "FunctionUrl": function_urls.url_of(config, endpoint),
        "FunctionArn": arns.function_arn(fn.team.account_id, fn.name, config.qualifier or None),
        "AuthType": config.auth_type,
        "CreationTime": _time(config.created_at),
        "InvokeMode": config.invoke_mode,
    }
    if config.cors:
        answer["Cors"] = dict(config.cors)
    if modified:
        answer["LastModifiedTime"] = _time(config.updated_at)
    return answer


def _function(context: services.Context, parameters: dict) -> tuple[Function, str | None]:
    # A URL belongs to the function or one of its aliases, named in
    # FunctionName ("fn:live") or Qualifier: function_urls checks the alias.
    return function_and_qualifier_of(context.key, parameters)


def _checked(call):
    try:
        return call()
    except function_urls.QualifierMissing as e:
        raise errors.resource_not_found(f"Alias not found: {e.args[0]}") from None
    except function_urls.UrlExists as e:
        raise errors.conflict(str(e)) from None
    except function_urls.FunctionUrlError as e:
        raise errors.invalid_parameter(str(e)) from None


def create_function_url_config(context: services.Context, parameters: dict) -> services.Reply:
    """CreateFunctionUrlConfig (201)."""
    fn, qualifier = _function(context, parameters)
    config = _checked(lambda: function_urls.create(
        fn, qualifier=qualifier, auth_type=parameters.get("AuthType"), cors=parameters.get("Cors"),
        invoke_mode=parameters.get("InvokeMode"),
    ))
    return services.Reply(shape(config, context.endpoint, modified=False), status=201)


def _existing(context: services.Context, parameters: dict) -> FunctionUrlConfig:
    fn, qualifier = _function(context, parameters)
    _checked(lambda: function_urls.clean_qualifier(fn, qualifier))
    config = function_urls.find(fn, qualifier)
    if config is None:
        raise errors.resource_not_found("The resource you requested does not exist.")
    return config


def get_function_url_config(context: services.Context, parameters: dict) -> dict:
    """GetFunctionUrlConfig."""
    return shape(_existing(context, parameters), context.endpoint)


def update_function_url_config(context: services.Context, parameters: dict) -> dict:
    """UpdateFunctionUrlConfig: the members given change (Cors whole)."""
    config = _existing(context, parameters)
    _checked(lambda: function_urls.update(
        config, auth_type=parameters.get("AuthType"), cors=parameters.get("Cors"),
        invoke_mode=parameters.get("InvokeMode"),
    ))
    return shape(config, context.endpoint)


def delete_function_url_config(context: services.Context, parameters: dict) -> services.Reply:
    """DeleteFunctionUrlConfig (204): the URL stops answering at once."""
    function_urls.delete(_existing(context, parameters))
    return services.Reply({}, status=204)


def list_function_url_configs(context: services.Context, parameters: dict) -> dict:
    """ListFunctionUrlConfigs: the function's URLs (its own, then its
    aliases' by name), MaxItems at most 50 a page, Marker = the last
    qualifier of the previous page."""
    fn, _ = _function(context, parameters)
    configs = FunctionUrlConfig.objects.filter(function=fn).select_related("function__team")
    # The function's own URL (qualifier "") sorts first.
    if (after := lambda_paging.resumes_after("ListFunctionUrlConfigs", parameters)) is not None:
        configs = configs.filter(qualifier__gt=after)
    return lambda_paging.page(
        "FunctionUrlConfigs", configs.order_by("qualifier"), lambda_paging.max_items(parameters),
        lambda config: shape(config, context.endpoint),
        lambda config: lambda_paging.after_marker("ListFunctionUrlConfigs", config.qualifier),
    )


HANDLERS = {
    "CreateFunctionUrlConfig": create_function_url_config,
    "GetFunctionUrlConfig": get_function_url_config,
    "UpdateFunctionUrlConfig": update_function_url_config,
    "DeleteFunctionUrlConfig": delete_function_url_config,
    "ListFunctionUrlConfigs": list_function_url_configs,
}
READS = {"GetFunctionUrlConfig", "ListFunctionUrlConfigs"}
