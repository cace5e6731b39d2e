"""Mobile back end: the HTTP API a game app calls, behind HTTP routes
(payload format 2.0). Scores live in the DynamoDB table named by
SCORES_TABLE ("scores"; key: player (S, HASH), game (S, RANGE)); the
per-player aggregate that aggregate.py keeps is read from LEADERBOARD_TABLE
("leaderboard"; key: player).

- POST /scores, body {"player": "ann", "game": "g1", "score": 120}
  (score: a whole number >= 0) -> 201 {"player", "game", "score"}; posting
  the same player and game again replaces the score.
- GET /scores/{player} -> 200 {"player", "scores": [{"game", "score"}, ...]
  by game, "total", "count", "best"} (the aggregate: 0, 0 and null before
  the stream has reached it).
- DELETE /scores/{player}/{game} -> 200 {"deleted": {...}}, or 404.
Bad input -> 400 {"message": what was wrong}.

Execution policy: api.policy.json (PutItem, Query, DeleteItem on the
scores table; GetItem on the leaderboard)."""

import json
import os
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Key

dynamodb = boto3.resource("dynamodb")  # AWS_ENDPOINT_URL and the function's own credentials
scores = dynamodb.Table(os.environ.get("SCORES_TABLE", "scores"))
leaderboard = dynamodb.Table(os.environ.get("LEADERBOARD_TABLE", "leaderboard"))


def answer(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body, default=plain)}


def plain(value):
    # The resource layer reads every N as Decimal; scores are whole numbers.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def post_score(event):
    try:
        body = json.loads(event.get("body") or "")
    except ValueError:
        return answer(400, {"message": "The body is not JSON."})
    if not isinstance(body, dict):
        return answer(400, {"message": "The body must be a JSON object."})
    player, game, score = body.get("player"), body.get("game"), body.get("score")
    for name, value in (("player", player), ("game", game)):
        if not isinstance(value, str) or not value:
            return answer(400, {"message": f"{name} must be a non-empty string."})
    if isinstance(score, bool) or not isinstance(score, int) or score < 0:
        return answer(400, {"message": "score must be a whole number >= 0."})
    scores.put_item(Item={"player": player, "game": game, "score": score})
    return answer(201, {"player": player, "game": game, "score": score})


def get_scores(player):
    items, start = [], {}
    while True:  # every page of the player's scores
        page = scores.query(KeyConditionExpression=Key("player").eq(player), **start)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    totals = leaderboard.get_item(Key={"player": player}).get("Item", {})
    return answer(200, {
        "player": player,
        "scores": [{"game": i["game"], "score": i["score"]} for i in items],
        "total": totals.get("total", 0), "count": totals.get("count", 0), "best": totals.get("best"),
    })


def delete_score(player, game):
    old = scores.delete_item(Key={"player": player, "game": game}, ReturnValues="ALL_OLD").get("Attributes")
    if old is None:
        return answer(404, {"message": f"No score of {player} in {game}."})
    return answer(200, {"deleted": old})


def handler(event, context):
    method = event["requestContext"]["http"]["method"]
    params = event.get("pathParameters") or {}
    if method == "POST" and not params:
        return post_score(event)
    if method == "GET" and set(params) == {"player"}:
        return get_scores(params["player"])
    if method == "DELETE" and set(params) == {"player", "game"}:
        return delete_score(params["player"], params["game"])
    return answer(404, {"message": f"No such operation: {event.get('routeKey')}."})
