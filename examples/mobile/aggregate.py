"""Mobile back end: keeps the leaderboard. An event source mapping feeds
this function the scores table's stream (NEW_AND_OLD_IMAGES); for each
record it updates the player's item in LEADERBOARD_TABLE ("leaderboard";
key: player): total (sum of the player's scores), count (how many games),
best (the highest score; absent when the player has none).

- INSERT: total + new, count + 1, best = max(best, new);
- MODIFY: total + (new - old), best = max(best, new), unless the old score
  was the best and went down: then best is read again from the scores table;
- REMOVE: total - old, count - 1, and the same re-read when the best went.

Totals change with UpdateItem's ADD, best and the applied position with
SET. Delivery is at least once (a batch that failed comes again), so each
update is conditional on the record's SequenceNumber being past the last
one applied to that player (`seq`): a record seen twice changes nothing the
second time. Sequence numbers grow along a shard, and a player's changes
all come from one shard in order.

Execution policy: aggregate.policy.json (the stream's read actions, which
Lambda's mapping needs on AWS; Query on scores; GetItem and UpdateItem on
the leaderboard)."""

import os

import boto3
from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer

dynamodb = boto3.resource("dynamodb")  # AWS_ENDPOINT_URL and the function's own credentials
scores = dynamodb.Table(os.environ.get("SCORES_TABLE", "scores"))
leaderboard = dynamodb.Table(os.environ.get("LEADERBOARD_TABLE", "leaderboard"))
typed = TypeDeserializer()


def image(record, name):
    """The record's NewImage or OldImage as Python values (N -> Decimal), or None."""
    found = record["dynamodb"].get(name)
    return None if found is None else {k: typed.deserialize(v) for k, v in found.items()}


def best_in_table(player):
    """The player's highest score in the scores table now, or None."""
    best, start = None, {}
    while True:
        page = scores.query(KeyConditionExpression=Key("player").eq(player), ConsistentRead=True,
                            ProjectionExpression="score", **start)
        for item in page["Items"]:
            best = item["score"] if best is None else max(best, item["score"])
        if "LastEvaluatedKey" not in page:
            return best
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def apply(record):
    """Folds one stream record into the leaderboard; False when it was applied before."""
    player = typed.deserialize(record["dynamodb"]["Keys"]["player"])
    seq = int(record["dynamodb"]["SequenceNumber"])
    old, new = image(record, "OldImage"), image(record, "NewImage")
    old_score = None if old is None else old["score"]
    new_score = None if new is None else new["score"]
    current = leaderboard.get_item(Key={"player": player}, ConsistentRead=True).get("Item", {})
    if current.get("seq", -1) >= seq:
        return False
    best = current.get("best")
    if old_score is not None and old_score == best and (new_score is None or new_score < old_score):
        best = best_in_table(player)  # the best score went down or away
    elif new_score is not None:
        best = new_score if best is None else max(best, new_score)
    names = {"#total": "total", "#count": "count", "#seq": "seq", "#best": "best"}
    values = {":total": (new_score or 0) - (old_score or 0),
              ":count": (new is not None) - (old is not None), ":seq": seq}
    if best is None:
        expression = "SET #seq = :seq REMOVE #best"
    else:
        expression = "SET #seq = :seq, #best = :best"
        values[":best"] = best
    try:
        leaderboard.update_item(
            Key={"player": player}, UpdateExpression=expression + " ADD #total :total, #count :count",
            ConditionExpression="attribute_not_exists(#seq) OR #seq < :seq",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )
    except leaderboard.meta.client.exceptions.ConditionalCheckFailedException:
        return False  # applied meanwhile (a retried batch running late)
    return True


def handler(event, context):
    applied = [apply(record) for record in event["Records"]]
    print(f"applied {sum(applied)} of {len(applied)} changes")
    return {"applied": sum(applied), "records": len(applied)}
