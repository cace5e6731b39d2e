"""What a Lambda API call does, as IAM names it: (action, resource ARN)
pairs for execution policies (awsapi.principals.authorize). Source: the
Service Authorization Reference, "Actions defined by AWS Lambda": the
action is the operation's name but for Invoke (lambda:InvokeFunction);
function operations act on the function's ARN (with its qualifier when
one is named), the account-wide ones (ListFunctions...) on "*".

`resolve` takes a parsed operation (the front door's resolver shape,
registered by functions.lambda_door); `rest_calls` reads the same from a
Lambda REST request's method and path, for the doors outside the front door
(awsapi.guard: the Invoke door; messaging's JSON API, which no row names,
so a function is refused it)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from awsapi import arns

# Operations named differently in IAM.
IAM_ACTIONS = {"Invoke": "InvokeFunction"}
ACCOUNT_WIDE = frozenset(
    {"ListFunctions", "ListLayers", "ListEventSourceMappings", "GetAccountSettings", "ListLayerVersions"}
)


def function_resource(account: str, value: str, qualifier: str | None = None) -> str:
    """The ARN a FunctionName (name, name:qualifier, partial or full ARN) names."""
    try:
        named_account, name, named_qualifier = arns.split_function_name(value)
    except arns.ArnError:
        return value
    return arns.function_arn(named_account or account, name, qualifier or named_qualifier)


def resolve(context, operation: str, params: dict) -> list[tuple[str, str]]:
    """(lambda:Action, resource) for a parsed Lambda operation."""
    return calls(context.team.account_id, operation, params)


def calls(account: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """(lambda:Action, resource) for `operation` in `account`."""
    action = "lambda:" + IAM_ACTIONS.get(operation, operation)
    # The tagging operations name the function by its ARN (Resource).
    name = params.get("FunctionName") or params.get("Resource")
    if operation in ACCOUNT_WIDE or not name:
        return [(action, "*")]
    return [(action, function_resource(account, name, params.get("Qualifier")))]


_REST = [
    ("POST", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations/?"), "Invoke"),
    ("POST", re.compile(r"/2014-11-13/functions/(?P<name>[^/]+)/invoke-async/?"), "InvokeAsync"),
    ("GET", re.compile(r"/2015-03-31/functions/?"), "ListFunctions"),
    ("POST", re.compile(r"/2015-03-31/functions/?"), "CreateFunction"),
    ("GET", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/?"), "GetFunction"),
    ("DELETE", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/?"), "DeleteFunction"),
    ("GET", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/configuration/?"), "GetFunctionConfiguration"),
    (
        "PUT", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/configuration/?"),
        "UpdateFunctionConfiguration",
    ),
    ("PUT", re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/code/?"), "UpdateFunctionCode"),
]


def rest_calls(method: str, path: str, account: str, qualifier: str | None = None) -> list[tuple[str, str]]:
    """(lambda:Action, resource) for a Lambda REST request; [] for one not
    in the table above (refused to a function: nothing names it)."""
    for verb, pattern, operation in _REST:
        found = pattern.fullmatch(path) if verb == method else None
        if found:
            params = {"FunctionName": unquote(found["name"])} if "name" in pattern.groupindex else {}
            if qualifier:
                params["Qualifier"] = qualifier
            return calls(account, operation, params)
    return []
