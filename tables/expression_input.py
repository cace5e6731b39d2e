"""A request's expressions with their ExpressionAttributeNames and
ExpressionAttributeValues: parsed by tables.expressions, their errors
turned into ValidationException, and the names and values checked as
DynamoDB checks them once every expression of the request is read:

- values are typed values (tables.values' rules), "ExpressionAttributeValues
  contains invalid value: <why> for key :v";
- names or values given with no expression that could use them:
  "ExpressionAttributeNames can only be specified when using expressions";
- empty maps: "ExpressionAttributeValues must not be empty";
- an entry no expression uses: tables.expressions.unused's message;
- an expression longer than 4 KB (Developer Guide, "Quotas": expression
  parameters), or nested too deeply to read.

    found = Expressions(params)
    condition = found.condition("ConditionExpression")
    update = found.update("UpdateExpression")
    found.finish()"""

from __future__ import annotations

from typing import Any

from tables import expressions, values, wire

# "The maximum length of any expression string is 4 KB."
MAX_EXPRESSION_BYTES = 4096


class Expressions:
    def __init__(self, params: dict) -> None:
        self.params = params
        self.names = params.get("ExpressionAttributeNames")
        given = params.get("ExpressionAttributeValues")
        if self.names is not None and not self.names:
            raise wire.validation("ExpressionAttributeNames must not be empty")
        if given is not None and not given:
            raise wire.validation("ExpressionAttributeValues must not be empty")
        self.values: dict[str, dict] = {}
        for name, value in wire.typed_in(given or {}).items():
            try:
                self.values[name] = values.normalize_value(value)
            except values.InvalidValue as exc:
                raise wire.validation(
                    f"ExpressionAttributeValues contains invalid value: {exc} for key {name}"
                ) from None
        self.names = self.names or {}
        for key, name in self.names.items():
            if name == "":
                raise wire.validation(
                    f"ExpressionAttributeNames contains invalid value: Empty attribute name for key {key}"
                )
        self.parsed: list[Any] = []

    def _parse(self, member: str, kind: str, *args, **options) -> Any:
        text = self.params.get(member)
        if text is None:
            return None
        parse = getattr(expressions, kind)
        if not isinstance(text, str) or not text.strip():
            raise wire.validation(f"Invalid {member}: The expression can not be empty;")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_EXPRESSION_BYTES:
            raise wire.validation(
                f"Invalid {member}: Expression size has exceeded the maximum allowed size; "
                f"expression size: {size} bytes, at most {MAX_EXPRESSION_BYTES}"
            )
        try:
            found = parse(text, *args, **options)
        except expressions.ExpressionError as exc:
            raise wire.validation(str(exc)) from None
        except values.InvalidValue as exc:
            raise wire.validation(str(exc)) from None
        except RecursionError:
            # Within 4 KB, hundreds of nested NOTs or parentheses: refused
            # rather than answered as our failure.
            raise wire.validation(f"Invalid {member}: The expression is nested too deeply;") from None
        self.parsed.append(found)
        return found

    def condition(self, member: str = "ConditionExpression"):
        """ConditionExpression, or FilterExpression (`member` names it in errors)."""
        return self._parse(member, "condition", self.names, self.values, label=member)

    def update(self, member: str = "UpdateExpression"):
        return self._parse(member, "update", self.names, self.values)

    def projection(self, member: str = "ProjectionExpression"):
        return self._parse(member, "projection", self.names)

    def key_condition(self, hash_key: str, range_key: str | None):
        """KeyConditionExpression on the table's or index's keys."""
        return self._parse(
            "KeyConditionExpression",
            "key_condition",
            self.names,
            self.values,
            hash_key=hash_key,
            range_key=range_key,
        )

    def finish(self) -> None:
        """After every expression of the request was read: names or values
        no expression uses are refused."""
        if not self.parsed:
            if self.params.get("ExpressionAttributeNames"):
                raise wire.validation("ExpressionAttributeNames can only be specified when using expressions")
            if self.params.get("ExpressionAttributeValues"):
                raise wire.validation(
                    "ExpressionAttributeValues can only be specified when using expressions"
                )
            return
        names_used: set = set()
        values_used: set = set()
        for found in self.parsed:
            names_used |= set(getattr(found, "names_used", ()) or ())
            values_used |= set(getattr(found, "values_used", ()) or ())
        message = expressions.unused(self.names, self.values, names_used, values_used)
        if message:
            raise wire.validation(message)
