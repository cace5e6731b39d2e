"""UpdateExpression: SET, REMOVE, ADD and DELETE clauses, checked when
bound and applied to a copy of an item.

Rules (DynamoDB Developer Guide, "Update expressions"): each clause at
most once; no two actions on overlapping paths; SET values may be a value,
a path, `if_not_exists(path, operand)`, `list_append(a, b)` and `a + b` /
`a - b` on numbers, all read from the item as it was before the update;
REMOVE of a list element shifts the later ones; ADD adds to a number
(absent = 0) or unions into a set (absent = the given set); DELETE takes
elements out of a set (the attribute goes when none remain)."""

import base64
import copy
from dataclasses import dataclass, field
from decimal import Decimal

from .. import values
from . import documents, nodes
from .binding import OPERANDS, SECTION, TYPE, UNKNOWN_FUNCTION, Binder, Path, overlap
from .errors import ExpressionError, operand_count, operand_type
from .parsing import parse

LABEL = "UpdateExpression"
FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
WIRE_TYPE_NAMES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "NULL": "NULL",
    "BOOL": "BOOLEAN",
    "L": "LIST",
    "M": "MAP",
}
MISSING = "The provided expression refers to an attribute that does not exist in the item"
WRONG_TYPE = "An operand in the update expression has an incorrect data type"
SETS = ("SS", "NS", "BS")


@dataclass
class Update:
    """A bound update expression. `apply(item)` returns the updated copy
    (never changes `item`; raises ExpressionError with DynamoDB's message
    when the item does not fit the expression). `paths` holds the
    top-level attribute names the update writes (to refuse key
    attributes), `targets` the full paths written."""

    actions: list = field(default_factory=list)
    names_used: set[str] = field(default_factory=set)
    values_used: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    targets: list[Path] = field(default_factory=list)

    def apply(self, item: dict | None) -> dict:
        before = item or {}
        after = copy.deepcopy(before)
        # Every SET value is read from the item as it was before the update.
        assignments = [
            (path, _evaluate(value, before)) for kind, path, value in self.actions if kind == "SET"
        ]
        for path, value in assignments:
            documents.put(after, path, value)
        # Highest list index first, so each index still means what it did.
        for path in sorted((p for kind, p, _ in self.actions if kind == "REMOVE"), reverse=True):
            documents.remove(after, path)
        for kind, path, value in self.actions:
            if kind == "ADD":
                _add(after, path, value)
            elif kind == "DELETE":
                _delete(after, path, value)
        return after


def update(text: str, names: dict | None, values: dict | None) -> Update:
    """Parses and binds an UpdateExpression; ExpressionError with
    DynamoDB's message for any fault."""
    clauses = parse(text, "update", LABEL)
    binder = Binder(LABEL, names, values)
    seen: set[str] = set()
    actions, targets = [], []
    for clause in clauses:
        if clause.kind in seen:
            binder.error(
                SECTION, f'The "{clause.kind}" section can only be used once in an update expression;'
            )
        seen.add(clause.kind)
        for action in clause.actions:
            path = binder.path(action.path)
            targets.append(path)
            if action.kind == "SET":
                value = _bind_value(action.value, binder)
            elif action.kind == "REMOVE":
                value = None
            else:
                value = binder.value(action.value.name)
                _check_operator(binder, action.kind, value)
            actions.append((action.kind, path, value))
    overlap(binder, targets)
    binder.check()
    return Update(actions, binder.names_used, binder.values_used, {p[0] for p in targets}, targets)


# -- binding ------------------------------------------------------------------


def _bind_value(node, binder: Binder) -> tuple:
    if isinstance(node, nodes.PathRef):
        return ("path", binder.path(node.path))
    if isinstance(node, nodes.ValueRef):
        return ("value", binder.value(node.name))
    if isinstance(node, nodes.Arithmetic):
        operands = (_bind_value(node.left, binder), _bind_value(node.right, binder))
        for operand in operands:
            kind = _static_type(operand)
            if kind is not None and kind != "N":
                binder.error(TYPE, operand_type(node.op, kind))
        return (node.op, *operands)
    args = tuple(_bind_value(a, binder) for a in node.args)
    if node.name not in FUNCTIONS:
        binder.error(UNKNOWN_FUNCTION, f"Invalid function name; function: {node.name}")
        return ("value", None)
    if len(args) != FUNCTIONS[node.name]:
        binder.error(OPERANDS, operand_count(node.name, len(args)))
        return ("value", None)
    if node.name == "if_not_exists" and args[0][0] != "path":
        binder.error(
            TYPE, f"Operator or function requires a document path; operator or function: {node.name}"
        )
    if node.name == "list_append":
        for arg in args:
            kind = _static_type(arg)
            if kind is not None and kind != "L":
                binder.error(TYPE, operand_type(node.name, kind))
    return (node.name, *args)


def _static_type(operand: tuple) -> str | None:
    if operand[0] == "value" and operand[1] is not None:
        return values.kind_of(operand[1])
    if operand[0] in ("+", "-"):
        return "N"
    if operand[0] == "list_append":
        return "L"
    return None


def _check_operator(binder: Binder, operator: str, value: dict | None) -> None:
    if value is None:
        return
    kind = values.kind_of(value)
    if kind in WIRE_TYPE_NAMES and not (operator == "ADD" and kind == "N"):
        binder.error(
            TYPE,
            f"Incorrect operand type for operator or function; operator: {operator}, "
            f"operand type: {WIRE_TYPE_NAMES[kind]}",
        )


# -- applying ---------------------------------------------------------------------


def _evaluate(operand: tuple, item: dict) -> dict:
    kind = operand[0]
    if kind == "value":
        return operand[1]
    if kind == "path":
        found = documents.get(item, operand[1])
        if found is None:
            raise ExpressionError(MISSING)
        return found
    if kind == "if_not_exists":
        found = documents.get(item, operand[1][1])
        return found if found is not None else _evaluate(operand[2], item)
    left, right = _evaluate(operand[1], item), _evaluate(operand[2], item)
    if kind == "list_append":
        if "L" not in left or "L" not in right:
            raise ExpressionError(WRONG_TYPE)
        return {"L": copy.deepcopy(left["L"] + right["L"])}
    if "N" not in left or "N" not in right:
        raise ExpressionError(WRONG_TYPE)
    return {"N": _arithmetic(kind, Decimal(left["N"]), Decimal(right["N"]))}


def _arithmetic(op: str, a: Decimal, b: Decimal) -> str:
    try:
        return values.number_text(values.arithmetic(op, a, b))
    except values.InvalidValue as error:
        raise ExpressionError(str(error)) from None


def _member_key(kind: str, member: str) -> object:
    # Set members compare by value: numbers numerically, binaries by bytes.
    if kind == "NS":
        return Decimal(member)
    if kind == "BS":
        return base64.b64decode(member)
    return member


def _add(item: dict, path: tuple, value: dict) -> None:
    existing = documents.get(item, path)
    kind = values.kind_of(value)
    if existing is None:
        documents.put(item, path, copy.deepcopy(value))
    elif kind == "N" and "N" in existing:
        documents.put(item, path, {"N": _arithmetic("+", Decimal(existing["N"]), Decimal(value["N"]))})
    elif kind in SETS and kind in existing:
        have = {_member_key(kind, m) for m in existing[kind]}
        extra = [m for m in value[kind] if _member_key(kind, m) not in have]
        documents.put(item, path, {kind: existing[kind] + extra})
    else:
        raise ExpressionError(WRONG_TYPE)


def _delete(item: dict, path: tuple, value: dict) -> None:
    existing = documents.get(item, path)
    if existing is None:
        return
    kind = values.kind_of(value)
    if kind not in existing:
        raise ExpressionError(WRONG_TYPE)
    gone = {_member_key(kind, m) for m in value[kind]}
    remaining = [m for m in existing[kind] if _member_key(kind, m) not in gone]
    if remaining:
        documents.put(item, path, {kind: remaining})
    else:
        documents.remove(item, path)
