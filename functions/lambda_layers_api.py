"""Lambda's layer operations (API 2018-10-31, botocore's lambda model):
PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
ListLayerVersions and DeleteLayerVersion, served by the AWS front door as
the other Lambda operations (registered by functions.lambda_door).

Handlers translate shapes and errors only; the rules live in
functions.layers. The key's team is the account: another account's layer
ARN is AccessDeniedException, an unknown version of one's own
ResourceNotFoundException ("The resource you requested does not exist."),
a bad value InvalidParameterValueException. Lists are paged with MaxItems
(1-50, default 50) and Marker (NextMarker: ListLayers' an opaque token
after the last layer name, functions.lambda_paging.after_marker;
ListLayerVersions' the last version number)."""

from awsapi import errors, services
from functions import lambda_api, lambda_paging, layers
from functions.lambda_shapes import lambda_time
from functions.models import LayerVersion

def _call(call):
    """functions.layers' errors in Lambda's words."""
    try:
        return call()
    except layers.LayerAccessDenied as e:
        raise errors.access_denied(str(e)) from None
    except layers.LayerNotFound as e:
        raise errors.resource_not_found(str(e)) from None
    except layers.LayerError as e:
        raise errors.invalid_parameter(str(e)) from None


def _item(lv: LayerVersion) -> dict:
    """LayerVersionsListItem (no member Lambda would leave empty)."""
    item = {
        "LayerVersionArn": layers.arn_of(lv),
        "Version": lv.version,
        "Description": lv.description,
        "CreatedDate": lambda_time(lv.created_at),
    }
    if lv.compatible_runtimes:
        item["CompatibleRuntimes"] = list(lv.compatible_runtimes)
    if lv.compatible_architectures:
        item["CompatibleArchitectures"] = list(lv.compatible_architectures)
    if lv.license_info:
        item["LicenseInfo"] = lv.license_info
    return item


def _version_shape(context: services.Context, lv: LayerVersion) -> dict:
    """GetLayerVersionResponse / PublishLayerVersionResponse: Content with a
    short-lived download URL on this server (Lambda's is a presigned S3
    URL), CodeSha256 (base64 of the digest) and CodeSize (zip bytes)."""
    return {
        "Content": {
            "Location": lambda_api.code_location(context, lv.content.sha256, f"{lv.layer.name}-{lv.version}"),
            "CodeSha256": lv.content.sha256_b64,
            "CodeSize": lv.content.size,
        },
        "LayerArn": layers.layer_arn(lv.layer.team.account_id, lv.layer.name),
        **_item(lv),
    }


def _filters(parameters: dict) -> dict:
    return {"runtime": parameters.get("CompatibleRuntime"),
            "architecture": parameters.get("CompatibleArchitecture")}


# Operations ---------------------------------------------------------------------


def publish_layer_version(context: services.Context, parameters: dict) -> services.Reply:
    """PublishLayerVersion from Content.ZipFile (201). S3 content is
    refused: Stratus takes the zip in the request."""
    content = parameters.get("Content") or {}
    if not content.get("ZipFile"):
        s3 = content.get("S3Bucket") or content.get("S3Key")
        where = " (S3Bucket/S3Key are not supported)" if s3 else ""
        raise errors.invalid_parameter(
            f"Content.ZipFile is required: send the layer as a zip file in the request{where}."
        )
    lv = _call(lambda: layers.publish(
        context.team, parameters.get("LayerName"), content["ZipFile"],
        description=parameters.get("Description"),
        compatible_runtimes=parameters.get("CompatibleRuntimes"),
        compatible_architectures=parameters.get("CompatibleArchitectures"),
        license_info=parameters.get("LicenseInfo"),
    ))
    return services.Reply(_version_shape(context, lv), status=201)


def get_layer_version(context: services.Context, parameters: dict) -> dict:
    """GetLayerVersion."""
    lv = _call(lambda: layers.get_version(context.team, parameters["LayerName"], parameters["VersionNumber"]))
    return _version_shape(context, lv)


def get_layer_version_by_arn(context: services.Context, parameters: dict) -> dict:
    """GetLayerVersionByArn (GET /2018-10-31/layers?find=LayerVersion&Arn=...)."""
    return _version_shape(context, _call(lambda: layers.get_by_arn(context.team, parameters["Arn"])))


def list_layers(context: services.Context, parameters: dict) -> dict:
    """ListLayers: each layer with its LatestMatchingVersion, by name."""
    found = _call(lambda: layers.list_latest(context.team, **_filters(parameters)))
    if (after := lambda_paging.resumes_after("ListLayers", parameters)) is not None:
        found = [pair for pair in found if pair[0].name > after]
    account = context.team.account_id
    return lambda_paging.page(
        "Layers", found, lambda_paging.max_items(parameters),
        lambda pair: {"LayerName": pair[0].name, "LayerArn": layers.layer_arn(account, pair[0].name),
                      "LatestMatchingVersion": _item(pair[1])},
        lambda pair: lambda_paging.after_marker("ListLayers", pair[0].name),
    )


def list_layer_versions(context: services.Context, parameters: dict) -> dict:
    """ListLayerVersions: newest first; the marker is the last version given."""
    found = _call(lambda: layers.list_versions(context.team, parameters["LayerName"], **_filters(parameters)))
    if marker := parameters.get("Marker"):
        if not marker.isdigit():
            raise errors.invalid_parameter(
                f"Marker {marker[:40]!r} is not one this API gave (a version number)."
            )
        found = [lv for lv in found if lv.version < int(marker)]
    return lambda_paging.page("LayerVersions", found, lambda_paging.max_items(parameters), _item,
                              lambda lv: str(lv.version))


def delete_layer_version(context: services.Context, parameters: dict) -> services.Reply:
    """DeleteLayerVersion: 204, whether or not the version was there (as
    Lambda); functions that list it keep running on its content."""
    _call(lambda: layers.delete_version(context.team, parameters["LayerName"], parameters["VersionNumber"]))
    return services.Reply({}, status=204)


HANDLERS = {
    "PublishLayerVersion": publish_layer_version,
    "GetLayerVersion": get_layer_version,
    "GetLayerVersionByArn": get_layer_version_by_arn,
    "ListLayers": list_layers,
    "ListLayerVersions": list_layer_versions,
    "DeleteLayerVersion": delete_layer_version,
}
READS = {"GetLayerVersion", "GetLayerVersionByArn", "ListLayers", "ListLayerVersions"}


def resources(context: services.Context, operation: str, parameters: dict) -> list[tuple[str, str]]:
    """(IAM action, resource) as the Service Authorization Reference names
    them, for functions' own credentials: PublishLayerVersion acts on the
    layer's ARN, Get/Delete on the version's (GetLayerVersionByArn is
    lambda:GetLayerVersion), the lists on "*"."""
    account = context.team.account_id
    if operation == "GetLayerVersionByArn":
        return [("lambda:GetLayerVersion", str(parameters.get("Arn", "*")))]
    action = f"lambda:{operation}"
    try:
        name = layers.layer_name(context.team, parameters.get("LayerName"))
    except layers.LayerError:
        return [(action, "*")]
    if operation == "PublishLayerVersion":
        return [(action, layers.layer_arn(account, name))]
    if operation in ("GetLayerVersion", "DeleteLayerVersion"):
        return [(action, layers.version_arn(account, name, parameters.get("VersionNumber", 0)))]
    return [(action, "*")]
