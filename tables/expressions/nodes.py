"""The syntax tree of a parsed expression, before ExpressionAttributeNames
and ExpressionAttributeValues are substituted (see binding.py): a parse
depends on the text alone, so it can be cached and bound to any names and
values."""

from dataclasses import dataclass

# -- document paths -------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    """One attribute name of a path as written: `text` is a bare name
    (`status`) or a placeholder (`#s`) when `alias`."""

    text: str
    alias: bool


# A raw path: Names and list indexes (int), e.g. a.#b[2] ->
# (Name("a", False), Name("#b", True), 2).
RawPath = tuple[Name | int, ...]

# -- operands -------------------------------------------------------------------


@dataclass(frozen=True)
class PathRef:
    path: RawPath


@dataclass(frozen=True)
class ValueRef:
    name: str  # ":v"


@dataclass(frozen=True)
class Call:
    """A function: `size(a)` as an operand, `begins_with(a, :p)` as a
    condition, `if_not_exists(a, :v)` in an update."""

    name: str
    args: tuple


Operand = PathRef | ValueRef | Call

# -- conditions ---------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    op: str  # = <> < <= > >=
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True)
class In:
    operand: Operand
    choices: tuple


@dataclass(frozen=True)
class And:
    left: object
    right: object


@dataclass(frozen=True)
class Or:
    left: object
    right: object


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class Parens:
    inner: object


# -- update ---------------------------------------------------------------------


@dataclass(frozen=True)
class Arithmetic:
    op: str  # + -
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Action:
    """One action of an update clause: `kind` SET (value: Operand or
    Arithmetic), REMOVE (value None), ADD or DELETE (value: ValueRef)."""

    kind: str
    path: RawPath
    value: object


@dataclass(frozen=True)
class Clause:
    kind: str  # SET REMOVE ADD DELETE (upper case)
    actions: tuple[Action, ...]
