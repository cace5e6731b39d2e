"""DynamoDB's legacy conditional parameters, rewritten as the expressions
they stand for, so one evaluator (tables.expressions) serves both.

Source: DynamoDB Developer Guide, "Legacy conditional parameters":
`Expected` (PutItem, UpdateItem, DeleteItem) -> ConditionExpression,
`KeyConditions` (Query) -> KeyConditionExpression, `QueryFilter` /
`ScanFilter` -> FilterExpression, `AttributesToGet` -> ProjectionExpression,
`AttributeUpdates` (UpdateItem) -> UpdateExpression; `ConditionalOperator`
(AND, the default, or OR) joins the conditions. A request may not mix a
legacy parameter with expression parameters ("Can not use both expression
and non-expression parameters in the same request").

    params = legacy.rewritten(params)   # a new dict; the same one without legacy members"""

from __future__ import annotations

from tables import wire

# Legacy member -> the expression member it becomes.
MEMBERS = {
    "Expected": "ConditionExpression",
    "KeyConditions": "KeyConditionExpression",
    "QueryFilter": "FilterExpression",
    "ScanFilter": "FilterExpression",
    "AttributesToGet": "ProjectionExpression",
    "AttributeUpdates": "UpdateExpression",
}
EXPRESSION_MEMBERS = (
    "ConditionExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
    "UpdateExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
)
COMPARISONS = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}
# Operator -> how many values AttributeValueList holds (None: one or more).
OPERANDS = {
    **dict.fromkeys(COMPARISONS, 1),
    "NOT_NULL": 0,
    "NULL": 0,
    "CONTAINS": 1,
    "NOT_CONTAINS": 1,
    "BEGINS_WITH": 1,
    "IN": None,
    "BETWEEN": 2,
}
KEY_OPERATORS = ("EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN")


class _Builder:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#legacy{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value) -> str:
        placeholder = f":legacy{len(self.values)}"
        self.values[placeholder] = value
        return placeholder


def _comparison(builder: _Builder, attribute: str, spec: dict, member: str) -> str:
    operator = spec.get("ComparisonOperator")
    if operator not in OPERANDS:
        raise wire.validation(
            f"One or more parameter values were invalid: Invalid ComparisonOperator "
            f"{operator} for {member} on attribute {attribute}"
        )
    given = list(spec.get("AttributeValueList") or [])
    wanted = OPERANDS[operator]
    if (wanted is None and not given) or (wanted is not None and len(given) != wanted):
        raise wire.invalid(f"Invalid number of argument(s) for the {operator} ComparisonOperator")
    name = builder.name(attribute)
    operands = [builder.value(v) for v in given]
    if operator in COMPARISONS:
        return f"{name} {COMPARISONS[operator]} {operands[0]}"
    if operator == "NOT_NULL":
        return f"attribute_exists({name})"
    if operator == "NULL":
        return f"attribute_not_exists({name})"
    if operator == "CONTAINS":
        return f"contains({name}, {operands[0]})"
    if operator == "NOT_CONTAINS":
        return f"NOT contains({name}, {operands[0]})"
    if operator == "BEGINS_WITH":
        return f"begins_with({name}, {operands[0]})"
    if operator == "IN":
        return f"{name} IN ({', '.join(operands)})"
    return f"{name} BETWEEN {operands[0]} AND {operands[1]}"


def _expected(builder: _Builder, expected: dict) -> list[str]:
    terms = []
    for attribute, spec in expected.items():
        if spec.get("ComparisonOperator") is not None:
            if spec.get("Value") is not None or spec.get("Exists") is not None:
                raise wire.invalid(
                    "Value or Exists must not be used with ComparisonOperator and "
                    f"AttributeValueList for Expected attribute {attribute}"
                )
            terms.append(_comparison(builder, attribute, spec, "Expected"))
        elif spec.get("Exists") is False:
            if spec.get("Value") is not None:
                raise wire.invalid(
                    f"Value cannot be used when Exists is false for Expected attribute {attribute}"
                )
            terms.append(f"attribute_not_exists({builder.name(attribute)})")
        elif spec.get("Value") is not None:
            terms.append(f"{builder.name(attribute)} = {builder.value(spec['Value'])}")
        else:
            raise wire.invalid(f"Exists is set to TRUE for attribute {attribute}, Value must also be set")
    return terms


def _updates(builder: _Builder, updates: dict) -> str:
    clauses: dict[str, list[str]] = {"SET": [], "REMOVE": [], "ADD": [], "DELETE": []}
    for attribute, spec in updates.items():
        action = spec.get("Action") or "PUT"
        value = spec.get("Value")
        name = builder.name(attribute)
        if action == "PUT":
            if value is None:
                raise wire.invalid(
                    f"Only DELETE action is allowed when no attribute value is specified: {attribute}"
                )
            clauses["SET"].append(f"{name} = {builder.value(value)}")
        elif action == "DELETE":
            if value is None:
                clauses["REMOVE"].append(name)
            else:
                clauses["DELETE"].append(f"{name} {builder.value(value)}")
        elif action == "ADD":
            if value is None:
                raise wire.invalid(
                    f"Only DELETE action is allowed when no attribute value is specified: {attribute}"
                )
            clauses["ADD"].append(f"{name} {builder.value(value)}")
        else:
            raise wire.constraint(
                action, "attributeUpdates.action", "satisfy enum value set: [ADD, PUT, DELETE]"
            )
    return " ".join(f"{kind} {', '.join(parts)}" for kind, parts in clauses.items() if parts)


def rewritten(params: dict) -> dict:
    """`params` with its legacy members replaced by expressions and their
    generated ExpressionAttributeNames/Values; `params` itself when it has
    none. ValidationException when legacy and expression members are mixed."""
    legacy = [m for m in MEMBERS if params.get(m) is not None]
    if not legacy:
        if params.get("ConditionalOperator") is not None:
            raise wire.validation(
                "ConditionalOperator can only be used when Filter or Expected conditions have been specified"
            )
        return params
    modern = [m for m in EXPRESSION_MEMBERS if params.get(m) is not None]
    if modern:
        raise wire.validation(
            "Can not use both expression and non-expression parameters in the same request: "
            f"Non-expression parameters: {{{', '.join(legacy)}}} "
            f"Expression parameters: {{{', '.join(modern)}}}"
        )
    joiner = f" {params.get('ConditionalOperator') or 'AND'} "
    if joiner.strip() not in ("AND", "OR"):
        raise wire.constraint(joiner.strip(), "conditionalOperator", "satisfy enum value set: [AND, OR]")
    builder = _Builder()
    out = {k: v for k, v in params.items() if k not in MEMBERS and k != "ConditionalOperator"}
    if params.get("Expected"):
        out["ConditionExpression"] = joiner.join(f"({t})" for t in _expected(builder, params["Expected"]))
    if params.get("KeyConditions") is not None:
        terms = []
        for attribute, spec in params["KeyConditions"].items():
            if spec.get("ComparisonOperator") not in KEY_OPERATORS:
                raise wire.validation("Attempted conditional constraint is not an indexable operation")
            terms.append(_comparison(builder, attribute, spec, "KeyConditions"))
        if terms:
            out["KeyConditionExpression"] = " AND ".join(terms)
    for member in ("QueryFilter", "ScanFilter"):
        if params.get(member):
            terms = [_comparison(builder, a, spec, member) for a, spec in params[member].items()]
            out["FilterExpression"] = joiner.join(f"({t})" for t in terms)
    if params.get("AttributesToGet"):
        out["ProjectionExpression"] = ", ".join(builder.name(a) for a in params["AttributesToGet"])
    if params.get("AttributeUpdates") is not None:
        expression = _updates(builder, params["AttributeUpdates"])
        if expression:
            out["UpdateExpression"] = expression
    if builder.names:
        out["ExpressionAttributeNames"] = builder.names
    if builder.values:
        out["ExpressionAttributeValues"] = builder.values
    return out
