"""Lambda's operations on versions, aliases and provisioned concurrency
(REST API 2015-03-31 and 2019-09-30), registered on the AWS front door by
functions.lambda_door: PublishVersion, ListVersionsByFunction, CreateAlias,
GetAlias, UpdateAlias, DeleteAlias, ListAliases,
Put/Get/Delete/ListProvisionedConcurrencyConfig(s).

Handlers are `handler(context, params) -> dict` like functions.lambda_api's;
the rules live in functions.versions and functions.provisioned, which
raise Lambda's errors. A FunctionName here names the function itself: a
qualifier in it is refused where Lambda's operation takes none."""

from awsapi import errors, services
from functions import lambda_api, lambda_paging, provisioned, qualifiers, versions
from functions import lambda_shapes as shapes
from functions.lambda_shapes import lambda_time
from functions.models import Alias, Function, FunctionVersion, ProvisionedConcurrencyConfig



def _function(context: services.Context, parameters: dict, operation: str) -> Function:
    """The unqualified function of FunctionName ($LATEST as a qualifier is
    the function too)."""
    return lambda_api.latest_function_of(context.key, {"FunctionName": parameters["FunctionName"]}, operation)


# Shapes ---------------------------------------------------------------------


def alias_configuration(fn: Function, alias: Alias) -> dict:
    """Lambda's AliasConfiguration."""
    shape = {
        "AliasArn": versions.alias_arn(fn, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": str(alias.revision),
    }
    if alias.routing_config:
        shape["RoutingConfig"] = alias.routing_config
    return shape


def provisioned_shape(config: ProvisionedConcurrencyConfig, fn: Function | None = None) -> dict:
    """GetProvisionedConcurrencyConfig's answer (with FunctionArn, the list's
    item). Available = allocated: an allocated environment serves calls."""
    shape = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": min(config.allocated, config.requested),
        "AllocatedProvisionedConcurrentExecutions": min(config.allocated, config.requested),
        "Status": config.status,
        "LastModified": lambda_time(config.updated_at),
    }
    if config.status_reason:
        shape["StatusReason"] = config.status_reason
    if fn is not None:
        shape = {"FunctionArn": versions.version_arn(fn, config.qualifier), **shape}
    return shape


# Versions -------------------------------------------------------------------


def publish_version(context: services.Context, parameters: dict) -> services.Reply:
    """PublishVersion (201): $LATEST frozen as the next version, or the last
    version when nothing changed since (functions.versions.publish)."""
    fn = _function(context, parameters, "PublishVersion")
    version, _new = versions.publish(
        fn, description=parameters.get("Description"), code_sha256=parameters.get("CodeSha256"),
        revision_id=parameters.get("RevisionId"),
    )
    published = qualifiers.resolve(fn, str(version.version))
    return services.Reply(shapes.function_configuration(published), status=201)


def list_versions_by_function(context: services.Context, parameters: dict) -> dict:
    """ListVersionsByFunction: $LATEST first, then the versions by number;
    Marker = the last version of the previous page."""
    fn = _function(context, parameters, "ListVersionsByFunction")
    max_items = lambda_paging.max_items(parameters)
    marker = parameters.get("Marker")
    rows = FunctionVersion.objects.filter(function=fn).order_by("version")
    entries: list = []
    if not marker:
        entries.append(None)  # $LATEST
    elif marker != qualifiers.LATEST:
        if not qualifiers.is_version(marker):
            raise errors.invalid_parameter(f"Marker {marker!r} is not one this operation gave.")
        rows = rows.filter(version__gt=int(marker))
    entries += list(rows[: max_items + 1])
    return lambda_paging.page(
        "Versions", entries, max_items,
        lambda row: shapes.function_configuration(lambda_api.version_of(fn, row)),
        lambda row: qualifiers.LATEST if row is None else str(row.version),
    )


# Aliases --------------------------------------------------------------------


def create_alias(context: services.Context, parameters: dict) -> services.Reply:
    """CreateAlias (201)."""
    fn = _function(context, parameters, "CreateAlias")
    alias = versions.create_alias(
        fn, name=parameters["Name"], function_version=parameters["FunctionVersion"],
        description=parameters.get("Description"), routing_config=parameters.get("RoutingConfig"),
    )
    return services.Reply(alias_configuration(fn, alias), status=201)


def get_alias(context: services.Context, parameters: dict) -> dict:
    fn = _function(context, parameters, "GetAlias")
    return alias_configuration(fn, versions.get_alias(fn, parameters["Name"]))


def update_alias(context: services.Context, parameters: dict) -> dict:
    """UpdateAlias; RevisionId 412 as Lambda."""
    fn = _function(context, parameters, "UpdateAlias")
    alias = versions.update_alias(
        fn, parameters["Name"], function_version=parameters.get("FunctionVersion"),
        description=parameters.get("Description"), routing_config=parameters.get("RoutingConfig"),
        revision_id=parameters.get("RevisionId"),
    )
    return alias_configuration(fn, alias)


def delete_alias(context: services.Context, parameters: dict) -> services.Reply:
    fn = _function(context, parameters, "DeleteAlias")
    versions.delete_alias(fn, parameters["Name"])
    return services.Reply({}, status=204)


def list_aliases(context: services.Context, parameters: dict) -> dict:
    """ListAliases by name; FunctionVersion keeps the aliases that send
    calls to that version (as their own or their additional version)."""
    fn = _function(context, parameters, "ListAliases")
    aliases = Alias.objects.filter(function=fn).order_by("name")
    if (after := lambda_paging.resumes_after("ListAliases", parameters)) is not None:
        aliases = aliases.filter(name__gt=after)
    wanted = parameters.get("FunctionVersion")
    found = [a for a in aliases if wanted is None or a.function_version == wanted
             or wanted in (a.routing_config or {}).get("AdditionalVersionWeights", {})]
    return lambda_paging.page("Aliases", found, lambda_paging.max_items(parameters),
                              lambda alias: alias_configuration(fn, alias),
                              lambda alias: lambda_paging.after_marker("ListAliases", alias.name))


# Provisioned concurrency ----------------------------------------------------------


def _qualifier(parameters: dict) -> str:
    return parameters.get("Qualifier") or ""


def put_provisioned_concurrency_config(context: services.Context, parameters: dict) -> services.Reply:
    """PutProvisionedConcurrencyConfig (202; Status IN_PROGRESS until the
    environments are initialised)."""
    fn = _function(context, parameters, "PutProvisionedConcurrencyConfig")
    config = provisioned.put(fn, _qualifier(parameters), parameters.get("ProvisionedConcurrentExecutions"))
    return services.Reply(provisioned_shape(config), status=202)


def get_provisioned_concurrency_config(context: services.Context, parameters: dict) -> dict:
    fn = _function(context, parameters, "GetProvisionedConcurrencyConfig")
    return provisioned_shape(provisioned.get(fn, _qualifier(parameters)))


def delete_provisioned_concurrency_config(context: services.Context, parameters: dict) -> services.Reply:
    fn = _function(context, parameters, "DeleteProvisionedConcurrencyConfig")
    provisioned.delete(fn, _qualifier(parameters))
    return services.Reply({}, status=204)


def list_provisioned_concurrency_configs(context: services.Context, parameters: dict) -> dict:
    """ListProvisionedConcurrencyConfigs by qualifier; Marker = the last one
    of the previous page."""
    fn = _function(context, parameters, "ListProvisionedConcurrencyConfigs")
    configs = ProvisionedConcurrencyConfig.objects.filter(function=fn).order_by("qualifier")
    operation = "ListProvisionedConcurrencyConfigs"
    if (after := lambda_paging.resumes_after(operation, parameters)) is not None:
        configs = configs.filter(qualifier__gt=after)
    return lambda_paging.page("ProvisionedConcurrencyConfigs", configs, lambda_paging.max_items(parameters),
                              lambda config: provisioned_shape(config, fn),
                              lambda config: lambda_paging.after_marker(operation, config.qualifier))


HANDLERS = {
    "PublishVersion": publish_version,
    "ListVersionsByFunction": list_versions_by_function,
    "CreateAlias": create_alias,
    "GetAlias": get_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
    "PutProvisionedConcurrencyConfig": put_provisioned_concurrency_config,
    "GetProvisionedConcurrencyConfig": get_provisioned_concurrency_config,
    "DeleteProvisionedConcurrencyConfig": delete_provisioned_concurrency_config,
    "ListProvisionedConcurrencyConfigs": list_provisioned_concurrency_configs,
}
READS = {"ListVersionsByFunction", "GetAlias", "ListAliases", "GetProvisionedConcurrencyConfig",
         "ListProvisionedConcurrencyConfigs"}
