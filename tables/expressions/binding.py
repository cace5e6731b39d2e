"""Substituting ExpressionAttributeNames and ExpressionAttributeValues into
a parsed expression, and collecting its static errors in DynamoDB's order
(when an expression has several faults DynamoDB names one: redundant
parentheses first, then unknown or misused functions, reserved words,
repeated clauses, undefined names or values, overlapping paths, operand
counts, repeated operands and operand types)."""

from importlib.resources import files

from .. import values
from .errors import ExpressionError, invalid
from .nodes import Name, RawPath

PARENS, UNKNOWN_FUNCTION, MISUSED_FUNCTION, RESERVED, SECTION = 0, 1, 2, 3, 4
UNDEFINED, OVERLAP, CONFLICT, OPERANDS, DISTINCT, TYPE = 5, 6, 7, 8, 9, 10

RESERVED_WORDS = frozenset(
    word.upper()
    for line in files(__package__).joinpath("reserved_words.txt").read_text().splitlines()
    if not line.startswith("#")
    for word in line.split()
)

# A bound path: attribute names (str) and list indexes (int).
Path = tuple[str | int, ...]


def show_path(path: Path) -> str:
    """A path as DynamoDB shows it in messages: `[a, b, [2]]`."""
    return "[" + ", ".join(f"[{p}]" if isinstance(p, int) else p for p in path) + "]"


class Binder:
    """Binds one expression to the request's `names` (ExpressionAttributeNames,
    "#n" -> name) and `values` (ExpressionAttributeValues, ":v" ->
    AttributeValue); records which were used and the first error of each
    kind; `check()` raises the one DynamoDB would name."""

    def __init__(self, label: str, names: dict | None, values: dict | None):
        self.label = label
        self.names = names or {}
        self.values = values or {}
        self.names_used: set[str] = set()
        self.values_used: set[str] = set()
        self.paths: list[Path] = []
        self._errors: dict[int, str] = {}

    def error(self, kind: int, message: str) -> None:
        self._errors.setdefault(kind, message)

    def check(self) -> None:
        if self._errors:
            raise invalid(self.label, self._errors[min(self._errors)])

    def name(self, name: Name) -> str:
        if not name.alias:
            if name.text.upper() in RESERVED_WORDS:
                self.error(RESERVED, f"Attribute name is a reserved keyword; reserved keyword: {name.text}")
            return name.text
        if name.text not in self.names:
            self.error(
                UNDEFINED,
                "An expression attribute name used in the document path is not defined; "
                f"attribute name: {name.text}",
            )
            return name.text
        self.names_used.add(name.text)
        return self.names[name.text]

    def path(self, raw: RawPath, record: bool = True) -> Path:
        bound = tuple(p if isinstance(p, int) else self.name(p) for p in raw)
        if record:
            self.paths.append(bound)
        return bound

    def value(self, name: str) -> dict | None:
        if name not in self.values:
            self.error(
                UNDEFINED,
                f"An expression attribute value used in expression is not defined; attribute value: {name}",
            )
            return None
        self.values_used.add(name)
        try:
            return values.normalize_value(self.values[name])
        except values.InvalidValue as error:
            raise ExpressionError(
                f"ExpressionAttributeValues contains invalid value: {error} for key {name}"
            ) from None


def overlap(binder: Binder, paths: list[Path]) -> None:
    """Records DynamoDB's error for two paths where one is a prefix of the
    other (overlap) or one indexes a list where the other names a map
    entry at the same place (conflict)."""
    for i, first in enumerate(paths):
        for second in paths[i + 1 :]:
            for a, b in zip(first, second, strict=False):
                if isinstance(a, int) != isinstance(b, int):
                    binder.error(
                        CONFLICT,
                        "Two document paths conflict with each other; "
                        "must remove or rewrite one of these paths; "
                        f"path one: {show_path(first)}, path two: {show_path(second)}",
                    )
                    break
                if a != b:
                    break
            else:
                binder.error(
                    OVERLAP,
                    "Two document paths overlap with each other; "
                    "must remove or rewrite one of these paths; "
                    f"path one: {show_path(first)}, path two: {show_path(second)}",
                )


def unused(
    names: dict | None, values: dict | None, names_used: set[str], values_used: set[str]
) -> str | None:
    """DynamoDB's ValidationException message when the request defines
    ExpressionAttributeNames or ExpressionAttributeValues that none of its
    expressions use (values are reported first), else None. `names_used`
    and `values_used` are the union over all the request's expressions."""
    spare_values = sorted(set(values or {}) - set(values_used))
    if spare_values:
        keys = ", ".join(spare_values)
        return f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{keys}}}"
    spare_names = sorted(set(names or {}) - set(names_used))
    if spare_names:
        keys = ", ".join(spare_names)
        return f"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{keys}}}"
    return None
