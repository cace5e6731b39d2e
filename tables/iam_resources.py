"""What a DynamoDB call does, as IAM names it: (action, resource ARN) pairs
for execution policies (awsapi.principals.authorize). Source: the Service
Authorization Reference for Amazon DynamoDB: each operation is the action
of its name (`dynamodb:PutItem`), on the table's ARN
(`arn:aws:dynamodb:<region>:<account>:table/<name>`, a Query or Scan of an
index on `.../table/<name>/index/<index>`); a batch or transaction names
one action per table it touches (BatchWriteItem is dynamodb:BatchWriteItem
on each table, TransactWriteItems' actions are dynamodb:PutItem,
UpdateItem, DeleteItem and ConditionCheckItem on their tables); ListTables,
DescribeEndpoints and DescribeLimits act on "*". DynamoDB Streams'
operations (tables.streams_api) are `dynamodb:<Operation>` on the stream's
ARN (GetRecords: the stream its iterator reads), ListStreams on "*"."""

from __future__ import annotations

from awsapi import arns
from awsapi.protocols import ServiceError
from tables import stream_iterators

_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def table_arn(account: str, name: str) -> str:
    if isinstance(name, str) and name.startswith("arn:"):
        return name
    return arns.table_arn(account, name)


def dynamodb(context, operation: str, params: dict) -> list[tuple[str, str]]:
    account = context.team.account_id
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [
            (f"dynamodb:{operation}", table_arn(account, name)) for name in (params.get("RequestItems") or {})
        ] or [(f"dynamodb:{operation}", "*")]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        calls = []
        for entry in params.get("TransactItems") or []:
            for kind, action in _TRANSACT.items():
                if isinstance(entry.get(kind), dict):
                    calls.append((f"dynamodb:{action}", table_arn(account, entry[kind].get("TableName"))))
        return calls or [(f"dynamodb:{operation}", "*")]
    action = f"dynamodb:{operation}"
    if params.get("ResourceArn"):
        return [(action, str(params["ResourceArn"]))]
    name = params.get("TableName")
    if not name:
        return [(action, "*")]
    arn = table_arn(account, name)
    if operation in ("Query", "Scan") and params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(action, arn)]


def dynamodbstreams(context, operation: str, params: dict) -> list[tuple[str, str]]:
    arn = params.get("StreamArn")
    if operation == "GetRecords":
        try:
            arn = stream_iterators.read(params.get("ShardIterator") or "").arn
        except ServiceError:  # a bad iterator is the handler's to answer
            arn = None
    return [(f"dynamodb:{operation}", arn or "*")]
