"""ProjectionExpression: the attributes (and nested parts) to return.

As DynamoDB does (Developer Guide, "Projection expressions"): a nested
path keeps its enclosing maps with only the projected entries; list
elements picked by index come back as a shorter list in index order;
absent paths are left out; paths must not overlap."""

import copy
from dataclasses import dataclass, field

from .binding import Binder, Path, overlap
from .parsing import parse

LABEL = "ProjectionExpression"


@dataclass
class Projection:
    """`apply(item)` returns a new item with only the projected paths;
    `paths` the bound paths; `names_used` the placeholders used."""

    paths: list[Path]
    names_used: set[str] = field(default_factory=set)

    def apply(self, item: dict) -> dict:
        tree: dict = {}
        for path in self.paths:
            node = tree
            for step in path[:-1]:
                node = node.setdefault(step, {})
            node[path[-1]] = True
        result = {}
        for name, wanted in tree.items():
            if name in item:
                kept = _keep(item[name], wanted)
                if kept is not None:
                    result[name] = kept
        return result


def projection(text: str, names: dict | None) -> Projection:
    """Parses and binds a ProjectionExpression; ExpressionError with
    DynamoDB's message (syntax, reserved words, undefined names,
    overlapping paths)."""
    raw_paths = parse(text, "projection", LABEL)
    binder = Binder(LABEL, names, None)
    paths = [binder.path(p) for p in raw_paths]
    overlap(binder, paths)
    binder.check()
    return Projection(paths, binder.names_used)


def _keep(value: dict, wanted) -> dict | None:
    if wanted is True:
        return copy.deepcopy(value)
    steps = list(wanted)
    if isinstance(steps[0], int):
        elements = value.get("L")
        if elements is None:
            return None
        kept = [_keep(elements[i], wanted[i]) for i in sorted(steps) if i < len(elements)]
        kept = [k for k in kept if k is not None]
        return {"L": kept} if kept else None
    entries = value.get("M")
    if entries is None:
        return None
    kept = {name: _keep(entries[name], wanted[name]) for name in steps if name in entries}
    kept = {name: k for name, k in kept.items() if k is not None}
    return {"M": kept} if kept else None
