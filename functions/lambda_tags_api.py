"""Lambda's tagging operations on functions (TagResource, UntagResource,
ListTags; /2017-03-31/tags/{Resource}), registered by
functions.lambda_door. The Resource is a function's ARN in the key's
account; the rules on the tags (50 at most, keys 1-128 and values 0-256
characters of Lambda's pattern, no "aws:" prefix) are functions.service's
clean_tags. Errors as Lambda's: ResourceNotFoundException for a function
that does not exist, InvalidParameterValueException for a resource that is
no function ARN, a qualified one (Lambda tags functions, not versions or
aliases) or a bad tag; the model's limits (key length, pattern) are the
door's ValidationException first."""

from awsapi import arns, errors, services
from functions import lambda_api, service
from functions.models import Function


def function_of(context: services.Context, resource) -> Function:
    """The function a tag Resource ARN names in the caller's team."""
    try:
        account, name, qualifier = arns.split_function_name(resource)
    except (arns.ArnError, AttributeError):
        account = name = qualifier = None
    if not isinstance(resource, str) or not resource.startswith("arn:") or name is None:
        raise errors.invalid_parameter(
            f"{resource!r} is not a function ARN: tag a function by its ARN "
            "(arn:aws:lambda:REGION:ACCOUNT:function:NAME)."
        )
    if region := arns.foreign_region(resource):
        raise lambda_api.region_unreachable(region)
    if qualifier is not None:
        raise errors.invalid_parameter(
            "Tags on function aliases and versions are not supported. Please specify a function ARN."
        )
    own = context.team.account_id
    fn = Function.objects.select_related("team").filter(team=context.team, name=name).first()
    if account != own or fn is None:
        raise errors.not_found(resource)
    return fn


def _changed(call, arn: str) -> None:
    try:
        call()
    except service.FunctionGone:
        raise errors.not_found(arn) from None
    except service.FunctionError as e:
        raise errors.invalid_parameter(str(e)) from None


def tag_resource(context: services.Context, parameters: dict) -> services.Reply:
    """TagResource: add or replace tags (204)."""
    fn = function_of(context, parameters.get("Resource"))
    _changed(lambda: service.tag_function(fn, parameters.get("Tags") or {}), fn.arn)
    return services.Reply({}, status=204)


def untag_resource(context: services.Context, parameters: dict) -> services.Reply:
    """UntagResource: remove the keys of tagKeys (204); absent keys are
    no error, as in Lambda."""
    fn = function_of(context, parameters.get("Resource"))
    _changed(lambda: service.untag_function(fn, parameters.get("TagKeys") or []), fn.arn)
    return services.Reply({}, status=204)


def list_tags(context: services.Context, parameters: dict) -> dict:
    """ListTags: {"Tags": {key: value}} ({} when none)."""
    return {"Tags": dict(function_of(context, parameters.get("Resource")).tags or {})}


HANDLERS = {"TagResource": tag_resource, "UntagResource": untag_resource, "ListTags": list_tags}
READS = {"ListTags"}
