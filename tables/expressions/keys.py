"""KeyConditionExpression (Query): one equality on the partition key,
optionally AND one condition on the sort key (= < <= > >= BETWEEN
begins_with), as the DynamoDB Developer Guide ("Key condition
expressions for query") allows; anything else is refused with DynamoDB's
message."""

from dataclasses import dataclass, field

from .. import values
from . import nodes
from .binding import Binder
from .conditions import bind_condition
from .errors import ExpressionError
from .parsing import parse

LABEL = "KeyConditionExpression"
FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass
class KeyCondition:
    """`hash_name = hash_value` [AND range_name <range_op> range_values]:
    range_op is one of = < <= > >= BETWEEN begins_with (None without a sort
    key condition); range_values holds one value, two for BETWEEN."""

    hash_name: str
    hash_value: dict
    range_name: str | None = None
    range_op: str | None = None
    range_values: tuple = ()
    names_used: set[str] = field(default_factory=set)
    values_used: set[str] = field(default_factory=set)

    def range_matches(self, value: dict | None) -> bool:
        """Whether a sort key value satisfies the sort key condition (True
        without one; False for an absent value)."""
        if self.range_op is None:
            return True
        if value is None:
            return False
        if self.range_op == "begins_with":
            prefix = self.range_values[0]
            kind = values.kind_of(prefix)
            if kind not in value:
                return False
            if kind == "S":
                return value["S"].startswith(prefix["S"])
            return values.sort_encoding(value).startswith(values.sort_encoding(prefix))
        order = [values.compare(value, v) for v in self.range_values]
        if None in order:
            return False
        if self.range_op == "BETWEEN":
            return order[0] >= 0 and order[1] <= 0
        return {
            "=": order[0] == 0,
            "<": order[0] < 0,
            "<=": order[0] <= 0,
            ">": order[0] > 0,
            ">=": order[0] >= 0,
        }[self.range_op]


def key_condition(
    text: str,
    names: dict | None,
    values: dict | None,
    hash_key: str | None = None,
    range_key: str | None = None,
) -> KeyCondition:
    """Parses a KeyConditionExpression. With the index's `hash_key` (and
    `range_key`) given, conditions are matched to them and DynamoDB's
    "Query condition missed key schema element: <name>" / "Query key
    condition not supported" are raised here; without them, the partition
    key is the attribute compared with `=` (the first, if both are).
    Raises ExpressionError with DynamoDB's message."""
    tree = parse(text, "condition", LABEL)
    binder = Binder(LABEL, names, values)
    bind_condition(tree, binder)  # names, values, reserved words, types
    binder.check()
    terms: list = []
    _flatten(tree, terms)
    found = [_term(t, binder) for t in terms]
    if len({name for name, _, _ in found}) < len(found):
        raise ExpressionError("KeyConditionExpressions must only contain one condition per key")
    if len(found) > 2:
        raise ExpressionError("Conditions can be of length 1 or 2 only")
    by_name = {name: (op, operands) for name, op, operands in found}
    if hash_key is None:
        equalities = [name for name, op, _ in found if op == "="]
        if not equalities:
            raise ExpressionError("Query key condition not supported")
        hash_key = equalities[0]
    if hash_key not in by_name:
        raise ExpressionError(f"Query condition missed key schema element: {hash_key}")
    op, operands = by_name.pop(hash_key)
    if op != "=":
        raise ExpressionError("Query key condition not supported")
    result = KeyCondition(hash_key, operands[0], names_used=binder.names_used, values_used=binder.values_used)
    if by_name:
        ((name, (op, operands)),) = by_name.items()
        if range_key is not None and name != range_key:
            raise ExpressionError(f"Query condition missed key schema element: {range_key}")
        result.range_name, result.range_op, result.range_values = name, op, tuple(operands)
    return result


def _flatten(node, terms: list) -> None:
    if isinstance(node, nodes.Parens):
        _flatten(node.inner, terms)
    elif isinstance(node, nodes.And):
        _flatten(node.left, terms)
        _flatten(node.right, terms)
    elif isinstance(node, nodes.Or):
        raise _invalid_operator("OR")
    elif isinstance(node, nodes.Not):
        raise _invalid_operator("NOT")
    elif isinstance(node, nodes.In):
        raise _invalid_operator("IN")
    elif isinstance(node, nodes.Compare) and node.op == "<>":
        raise _invalid_operator("<>")
    elif isinstance(node, nodes.Call) and node.name != "begins_with":
        raise _invalid_operator(node.name)
    else:
        terms.append(node)


def _invalid_operator(op: str) -> ExpressionError:
    return ExpressionError(f"Invalid operator used in KeyConditionExpression: {op}")


def _invalid_condition(message: str) -> ExpressionError:
    return ExpressionError(f"Invalid condition in KeyConditionExpression: {message}")


def _term(node, binder: Binder) -> tuple[str, str, list]:
    """(attribute name, operator, [values]) of one key condition."""
    if isinstance(node, nodes.Compare):
        op, operands = node.op, [node.left, node.right]
    elif isinstance(node, nodes.Between):
        op, operands = "BETWEEN", [node.operand, node.low, node.high]
    else:
        op, operands = "begins_with", list(node.args)
    if any(isinstance(o, nodes.Call) for o in operands):
        raise ExpressionError("KeyConditionExpressions cannot contain nested operations")
    paths = [o for o in operands if isinstance(o, nodes.PathRef)]
    if len(paths) > 1:
        raise _invalid_condition("Multiple attribute names used in one condition")
    if not paths:
        raise _invalid_condition("No key attribute specified")
    if any(len(p.path) > 1 for p in paths):
        raise ExpressionError("KeyConditionExpressions cannot have conditions on nested attributes")
    if not isinstance(operands[0], nodes.PathRef):
        if op in ("BETWEEN", "begins_with"):
            raise _invalid_condition(f"{op} operator must have the key attribute as its first operand")
        op, operands = FLIPPED[op], operands[::-1]
    name = binder.path(paths[0].path, record=False)[0]
    return name, op, [binder.value(o.name) for o in operands[1:]]
