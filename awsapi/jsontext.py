"""JSON text from outside (API bodies, Invoke payloads, the console's test
events), parsed with limits that every later step can live with.

Python's parser gives up on deep nesting with a RecursionError whose depth
depends on how deep the caller's stack already is, and the text is parsed
again later (by the worker, the destination record, the console's pretty
print) on other stacks. So the nesting is limited here, before parsing,
by a fixed number: the same text is accepted or refused everywhere.
Lambda's parser (Jackson) also refuses NaN and Infinity, which Python's
accepts; so do we.

Python's parser also reads an unpaired surrogate ("\\ud800") into a str
that no database, log or UTF-8 answer can hold: `unpaired_surrogate_at`
finds one, for the callers that must refuse it (the AWS door's parser,
the console's item form)."""

import json
import re
from itertools import accumulate
from typing import Any

# Deeper than any event AWS sends (API Gateway, S3, SNS... are under 10)
# and far from Python's recursion limit (1000) on any stack we run on.
PAYLOAD_MAX_DEPTH = 256

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
# Opening brackets become +1 and closing ones -1 (0xff as a signed byte).
_STEPS = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")


class JsonError(ValueError):
    """Text that is not JSON we accept; the message says why."""


def nesting(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets
    inside strings do not count). Linear time: for text that is not JSON
    the answer is only an upper bound of what a parser would see."""
    if data.count(b"[") + data.count(b"{") == 0:
        return 0
    steps = _STRING.sub(b"", data).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def deeper_than(data: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`.
    Cheap first: a text with fewer brackets than the limit cannot exceed
    it, so most texts are only counted, never scanned (`nesting`)."""
    return data.count(b"[") + data.count(b"{") > limit and nesting(data) > limit


def _no_constant(name: str):
    raise JsonError(f"{name} is not a JSON value (JSON has no NaN or Infinity).")


def loads(data: bytes | str, *, max_depth: int = PAYLOAD_MAX_DEPTH, what: str = "the text"):
    """The JSON value of `data` (UTF-8 bytes or text). JsonError when it is
    not JSON, uses NaN/Infinity, or nests arrays and objects deeper than
    `max_depth`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if deeper_than(raw, max_depth):
        raise JsonError(f"{what} nests arrays and objects deeper than {max_depth} levels.")
    try:
        return json.loads(data, parse_constant=_no_constant)
    except JsonError:
        raise
    except RecursionError:
        # Not expected under the depth limit; kept so it can never be a 500.
        raise JsonError(f"{what} is nested too deeply.") from None
    except (ValueError, TypeError) as e:
        # UnicodeDecodeError is a ValueError; so are the integer digit limit
        # (4300 digits) and malformed text.
        raise JsonError(str(e)) from None


def not_text(text: str) -> bool:
    """Whether `text` holds an unpaired surrogate: no Unicode text, so no
    database, log or answer can hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unpaired_surrogate_at(value: Any) -> str | None:
    """The path ("Key.id.S", "Entries.2") of the first string or object key
    in a JSON value that is not Unicode text (an unpaired surrogate), else
    None. Iterative: bodies may nest as deep as the JSON parser took."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not_text(item):
                return where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else key
                if not_text(key):
                    return path.encode("utf-8", "backslashreplace").decode("utf-8")
                stack.append((child, path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{i}") for i, child in enumerate(item, 1))
    return None
