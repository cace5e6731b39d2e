"""REST request URIs: the model's `http.requestUri` templates compiled to
matchers. Rules from botocore's `_render_uri_template` (serialize.py): a
`{Label}` is one percent-encoded path segment, a `{Label+}` (greedy) keeps
its slashes; a `?name` or `?name=value` after the path is a fixed query
parameter that picks the operation (S3's `?delete`, `?list-type=2`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class UriTemplate:
    regex: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str | None], ...]
    literal_length: int
    greedy: bool
    greedy_labels: tuple[bool, ...] = ()

    def match(self, raw_path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        """The decoded labels of `raw_path` when it and `query` fit, else None."""
        found = self.regex.match(raw_path)
        if found is None:
            return None
        for name, value in self.query:
            if name not in query or (value is not None and value not in query[name]):
                return None
        labels = {}
        for i, label in enumerate(self.labels):
            value = unquote(found.group(f"g{i}"))
            if "/" in value and not self.greedy_labels[i]:
                # A plain label is one path segment once decoded too, as
                # API Gateway-style front ends route (%2F is no way into it).
                return None
            labels[label] = value
        return labels


@lru_cache(maxsize=4096)
def compile_uri(request_uri: str) -> UriTemplate:
    """`/{Bucket}/{Key+}?uploads` -> a matcher. A trailing slash is optional
    (clients differ), except after a greedy label, where it belongs to the value."""
    path, _, query = request_uri.partition("?")
    pattern, labels, literal, greedy, pos = ["^"], [], 0, False, 0
    greedy_labels = []
    for found in _LABEL.finditer(path):
        text = path[pos:found.start()]
        pattern.append(re.escape(text))
        literal += len(text)
        pattern.append(f"(?P<g{len(labels)}>{'.+' if found.group(2) else '[^/]+'})")
        greedy = greedy or bool(found.group(2))
        greedy_labels.append(bool(found.group(2)))
        labels.append(found.group(1))
        pos = found.end()
    tail = path[pos:]
    literal += len(tail)
    if tail.endswith("/") and tail != "/" or (tail == "/" and labels):
        tail = tail[:-1]
    pattern.append(re.escape(tail))
    if path != "/" and not (greedy and not tail):
        pattern.append("/?")
    pattern.append("$")
    fixed = []
    for part in filter(None, query.split("&")):
        name, eq, value = part.partition("=")
        if name != "x-id":  # botocore's informational operation name, not a selector
            fixed.append((unquote(name), unquote(value) if eq else None))
    return UriTemplate(
        re.compile("".join(pattern)), tuple(labels), tuple(fixed), literal, greedy, tuple(greedy_labels)
    )
