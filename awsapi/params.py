"""Request parameters checked against the operation's input shape in
botocore's service model, as AWS's own front end does before any handler
runs: the JSON type of every member (strings are strings, integers are
whole numbers and never booleans, objects are objects), required members,
enums, lengths, ranges and patterns (matched in full, ASCII classes as in
Java). Anything that fails is a ValidationException (400) in AWS's words:

    1 validation error detected: Value '64' at 'memorySize' failed to
    satisfy constraint: Member must have value greater than or equal to 128

Rules a service adds on top of its model are the service's own checks,
which run after these; its 4 KB of environment variables is
InvalidParameterValueException, as Lambda does. Where a service's own
ranges are narrower than the published model's (Lambda's Timeout of at
most 900 s and MemorySize of at most 10,240 MB; today's model allows
5400 and 32768), check_body takes them as `limits`, so every value out of
range is told the service's real limit, in these same words.

Two more rules hold for every string, because the database must store it:
no NUL character and no unpaired surrogate (JSON's "\\ud800" escape)."""

import base64
import binascii
import json
import math
import re
from functools import cache

import botocore.session
from botocore.model import OperationModel, Shape

from awsapi import errors

# Values shown in messages are cut to this many characters.
SHOWN_MAX = 64


def validation_error(problems: list[str]) -> errors.AwsError:
    """AWS's ValidationException listing every problem found."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return errors.AwsError(
        400, "ValidationException", f"{count} validation {noun} detected: " + "; ".join(problems)
    )


@cache
def _model(service: str):
    return botocore.session.get_session().get_service_model(service)


def operation(service: str, name: str) -> OperationModel:
    """botocore's model of an operation, e.g. ("lambda", "CreateFunction")."""
    return _model(service).operation_model(name)


def shape(service: str, name: str) -> Shape:
    """A named shape of the service's model, e.g. "FunctionName"."""
    return _model(service).shape_for(name)


@cache
def _pattern(pattern: str) -> re.Pattern | None:
    # AWS patterns are Java regexes matched against the whole value, with
    # ASCII classes. The few Python cannot compile (\p{L}) are not checked.
    try:
        return re.compile(pattern, re.ASCII | re.DOTALL)
    except re.error:
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def shown(value) -> str:
    """A value as a message quotes it: JSON-escaped (a newline shows as \\n)
    and cut to SHOWN_MAX characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    if isinstance(value, str):
        text = text[1:-1]
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "..."


class _Checker:
    def __init__(self, limits: dict[str, tuple[int, int]] | None = None) -> None:
        self.problems: list[str] = []
        # Ranges by path ("timeout", "ephemeralStorage.size") that replace
        # the model's min and max for integers.
        self.limits = limits or {}
        # "Key" while a map's keys are checked: a key is always named, even
        # in a sensitive map (the caller sent it, and a name is no secret).
        self.noun = "Value"

    def fail(self, shape: Shape, value, where: str, constraint: str) -> None:
        if self.noun == "Key":
            subject = f"Key '{shown(value)}' at '{where}'"
        elif shape.metadata.get("sensitive"):
            # As AWS: a sensitive value (environment variables) is not echoed.
            subject = f"Value at '{where}'"
        else:
            subject = f"Value '{shown(value)}' at '{where}'"
        self.problems.append(f"{subject} failed to satisfy constraint: Member must {constraint}")

    def check(self, shape: Shape, value, where: str) -> None:
        kind = shape.type_name
        check = getattr(self, f"_{kind}", None)
        if check is not None:
            check(shape, value, where)

    def _structure(self, shape: Shape, value, where: str) -> None:
        if not isinstance(value, dict):
            self.fail(shape, value, where, "be an object")
            return
        self.members(shape, value, f"{where}.")

    def members(self, shape: Shape, value: dict, where: str, *, only=None) -> None:
        """Check a structure's members; `where` is the prefix of their
        paths ("" at the top, "code." inside Code)."""
        for name in shape.required_members:
            if (only is None or name in only) and value.get(name) is None:
                self.problems.append(
                    f"Value null at '{where}{_camel(name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, member in shape.members.items():
            if only is not None and name not in only:
                continue
            # null is "not given", as AWS's parsers read it.
            if value.get(name) is not None:
                self.check(member, value[name], f"{where}{_camel(name)}")

    def _string(self, shape: Shape, value, where: str) -> None:
        if not isinstance(value, str):
            self.fail(shape, value, where, "be a string")
            return
        if "\x00" in value:
            self.fail(shape, value, where, "not contain NUL characters")
            return
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(shape, value, where, "be valid Unicode text (it holds an unpaired surrogate)")
            return
        meta = shape.metadata
        if "min" in meta and len(value) < meta["min"]:
            self.fail(shape, value, where, f"have length greater than or equal to {meta['min']}")
        elif "max" in meta and len(value) > meta["max"]:
            self.fail(shape, value, where, f"have length less than or equal to {meta['max']}")
        elif shape.enum and value not in shape.enum:
            self.fail(shape, value, where, f"satisfy enum value set: [{', '.join(shape.enum)}]")
        elif "pattern" in meta:
            compiled = _pattern(meta["pattern"])
            if compiled is not None and not compiled.fullmatch(value):
                self.fail(shape, value, where, f"satisfy regular expression pattern: {meta['pattern']}")

    def _integer(self, shape: Shape, value, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(shape, value, where, "be a whole number")
            return
        meta = shape.metadata
        low, high = self.limits.get(where, (meta.get("min"), meta.get("max")))
        if low is not None and value < low:
            self.fail(shape, value, where, f"have value greater than or equal to {low}")
        elif high is not None and value > high:
            self.fail(shape, value, where, f"have value less than or equal to {high}")

    _long = _integer

    def _double(self, shape: Shape, value, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            self.fail(shape, value, where, "be a finite number")

    _float = _double

    def _boolean(self, shape: Shape, value, where: str) -> None:
        if not isinstance(value, bool):
            self.fail(shape, value, where, "be true or false")

    def _blob(self, shape: Shape, value, where: str) -> None:
        if not isinstance(value, str):
            self.fail(shape, value, where, "be base64-encoded data (a string)")
            return
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            self.fail(shape, value, where, "be valid base64")

    def _timestamp(self, shape: Shape, value, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            self.fail(shape, value, where, "be a timestamp (seconds since the epoch)")

    def _list(self, shape: Shape, value, where: str) -> None:
        if not isinstance(value, list):
            self.fail(shape, value, where, "be an array")
            return
        meta = shape.metadata
        if "min" in meta and len(value) < meta["min"]:
            self.fail(shape, value, where, f"have length greater than or equal to {meta['min']}")
        elif "max" in meta and len(value) > meta["max"]:
            self.fail(shape, value, where, f"have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            if item is None:
                self.fail(shape.member, item, f"{where}.{i + 1}", "not be null")
            else:
                self.check(shape.member, item, f"{where}.{i + 1}")

    def _map(self, shape: Shape, value, where: str) -> None:
        if not isinstance(value, dict):
            self.fail(shape, value, where, "be an object")
            return
        for key, item in value.items():
            self.noun = "Key"
            try:
                self.check(shape.key, key, where)
            finally:
                self.noun = "Value"
            if item is None:
                self.fail(shape.value, item, f"{where}.{shown(key)}", "not be null")
            else:
                self.check(shape.value, item, f"{where}.{shown(key)}")


def check_body(service: str, operation_name: str, body: dict,
               limits: dict[str, tuple[int, int]] | None = None) -> None:
    """Raise a ValidationException unless every member of the JSON body
    that the operation's input shape describes (members bound to the URI,
    query string or headers excepted) fits it. Members the model does not
    know are ignored, as AWS does. `limits`: {path: (min, max)} for
    integers the service bounds more narrowly than its model (paths as the
    messages name them: "timeout", "ephemeralStorage.size")."""
    shape = operation(service, operation_name).input_shape
    in_body = {n for n, m in shape.members.items() if not m.serialization.get("location")}
    checker = _Checker(limits)
    checker.members(shape, body, "", only=in_body)
    if checker.problems:
        raise validation_error(checker.problems)


def check_query(service: str, operation_name: str, query) -> dict:
    """The query-string members of the operation (a Django QueryDict or a
    dict of strings), checked and converted: integers from their decimal
    text. Raises a ValidationException for a value that does not fit."""
    shape = operation(service, operation_name).input_shape
    checker = _Checker()
    values: dict = {}
    for name, member in shape.members.items():
        if member.serialization.get("location") != "querystring":
            continue
        key = member.serialization.get("name", name)
        if key not in query:
            continue
        text = query.get(key)
        value: object = text
        if member.type_name == "list":
            # A repeated member (UntagResource's tagKeys=a&tagKeys=b).
            value = list(text) if isinstance(text, list) else [text]
        elif isinstance(text, list):
            value = text = text[-1]
        if member.type_name in ("integer", "long"):
            if re.fullmatch(r"-?[0-9]{1,18}", text or "", re.ASCII):
                value = int(text)
        elif member.type_name == "boolean" and text in ("true", "false"):
            value = text == "true"
        checker.check(member, value, _camel(name))
        values[name] = value
    if checker.problems:
        raise validation_error(checker.problems)
    return values


def check_value(service: str, shape_name: str, value, where: str) -> None:
    """Check one value (e.g. a URI member) against a named shape."""
    checker = _Checker()
    checker.check(shape(service, shape_name), value, where)
    if checker.problems:
        raise validation_error(checker.problems)
