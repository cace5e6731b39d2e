"""The one error of this package, carrying DynamoDB's ValidationException
message."""


class ExpressionError(ValueError):
    """An expression DynamoDB refuses, or an item it cannot apply to; the
    message is DynamoDB's own ValidationException text, e.g.
    `Invalid ConditionExpression: Syntax error; token: "AND", near: "a AND AND"`."""


def invalid(label: str, message: str) -> ExpressionError:
    """`Invalid <label>: <message>` as DynamoDB words static errors;
    `label` is the parameter's name (ConditionExpression, FilterExpression,
    KeyConditionExpression, UpdateExpression, ProjectionExpression)."""
    return ExpressionError(f"Invalid {label}: {message}")


def operand_count(function: str, count: int) -> str:
    return (
        "Incorrect number of operands for operator or function; "
        f"operator or function: {function}, number of operands: {count}"
    )


def operand_type(function: str, kind: str) -> str:
    return (
        "Incorrect operand type for operator or function; "
        f"operator or function: {function}, operand type: {kind}"
    )


def not_this_way(function: str) -> str:
    return f"The function is not allowed to be used this way in an expression; function: {function}"
