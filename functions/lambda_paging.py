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
a qualifier)."""

from collections.abc import Callable, Sequence
from typing import TypeVar

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
