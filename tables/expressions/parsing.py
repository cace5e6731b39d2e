"""Parsing expression text with the lark grammar (grammar.lark) into the
trees of nodes.py; syntax errors worded as DynamoDB words them:
`Invalid <Parameter>: Syntax error; token: "<token>", near: "<previous
token> <token>"` (`<EOF>` at the end), and `The expression can not be
empty;` for blank text."""

from functools import lru_cache
from importlib.resources import files

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import nodes
from .errors import invalid

_GRAMMAR = files(__package__).joinpath("grammar.lark").read_text()
# One parser per kind of expression, each with its own keywords (AND, OR,
# NOT, BETWEEN, IN for conditions; SET, REMOVE, ADD, DELETE for updates):
# a keyword is a keyword wherever it stands in its own kind (`a AND AND`
# is a syntax error at the second AND) and a plain (reserved) name in the
# others. The basic lexer makes every token pass through the parser, so a
# syntax error always knows the token before it.
_PARSERS = {
    start: Lark(_GRAMMAR, start=start, parser="lalr", lexer="basic")
    for start in ("condition", "update", "projection")
}


def _keep(children: list) -> list:
    # Keywords (AND, BETWEEN, SET...) are named terminals, so lark keeps
    # them among the children; the tree needs only the operands.
    return [c for c in children if not isinstance(c, Token) or c.type in ("NAME", "ATTR_VALUE")]


class _ToNodes(Transformer):
    def bare_name(self, children):
        return nodes.Name(str(children[0]), alias=False)

    def alias_name(self, children):
        return nodes.Name(str(children[0]), alias=True)

    def index(self, children):
        return int(children[0])

    def path(self, children):
        return nodes.PathRef(tuple(children))

    def value(self, children):
        return nodes.ValueRef(str(children[0]))

    def call(self, children):
        return nodes.Call(str(children[0]), tuple(children[1:]))

    def comparator(self, children):
        return str(children[0])

    def comparison(self, children):
        left, op, right = children
        return nodes.Compare(op, left, right)

    def between(self, children):
        operand, low, high = _keep(children)
        return nodes.Between(operand, low, high)

    def in_(self, children):
        operand, *choices = _keep(children)
        return nodes.In(operand, tuple(choices))

    def parens(self, children):
        return nodes.Parens(children[0])

    def or_(self, children):
        left, right = _keep(children)
        return nodes.Or(left, right)

    def and_(self, children):
        left, right = _keep(children)
        return nodes.And(left, right)

    def not_(self, children):
        (operand,) = _keep(children)
        return nodes.Not(operand)

    # -- update ---------------------------------------------------------------

    def plus(self, children):
        return nodes.Arithmetic("+", *children)

    def minus(self, children):
        return nodes.Arithmetic("-", *children)

    def set_action(self, children):
        path, value = children
        return nodes.Action("SET", path.path, value)

    def set_clause(self, children):
        return nodes.Clause("SET", tuple(_keep(children)))

    def remove_clause(self, children):
        return nodes.Clause("REMOVE", tuple(nodes.Action("REMOVE", p.path, None) for p in _keep(children)))

    def _pairs(self, kind, children):
        rest = _keep(children)
        return nodes.Clause(
            kind, tuple(nodes.Action(kind, p.path, v) for p, v in zip(rest[::2], rest[1::2], strict=True))
        )

    def add_clause(self, children):
        return self._pairs("ADD", children)

    def delete_clause(self, children):
        return self._pairs("DELETE", children)

    def update(self, children):
        return tuple(children)

    def projection(self, children):
        return tuple(p.path for p in children)


_TO_NODES = _ToNodes()


@lru_cache(maxsize=512)
def parse(text: str, start: str, label: str):
    """The tree of `text` read as `start` ("condition", "update" or
    "projection"): a condition node, a tuple of nodes.Clause, or a tuple
    of raw paths. ExpressionError (message prefixed `Invalid <label>: `)
    for blank text or a syntax error. Cached by (text, start, label)."""
    if not text or not text.strip():
        raise invalid(label, "The expression can not be empty;")
    parser = _PARSERS[start]
    interactive = parser.parse_interactive(text)
    seen: list[Token] = []
    try:
        for token in interactive.iter_parse():
            seen.append(token)
        tree = interactive.feed_eof(seen[-1] if seen else None)
    except UnexpectedToken as error:
        # iter_parse yields a token before feeding it: the bad one is the
        # last seen, or the end of input (never yielded).
        bad = error.token
        if bad.type == "$END":
            raise _syntax_error(
                parser, label, text, "<EOF>", seen[-1] if seen else None, len(text), len(text)
            ) from None
        before = next((t for t in reversed(seen) if t.end_pos <= bad.start_pos), None)
        raise _syntax_error(parser, label, text, str(bad), before, bad.start_pos, bad.end_pos) from None
    except UnexpectedCharacters as error:
        at = error.pos_in_stream
        raise _syntax_error(parser, label, text, text[at], seen[-1] if seen else None, at, at + 1) from None
    except UnexpectedInput:
        raise _syntax_error(
            parser, label, text, "<EOF>", seen[-1] if seen else None, len(text), len(text)
        ) from None
    return _TO_NODES.transform(tree)


def _syntax_error(
    parser: Lark, label: str, text: str, token: str, before: Token | None, start: int, end: int
):
    # DynamoDB shows the offending token with the tokens either side, as
    # written: `ADD hits : incr` -> token ":", near "hits : incr".
    begin = before.start_pos if before is not None else start
    near = text[begin : _next_token_end(parser, text, end)].strip()
    return invalid(label, f'Syntax error; token: "{token}", near: "{near}"')


def _next_token_end(parser: Lark, text: str, position: int) -> int:
    rest = text[position:]
    if not rest.strip():
        return len(text)
    try:
        token = next(iter(parser.lex(rest)))
    except UnexpectedCharacters:
        skipped = len(rest) - len(rest.lstrip())
        return position + skipped + 1
    return position + token.end_pos
