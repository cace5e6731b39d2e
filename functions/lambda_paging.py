"""The paging of Lambda's list operations (ListFunctions, ListVersionsByFunction,
ListAliases, ListLayers, ListLayerVersions, ListFunctionUrlConfigs,
ListProvisionedConcurrencyConfigs, ListFunctionEventInvokeConfigs,
ListEventSourceMappings): MaxItems
items a page, NextMarker naming the page's last item when there is more, the
caller's next Marker.

MaxItems' bounds are the model's (1-10000 or 1-50, by operation), checked by
the front door before a handler runs (functions.lambda_door.check_input:
ValidationException naming maxItems), so a handler only supplies the default.
Resuming after the Marker is each operation's own (a name, a version number,
a qualifier). The markers of ListFunctions, ListAliases, ListLayers,
ListFunctionUrlConfigs and ListProvisionedConcurrencyConfigs are opaque
tokens (`opaque_marker`, `after_marker`: signed), as Lambda's are: a
marker the operation did not give is InvalidParameterValueException, and
one naming an item deleted since still resumes after it."""

from collections.abc import Callable, Sequence
from typing import TypeVar

from django.core import signing

from awsapi import errors

T = TypeVar("T")
DEFAULT = 50  # every Lambda list operation's default page


def max_items(parameters: dict) -> int:
    """The page size asked for (MaxItems, within the model's bounds), or 50."""
    return parameters.get("MaxItems") or DEFAULT


def page(member: str, found: Sequence[T], size: int, shape: Callable[[T], dict],
         marker_of: Callable[[T], str]) -> dict:
    """{member: [shape(item) for the first `size` items of `found`]}, with
    NextMarker = marker_of(the page's last item) when `found` has more.
    `found` (a list or a query set, in the operation's order, after the
    Marker) is read only to its size + 1st item."""
    items = list(found[: size + 1])
    shown = items[:size]
    output: dict = {member: [shape(item) for item in shown]}
    if len(items) > size:
        output["NextMarker"] = marker_of(shown[-1])
    return output


def opaque_marker(operation: str, position: dict) -> str:
    """A NextMarker that carries `position` (a JSON object: where the next
    page resumes), signed with the server's key for `operation`, so that
    only markers this operation gave are taken back (`marker_position`)."""
    return signing.dumps(position, salt=f"stratus.lambda.{operation}.marker")


def after_marker(operation: str, key: str) -> str:
    """The NextMarker of a list ordered by one text key (an alias name, a
    qualifier, a layer name): opaque, signed, resumed by `resumes_after`."""
    return opaque_marker(operation, {"after": key})


def resumes_after(operation: str, parameters: dict) -> str | None:
    """The key the previous page of `operation` ended with (its Marker, an
    `after_marker`), or None for the first page (no Marker);
    InvalidParameterValueException for text this operation did not give."""
    marker = parameters.get("Marker")
    if not marker:
        return None
    after = marker_position(operation, marker).get("after")
    if not isinstance(after, str):
        raise errors.invalid_parameter(f"Invalid Marker for {operation}.")
    return after


def marker_position(operation: str, marker: str) -> dict:
    """The position an `opaque_marker` of `operation` carries;
    InvalidParameterValueException for any other text (Lambda refuses a
    marker it did not give rather than listing from it)."""
    try:
        position = signing.loads(marker, salt=f"stratus.lambda.{operation}.marker")
    except signing.BadSignature:
        position = None
    if not isinstance(position, dict):
        raise errors.invalid_parameter(
            f"Invalid Marker for {operation}: pass the NextMarker a previous {operation} call "
            "returned, unchanged, or no Marker for the first page."
        )
    return position
