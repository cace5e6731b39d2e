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
from tables import (
    batches,
    expressions,
    iam_resources,
    items,
    legacy,
    lookup,
    reads,
    schema,
    transactions,
    ttl,
    wire,
)
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


# -- tables ----------------------------------------------------------------------


def create_table(context, params):
    table = schema.create_table(context.team, params)
    return {"TableDescription": schema.describe(table)}


def describe_table(context, params):
    return {"Table": schema.describe(lookup.table_for(context.team, params.get("TableName"), describe=True))}


def list_tables(context, params):
    limit = params.get("Limit", 100)
    wire.check_range(limit, "limit", 1, 100)
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


def _write(context, params, write, member: str):
    """PutItem and DeleteItem: `write(table, Item or Key, condition)`
    (items.put_item / items.delete_item) returns the old item, shown
    under ReturnValues ALL_OLD."""
    params = legacy.rewritten(params)
    table = lookup.table_for(context.team, params.get("TableName"))
    returns = params.get("ReturnValues") or "NONE"
    if returns not in WRITE_RETURNS:
        raise wire.validation("ReturnValues can only be ALL_OLD or NONE")
    found = Expressions(params)
    condition = found.condition()
    found.finish()
    try:
        old = write(table, wire.typed_in(params.get(member) or {}), condition)
    except items.ConditionFailed as exc:
        raise wire.condition_failed(exc.old, params) from None
    out = _consumed(params, table, 1.0)
    if returns == "ALL_OLD" and old is not None:
        out["Attributes"] = wire.typed_out(old)
    return out


def put_item(context, params):
    return _write(context, params, items.put_item, "Item")


def get_item(context, params):
    params = legacy.rewritten(params)
    table = lookup.table_for(context.team, params.get("TableName"))
    found = Expressions(params)
    projection = found.projection()
    found.finish()
    item = reads.get_item(table, wire.typed_in(params.get("Key") or {}), projection)
    out = _consumed(params, table, 1.0 if params.get("ConsistentRead") else 0.5)
    if item is not None:
        out["Item"] = wire.typed_out(item)
    return out


def update_item(context, params):
    params = legacy.rewritten(params)
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
    try:
        change = items.update_item(table, wire.typed_in(params.get("Key") or {}), update, condition)
    except items.ConditionFailed as exc:
        raise wire.condition_failed(exc.old, params) from None
    out = _consumed(params, table, 1.0)
    old, new = change.old, change.new
    shown = None
    if returns == "ALL_OLD":
        shown = old
    elif returns == "ALL_NEW":
        shown = new
    elif returns in ("UPDATED_OLD", "UPDATED_NEW") and update is not None:
        # Only the paths the update wrote, nested ones as nested as they are
        # (SET a.b -> {"a": {"M": {"b": ...}}}), as DynamoDB answers.
        written = expressions.Projection(list(update.targets))
        shown = written.apply((old or {}) if returns == "UPDATED_OLD" else new)
    if shown:
        out["Attributes"] = wire.typed_out(shown)
    return out


def delete_item(context, params):
    return _write(context, params, items.delete_item, "Key")


def _read_params(params: dict) -> dict:
    params = dict(params)
    if params.get("ExclusiveStartKey") is not None:
        params["ExclusiveStartKey"] = wire.typed_in(params["ExclusiveStartKey"])
    return params


def query(context, params):
    params = legacy.rewritten(params)
    table = lookup.table_for(context.team, params.get("TableName"))
    params = _read_params(params)
    out = reads.query(table, params, Expressions(params))
    return {**out, **_consumed(params, table, max(0.5, out["ScannedCount"] / 2))}


def scan(context, params):
    params = legacy.rewritten(params)
    table = lookup.table_for(context.team, params.get("TableName"))
    params = _read_params(params)
    out = reads.scan(table, params, Expressions(params))
    return {**out, **_consumed(params, table, max(0.5, out["ScannedCount"] / 2))}


def _consumed_per_table(params: dict, names, units_each: float) -> dict:
    """ConsumedCapacity of a batch or transaction: one entry per table."""
    if params.get("ReturnConsumedCapacity") not in ("TOTAL", "INDEXES"):
        return {}
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return {
        "ConsumedCapacity": [{"TableName": n, "CapacityUnits": c * units_each} for n, c in counts.items()]
    }


def _transact_tables(params: dict) -> list[str]:
    return [
        str(action.get("TableName"))
        for entry in params.get("TransactItems") or []
        for action in entry.values()
        if isinstance(action, dict)
    ]


def batch_get_item(context, params):
    out = batches.batch_get_item(context.team, params)
    names = [n for n, r in (params.get("RequestItems") or {}).items() for _ in r.get("Keys") or []]
    return {**out, **_consumed_per_table(params, names, 0.5)}


def batch_write_item(context, params):
    out = batches.batch_write_item(context.team, params)
    names = [n for n, r in (params.get("RequestItems") or {}).items() for _ in r or []]
    return {**out, **_consumed_per_table(params, names, 1.0)}


def transact_write_items(context, params):
    out = transactions.transact_write_items(context.team, params)
    return {**out, **_consumed_per_table(params, _transact_tables(params), 2.0)}


def transact_get_items(context, params):
    out = transactions.transact_get_items(context.team, params)
    return {**out, **_consumed_per_table(params, _transact_tables(params), 2.0)}


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


# DynamoDB's request limit (BatchWriteItem: 25 items of up to 400 KB, in
# at most 16 MB), above the door's own 2 MB.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def register() -> None:
    services.register(
        "dynamodb", HANDLERS, reads=READS, resources=iam_resources.dynamodb, max_body=MAX_REQUEST_BYTES
    )


__all__ = ["register", "HANDLERS", "READS"]
