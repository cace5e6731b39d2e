"""DynamoDB's operations, as boto3's `dynamodb` client and resource and the
AWS CLI call them through the AWS front door (awsapi.door; JSON 1.0,
`X-Amz-Target: DynamoDB_20120810.<Operation>`): each handler takes the
caller's context and the parsed parameters and returns the output as boto3
shows it. Tables belong to the caller's team; the rules live in
tables.schema (tables), tables.items (writes), tables.reads (reads),
tables.batches, tables.transactions and tables.ttl."""

from __future__ import annotations

from urllib.parse import urlsplit


from awsapi import services
from tables import batches, iam_resources, items, lookup, reads, schema, transactions, ttl, wire
from tables.expression_input import Expressions
from tables.models import Table

WRITE_RETURNS = ("NONE", "ALL_OLD")
UPDATE_RETURNS = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")


def _consumed(params: dict, table: Table, units: float) -> dict:
    """ConsumedCapacity when asked (ReturnConsumedCapacity TOTAL/INDEXES):
    Stratus meters nothing, so this is the units the call would take."""
    if params.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
        return {"ConsumedCapacity": {"TableName": table.name, "CapacityUnits": units}}
    return {}


def _no_legacy(params: dict, *members: str) -> None:
    for member in members:
        if params.get(member) is not None:
            raise wire.validation(
                f"The legacy parameter {member} is not supported by Stratus; "
                "use the expression parameters instead"
            )


# -- tables ----------------------------------------------------------------------


def create_table(context, params):
    table = schema.create_table(context.team, params)
    return {"TableDescription": schema.describe(table)}


def describe_table(context, params):
    return {"Table": schema.describe(lookup.table_for(context.team, params.get("TableName"), describe=True))}


def list_tables(context, params):
    limit = params.get("Limit", 100)
    if not 1 <= limit <= 100:
        raise wire.constraint(
            limit,
            "limit",
            "have value less than or equal to 100"
            if limit > 100
            else "have value greater than or equal to 1",
        )
    names = Table.objects.filter(team=context.team)
    start = params.get("ExclusiveStartTableName")
    if start:
        names = names.filter(name__gt=start)
    found = list(names.order_by("name").values_list("name", flat=True)[: limit + 1])
    out = {"TableNames": found[:limit]}
    if len(found) > limit:
        out["LastEvaluatedTableName"] = found[limit - 1]
    return out


def update_table(context, params):
    table = lookup.table_for(context.team, params.get("TableName"), describe=True)
    return {"TableDescription": schema.describe(schema.update_table(table, params))}


def delete_table(context, params):
    table = lookup.table_for(context.team, params.get("TableName"), describe=True)
    return {"TableDescription": schema.delete_table(table)}


# -- items -------------------------------------------------------------------------


def put_item(context, params):
    _no_legacy(params, "Expected", "ConditionalOperator")
    table = lookup.table_for(context.team, params.get("TableName"))
    returns = params.get("ReturnValues") or "NONE"
    if returns not in WRITE_RETURNS:
        raise wire.validation("ReturnValues can only be ALL_OLD or NONE")
    found = Expressions(params)
    condition = found.condition()
    found.finish()
    try:
        old = items.put_item(table, wire.typed_in(params.get("Item") or {}), condition)
    except items.ConditionFailed as exc:
        raise wire.condition_failed(exc.old, params) from None
    out = _consumed(params, table, 1.0)
    if returns == "ALL_OLD" and old is not None:
        out["Attributes"] = wire.typed_out(old)
    return out


def get_item(context, params):
    table = lookup.table_for(context.team, params.get("TableName"))
    found = Expressions(params)
    projection = found.projection()
    found.finish()
    if projection is not None and params.get("AttributesToGet"):
        raise wire.validation(
            "Can not use both expression and non-expression parameters in the same request: "
            "Non-expression parameters: {AttributesToGet} Expression parameters: "
            "{ProjectionExpression}"
        )
    item = reads.get_item(table, wire.typed_in(params.get("Key") or {}), projection)
    if item is not None and params.get("AttributesToGet"):
        item = {k: v for k, v in item.items() if k in params["AttributesToGet"]}
    out = _consumed(params, table, 1.0 if params.get("ConsistentRead") else 0.5)
    if item is not None:
        out["Item"] = wire.typed_out(item)
    return out


def _top_names(paths) -> set[str]:
    """The top-level attribute names of an Update's paths (a path is a
    sequence of names and list indexes, or its text)."""
    names = set()
    for path in paths or ():
        if isinstance(path, str):
            names.add(path.split(".", 1)[0].split("[", 1)[0])
        else:
            first = next(iter(path), None)
            if isinstance(first, str):
                names.add(first)
            elif first is not None and hasattr(first, "name"):
                names.add(first.name)
    return names


def update_item(context, params):
    _no_legacy(params, "AttributeUpdates", "Expected", "ConditionalOperator")
    table = lookup.table_for(context.team, params.get("TableName"))
    returns = params.get("ReturnValues") or "NONE"
    if returns not in UPDATE_RETURNS:
        raise wire.constraint(
            returns,
            "returnValue",
            "satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
        )
    found = Expressions(params)
    update = found.update()
    condition = found.condition()
    found.finish()
    touched = _top_names(getattr(update, "paths", ())) if update is not None else set()
    for name in filter(None, table.key_names()):
        if name in touched:
            raise wire.invalid(f"Cannot update attribute {name}. This attribute is part of the key")
    try:
        change = items.update_item(table, wire.typed_in(params.get("Key") or {}), update, condition)
    except items.ConditionFailed as exc:
        raise wire.condition_failed(exc.old, params) from None
    out = _consumed(params, table, 1.0)
    old, new = change.old, change.new
    if not touched and update is not None:
        touched = {k for k in set(old or {}) | set(new) if (old or {}).get(k) != new.get(k)}
    shown = None
    if returns == "ALL_OLD":
        shown = old
    elif returns == "ALL_NEW":
        shown = new
    elif returns == "UPDATED_OLD":
        shown = {k: v for k, v in (old or {}).items() if k in touched}
    elif returns == "UPDATED_NEW":
        shown = {k: v for k, v in new.items() if k in touched}
    if shown:
        out["Attributes"] = wire.typed_out(shown)
    return out


def delete_item(context, params):
    _no_legacy(params, "Expected", "ConditionalOperator")
    table = lookup.table_for(context.team, params.get("TableName"))
    returns = params.get("ReturnValues") or "NONE"
    if returns not in WRITE_RETURNS:
        raise wire.validation("ReturnValues can only be ALL_OLD or NONE")
    found = Expressions(params)
    condition = found.condition()
    found.finish()
    try:
        old = items.delete_item(table, wire.typed_in(params.get("Key") or {}), condition)
    except items.ConditionFailed as exc:
        raise wire.condition_failed(exc.old, params) from None
    out = _consumed(params, table, 1.0)
    if returns == "ALL_OLD" and old is not None:
        out["Attributes"] = wire.typed_out(old)
    return out


def _read_params(params: dict) -> dict:
    params = dict(params)
    if params.get("ExclusiveStartKey") is not None:
        params["ExclusiveStartKey"] = wire.typed_in(params["ExclusiveStartKey"])
    return params


def query(context, params):
    _no_legacy(params, "KeyConditions", "QueryFilter", "AttributesToGet", "ConditionalOperator")
    table = lookup.table_for(context.team, params.get("TableName"))
    params = _read_params(params)
    out = reads.query(table, params, Expressions(params))
    return {**out, **_consumed(params, table, max(0.5, out["ScannedCount"] / 2))}


def scan(context, params):
    _no_legacy(params, "ScanFilter", "AttributesToGet", "ConditionalOperator")
    table = lookup.table_for(context.team, params.get("TableName"))
    params = _read_params(params)
    out = reads.scan(table, params, Expressions(params))
    return {**out, **_consumed(params, table, max(0.5, out["ScannedCount"] / 2))}


def batch_get_item(context, params):
    return batches.batch_get_item(context.team, params)


def batch_write_item(context, params):
    return batches.batch_write_item(context.team, params)


def transact_write_items(context, params):
    return transactions.transact_write_items(context.team, params)


def transact_get_items(context, params):
    return transactions.transact_get_items(context.team, params)


# -- time to live, tags, endpoints --------------------------------------------------


def update_time_to_live(context, params):
    table = lookup.table_for(context.team, params.get("TableName"), describe=True)
    return {"TimeToLiveSpecification": ttl.update(table, params.get("TimeToLiveSpecification"))}


def describe_time_to_live(context, params):
    table = lookup.table_for(context.team, params.get("TableName"), describe=True)
    return {"TimeToLiveDescription": ttl.describe(table)}


def tag_resource(context, params):
    schema.add_tags(lookup.table_by_arn(context.team, params.get("ResourceArn")), params.get("Tags") or [])
    return {}


def untag_resource(context, params):
    table = lookup.table_by_arn(context.team, params.get("ResourceArn"))
    table.tags = {k: v for k, v in table.tags.items() if k not in set(params.get("TagKeys") or [])}
    table.save(update_fields=["tags"])
    return {}


def list_tags_of_resource(context, params):
    table = lookup.table_by_arn(context.team, params.get("ResourceArn"))
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(table.tags.items())]}


def describe_endpoints(context, params):
    """Endpoint discovery: this server, as the client addressed it."""
    return {
        "Endpoints": [
            {"Address": urlsplit(context.endpoint).netloc or context.endpoint, "CachePeriodInMinutes": 1440}
        ]
    }


def describe_limits(context, params):
    return {
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    }


HANDLERS = {
    "CreateTable": create_table,
    "DescribeTable": describe_table,
    "ListTables": list_tables,
    "UpdateTable": update_table,
    "DeleteTable": delete_table,
    "PutItem": put_item,
    "GetItem": get_item,
    "UpdateItem": update_item,
    "DeleteItem": delete_item,
    "Query": query,
    "Scan": scan,
    "BatchGetItem": batch_get_item,
    "BatchWriteItem": batch_write_item,
    "TransactWriteItems": transact_write_items,
    "TransactGetItems": transact_get_items,
    "UpdateTimeToLive": update_time_to_live,
    "DescribeTimeToLive": describe_time_to_live,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsOfResource": list_tags_of_resource,
    "DescribeEndpoints": describe_endpoints,
    "DescribeLimits": describe_limits,
}
READS = {
    "DescribeTable",
    "ListTables",
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactGetItems",
    "DescribeTimeToLive",
    "ListTagsOfResource",
    "DescribeEndpoints",
    "DescribeLimits",
}


def register() -> None:
    services.register("dynamodb", HANDLERS, reads=READS, resources=iam_resources.dynamodb)


__all__ = ["register", "HANDLERS", "READS"]
