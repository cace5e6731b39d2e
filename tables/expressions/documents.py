"""Document paths on items: reading `a.b[2].c`, and writing or removing
at a path in place (callers work on their own copy of the item).

An item is a dict of attribute name -> AttributeValue; a path is a tuple
of map keys (str) and list indexes (int), the first always a name."""

from .errors import ExpressionError

INVALID_PATH = "The document path provided in the update expression is invalid for update"


def get(item: dict, path: tuple) -> dict | None:
    """The AttributeValue at `path` in `item`, or None when any step is
    missing or of the wrong type (a key of something not a map, an index of
    something not a list, an index past the end)."""
    current = item.get(path[0])
    for step in path[1:]:
        if current is None:
            return None
        if isinstance(step, int):
            elements = current.get("L")
            current = elements[step] if elements is not None and step < len(elements) else None
        else:
            entries = current.get("M")
            current = entries.get(step) if entries is not None else None
    return current


def _holder(item: dict, path: tuple) -> tuple[list | dict, int | str]:
    """The list (for an index) or map (for a name) holding `path`'s last
    step, and that step. ExpressionError INVALID_PATH when the parent is
    missing or of the other type."""
    last = path[-1]
    kind = "L" if isinstance(last, int) else "M"
    parent = get(item, path[:-1])
    if parent is None or kind not in parent:
        raise ExpressionError(INVALID_PATH)
    return parent[kind], last


def put(item: dict, path: tuple, value: dict) -> None:
    """Writes `value` at `path` (SET): the parent must exist and be a map
    (for a name) or a list (for an index; an index past the end appends).
    ExpressionError "The document path provided in the update expression is
    invalid for update" otherwise."""
    if len(path) == 1:
        item[path[0]] = value
        return
    holder, last = _holder(item, path)
    if isinstance(last, int) and last >= len(holder):
        holder.append(value)
    else:
        holder[last] = value


def remove(item: dict, path: tuple) -> None:
    """Removes what is at `path` (REMOVE): a list element's removal shifts
    the later elements down; nothing happens when the attribute or element
    is already absent, but the parent must exist with the right type."""
    if len(path) == 1:
        item.pop(path[0], None)
        return
    holder, last = _holder(item, path)
    if isinstance(last, int):
        if last < len(holder):
            del holder[last]
    else:
        holder.pop(last, None)
