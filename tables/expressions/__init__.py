"""DynamoDB's expression language, parsed with a lark grammar
(grammar.lark) and evaluated on items of typed values (tables.values).
Pure Python: no Django, no database.

- `condition(text, names, values)` -> Condition: ConditionExpression and
  FilterExpression (pass `label="FilterExpression"` for its messages).
- `key_condition(text, names, values)` -> KeyCondition: Query's
  KeyConditionExpression.
- `projection(text, names)` -> Projection: ProjectionExpression.
- `update(text, names, values)` -> Update: UpdateExpression.
- `unused(names, values, names_used, values_used)`: the message for
  ExpressionAttributeNames/Values that no expression of the request used.

`names` is ExpressionAttributeNames ("#n" -> name) and `values`
ExpressionAttributeValues (":v" -> AttributeValue); either may be None.
Every fault raises ExpressionError (a ValueError) whose message is
DynamoDB's ValidationException text."""

from .binding import unused
from .conditions import Condition, condition
from .errors import ExpressionError
from .keys import KeyCondition, key_condition
from .projections import Projection, projection
from .updates import Update, update

__all__ = [
    "Condition",
    "ExpressionError",
    "KeyCondition",
    "Projection",
    "Update",
    "condition",
    "key_condition",
    "projection",
    "unused",
    "update",
]
