"""Route path templates as API Gateway's HTTP APIs define them:
`/users/{id}` (one segment per parameter) and a greedy `{proxy+}` as the
last segment, matching one or more segments.

Precedence when several routes match: exact segments beat parameters beat a
greedy parameter, segment by segment from the left; then a route for the
request's method beats an ANY route."""

import functools
import re
from dataclasses import dataclass

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ANY = "ANY"

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9._~!$&'()*,;=:@-]+$")
# Segment kinds, in the order of precedence used to rank matches.
EXACT, PARAM, GREEDY = 2, 1, 0


class PathError(ValueError):
    pass


@dataclass(frozen=True)
class Segment:
    kind: int
    value: str  # the literal text, or the parameter's name


@functools.lru_cache(maxsize=4096)
def parse(template: str) -> tuple[Segment, ...]:
    """Check a path template and split it; raises PathError with a message
    fit for the form. Cached: routes are matched against it per request."""
    if not template.startswith("/"):
        raise PathError("The path must start with /, e.g. /users/{id}.")
    if len(template) > 400:
        raise PathError("The path is longer than 400 characters.")
    parts = template.strip("/").split("/") if template.strip("/") else []
    segments: list[Segment] = []
    names: set[str] = set()
    for i, part in enumerate(parts):
        if part == "":
            raise PathError("The path has an empty segment (//); remove the extra slash.")
        param = _PARAM.fullmatch(part)
        if param:
            name, greedy = param.group(1), bool(param.group(2))
            if name in names:
                raise PathError(f"The parameter {{{name}}} appears twice; give each a different name.")
            if greedy and i != len(parts) - 1:
                raise PathError(f"The greedy parameter {{{name}+}} must be the last segment.")
            names.add(name)
            segments.append(Segment(GREEDY if greedy else PARAM, name))
        elif "{" in part or "}" in part:
            raise PathError(
                f"The segment {part!r} mixes text and a parameter; a parameter must be a "
                "whole segment, like /users/{id}."
            )
        elif not _LITERAL.fullmatch(part):
            raise PathError(f"The segment {part!r} has characters a URL path cannot carry.")
        else:
            segments.append(Segment(EXACT, part))
    return tuple(segments)


def normalize(template: str) -> str:
    """The template with parameter names dropped: `/users/{id}` and
    `/users/{uid}` are the same route to a caller, so they conflict."""
    out = []
    for seg in parse(template):
        out.append(seg.value if seg.kind == EXACT else "{}" if seg.kind == PARAM else "{+}")
    return "/" + "/".join(out)


def match(template: str, path: str) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(rank, path parameters) when path fits the template, else None.
    A higher rank is a more specific match."""
    segments = parse(template)
    parts = path.strip("/").split("/") if path.strip("/") else []
    params: dict[str, str] = {}
    rank: list[int] = []
    for i, seg in enumerate(segments):
        if seg.kind == GREEDY:
            rest = parts[i:]
            if not rest or any(p == "" for p in rest):
                return None
            params[seg.value] = "/".join(rest)
            rank.append(GREEDY)
            return tuple(rank), params
        if i >= len(parts) or parts[i] == "":
            return None
        if seg.kind == EXACT:
            if parts[i] != seg.value:
                return None
        else:
            params[seg.value] = parts[i]
        rank.append(seg.kind)
    if len(parts) != len(segments):
        return None
    return tuple(rank), params


def best_match(routes, method: str, path: str):
    """The most specific of routes (anything with .method and .path) for
    (method, path): (route, path parameters), or None."""
    best = None
    best_key: tuple = ()
    for route in routes:
        route_method = route.method
        if route_method not in (method, ANY):
            continue
        found = match(route.path, path)
        if found is None:
            continue
        rank, params = found
        key = (rank, route_method != ANY)
        if best is None or key > best_key:
            best, best_key = (route, params), key
    return best
