"""Condition expressions (ConditionExpression, FilterExpression, and the
parse of KeyConditionExpression): binding with its static checks, and
evaluation against an item.

Semantics (DynamoDB Developer Guide, "Condition and filter expressions,
operators, and functions"): `=` is deep equality of any two values; `<>`
is its negation, true when an operand is absent; `< <= > >=` and BETWEEN
compare two values of the same scalar type (S by UTF-8 bytes, N by value,
B by bytes) and are false otherwise or when an operand is absent; IN is
`=` against any of up to 100 choices; functions attribute_exists,
attribute_not_exists, attribute_type, begins_with (S or B), contains (a
substring, a set member, a list element) and size (string length, bytes,
set/list/map element count)."""

import base64
from dataclasses import dataclass, field

from .. import values
from . import documents, nodes
from .binding import (
    DISTINCT,
    MISUSED_FUNCTION,
    OPERANDS,
    PARENS,
    TYPE,
    UNKNOWN_FUNCTION,
    Binder,
    Path,
    show_path,
)
from .errors import not_this_way, operand_count, operand_type
from .parsing import parse

CONDITION_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
}
UPDATE_FUNCTIONS = ("if_not_exists", "list_append")
MAX_IN_CHOICES = 100
TYPE_NAMES = ("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M")


@dataclass
class Condition:
    """A bound condition. `matches(item)` evaluates it against an item
    (None or {} for an absent item); `names_used` / `values_used` are the
    placeholders it used; `paths` every document path it reads."""

    tree: tuple
    names_used: set[str] = field(default_factory=set)
    values_used: set[str] = field(default_factory=set)
    paths: list[Path] = field(default_factory=list)

    def matches(self, item: dict | None) -> bool:
        return evaluate(self.tree, item or {})


def condition(
    text: str, names: dict | None, values: dict | None, label: str = "ConditionExpression"
) -> Condition:
    """Parses and binds a condition. `label` names the parameter in error
    messages (ConditionExpression, FilterExpression). Raises
    ExpressionError with DynamoDB's message."""
    tree = parse(text, "condition", label)
    binder = Binder(label, names, values)
    bound = bind_condition(tree, binder)
    binder.check()
    return Condition(bound, binder.names_used, binder.values_used, binder.paths)


# -- binding ------------------------------------------------------------------


def bind_condition(node, binder: Binder) -> tuple:
    if isinstance(node, nodes.Parens):
        if isinstance(node.inner, nodes.Parens):
            binder.error(PARENS, "The expression has redundant parentheses;")
        return bind_condition(node.inner, binder)
    if isinstance(node, nodes.And):
        return ("and", bind_condition(node.left, binder), bind_condition(node.right, binder))
    if isinstance(node, nodes.Or):
        return ("or", bind_condition(node.left, binder), bind_condition(node.right, binder))
    if isinstance(node, nodes.Not):
        return ("not", bind_condition(node.operand, binder))
    if isinstance(node, nodes.Compare):
        left, right = bind_operand(node.left, binder), bind_operand(node.right, binder)
        _distinct(binder, node.op, [left, right])
        return ("cmp", node.op, left, right)
    if isinstance(node, nodes.Between):
        operand, low, high = (bind_operand(n, binder) for n in (node.operand, node.low, node.high))
        _check_bounds(binder, low, high)
        return ("between", operand, low, high)
    if isinstance(node, nodes.In):
        operand = bind_operand(node.operand, binder)
        choices = tuple(bind_operand(n, binder) for n in node.choices)
        if len(choices) > MAX_IN_CHOICES:
            binder.error(
                OPERANDS,
                "Too many operands for operator or function; operator or function: IN, "
                f"number of operands: {len(choices) + 1}",
            )
        return ("in", operand, choices)
    return _bind_function(node, binder)


def _bind_function(node: nodes.Call, binder: Binder) -> tuple:
    name = node.name
    args = tuple(bind_operand(a, binder) for a in node.args)
    if name == "size":
        binder.error(MISUSED_FUNCTION, not_this_way(name))
        return ("false",)
    if not _known(name, binder):
        return ("false",)
    if len(args) != CONDITION_FUNCTIONS[name]:
        binder.error(OPERANDS, operand_count(name, len(args)))
        return ("false",)
    _distinct(binder, name, list(args))
    if name in ("attribute_exists", "attribute_not_exists", "attribute_type") and args[0][0] != "path":
        binder.error(TYPE, f"Operator or function requires a document path; operator or function: {name}")
    if name == "begins_with":
        for arg in args:
            kind = _static_type(arg)
            if kind is not None and kind not in ("S", "B"):
                binder.error(TYPE, operand_type(name, kind))
    if name == "attribute_type":
        kind = _static_type(args[1])
        if kind != "S":
            binder.error(
                TYPE,
                "Incorrect operand type for operator or function; operator or function: attribute_type, "
                f"operand type: {kind or '{NS,SS,L,BS,N,M,B,BOOL,NULL,S}'}",
            )
        elif args[1][0] == "value" and args[1][1]["S"] not in TYPE_NAMES:
            binder.error(
                TYPE,
                f"Invalid attribute type name found; type: {args[1][1]['S']}, "
                "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }",
            )
    return ("fn", name, args)


def _known(name: str, binder: Binder) -> bool:
    if name in CONDITION_FUNCTIONS:
        return True
    if name in UPDATE_FUNCTIONS:
        binder.error(
            UNKNOWN_FUNCTION, f"The function is not allowed in a condition expression; function: {name}"
        )
    else:
        binder.error(UNKNOWN_FUNCTION, f"Invalid function name; function: {name}")
    return False


def bind_operand(node, binder: Binder) -> tuple:
    """An operand: ("path", path), ("value", AttributeValue) or
    ("size", operand)."""
    if isinstance(node, nodes.PathRef):
        return ("path", binder.path(node.path))
    if isinstance(node, nodes.ValueRef):
        return ("value", binder.value(node.name))
    args = tuple(bind_operand(a, binder) for a in node.args)
    if node.name != "size":
        if _known(node.name, binder):
            binder.error(MISUSED_FUNCTION, not_this_way(node.name))
        return ("value", None)
    if len(args) != 1:
        binder.error(OPERANDS, operand_count("size", len(args)))
        return ("value", None)
    kind = _static_type(args[0])
    if kind in ("N", "BOOL", "NULL"):
        binder.error(TYPE, operand_type("size", kind))
    return ("size", args[0])


def _static_type(operand: tuple) -> str | None:
    # The type known before reading any item: a value's, or N for size().
    if operand[0] == "value" and operand[1] is not None:
        return values.kind_of(operand[1])
    if operand[0] == "size":
        return "N"
    return None


def _distinct(binder: Binder, op: str, operands: list) -> None:
    if len(operands) == 2 and operands[0][0] == operands[1][0] == "path" and operands[0][1] == operands[1][1]:
        binder.error(
            DISTINCT,
            "The first operand must be distinct from the remaining operands for this operator or function; "
            f"operator: {op}, first operand: {show_path(operands[0][1])}",
        )


def _shown(value: dict) -> str:
    (kind,) = value
    return f"AttributeValue: {{{kind}:{value[kind]}}}"


def _check_bounds(binder: Binder, low: tuple, high: tuple) -> None:
    if low[0] != "value" or high[0] != "value" or low[1] is None or high[1] is None:
        return
    lower, upper = low[1], high[1]
    if values.kind_of(lower) != values.kind_of(upper):
        binder.error(
            TYPE,
            "The BETWEEN operator requires same data type for lower and upper bounds; "
            f"lower bound operand: {_shown(lower)}, upper bound operand: {_shown(upper)}",
        )
    elif values.compare(lower, upper) == 1:
        binder.error(
            TYPE,
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
            f"lower bound operand: {_shown(lower)}, upper bound operand: {_shown(upper)}",
        )


# -- evaluation ------------------------------------------------------------------


def operand_value(operand: tuple, item: dict) -> dict | None:
    """The AttributeValue an operand stands for in `item`, None if absent."""
    kind = operand[0]
    if kind == "value":
        return operand[1]
    if kind == "path":
        return documents.get(item, operand[1])
    inner = operand_value(operand[1], item)
    length = _size(inner) if inner is not None else None
    return {"N": str(length)} if length is not None else None


def _size(value: dict) -> int | None:
    (kind,) = value
    body = value[kind]
    if kind == "S":
        return len(body)
    if kind == "B":
        return len(base64.b64decode(body))
    if kind in ("SS", "NS", "BS", "L", "M"):
        return len(body)
    return None


def evaluate(tree: tuple, item: dict) -> bool:
    kind = tree[0]
    if kind == "and":
        return evaluate(tree[1], item) and evaluate(tree[2], item)
    if kind == "or":
        return evaluate(tree[1], item) or evaluate(tree[2], item)
    if kind == "not":
        return not evaluate(tree[1], item)
    if kind == "cmp":
        return _compare(tree[1], operand_value(tree[2], item), operand_value(tree[3], item))
    if kind == "between":
        x, low, high = (operand_value(o, item) for o in tree[1:])
        if x is None or low is None or high is None:
            return False
        above, below = values.compare(x, low), values.compare(x, high)
        return above is not None and below is not None and above >= 0 and below <= 0
    if kind == "in":
        x = operand_value(tree[1], item)
        return x is not None and any(
            (choice := operand_value(c, item)) is not None and values.equal(x, choice) for c in tree[2]
        )
    if kind == "fn":
        return _function(tree[1], tree[2], item)
    return False


def _compare(op: str, a: dict | None, b: dict | None) -> bool:
    if op == "<>":
        return a is None or b is None or not values.equal(a, b)
    if a is None or b is None:
        return False
    if op == "=":
        return values.equal(a, b)
    order = values.compare(a, b)
    if order is None:
        return False
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]


def _function(name: str, args: tuple, item: dict) -> bool:
    first = operand_value(args[0], item)
    if name == "attribute_exists":
        return first is not None
    if name == "attribute_not_exists":
        return first is None
    second = operand_value(args[1], item)
    if first is None or second is None:
        return False
    if name == "attribute_type":
        return "S" in second and values.kind_of(first) == second["S"]
    if name == "begins_with":
        return _begins_with(first, second)
    return _contains(first, second)


def _begins_with(whole: dict, prefix: dict) -> bool:
    if "S" in whole and "S" in prefix:
        return whole["S"].startswith(prefix["S"])
    if "B" in whole and "B" in prefix:
        return base64.b64decode(whole["B"]).startswith(base64.b64decode(prefix["B"]))
    return False


def _contains(whole: dict, part: dict) -> bool:
    (kind,) = whole
    body = whole[kind]
    if kind == "S":
        return "S" in part and part["S"] in body
    if kind == "B":
        return "B" in part and base64.b64decode(part["B"]) in base64.b64decode(body)
    if kind in ("SS", "NS", "BS"):
        member = kind[0]
        return member in part and any(values.equal({member: m}, part) for m in body)
    if kind == "L":
        return any(values.equal(element, part) for element in body)
    return False
