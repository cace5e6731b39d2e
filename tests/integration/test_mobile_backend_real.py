"""The mobile-back-end example (examples/mobile/) on the real stack
(uvicorn, Redis, Celery workers with the stream pollers, Docker): an app's
HTTP calls reach api.py through HTTP routes, api.py writes the `scores`
table with boto3 inside its container, the table's stream is mapped
(boto3's lambda create_event_source_mapping) to aggregate.py, which keeps
the `leaderboard` table with UpdateItem; the test reads it back with boto3.
Both functions are held to the example's execution policies.

Outcome asserts only: every wait polls until the outcome holds."""

import json

import pytest
import requests

from tests.integration.helpers import aws_client, login, settle
from tests.integration.test_boto3_inside_real import deploy, example, invoke, set_policy
from tests.integration.test_triggers_real import route

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clients(stack):
    key, secret = stack.api_key()
    return {
        "lambda": aws_client(stack, "lambda", key, secret, read_timeout=120),
        "dynamodb": aws_client(stack, "dynamodb", key, secret),
    }


@pytest.fixture(scope="module")
def backend(stack, clients):
    """The example deployed as its README says; the stream mapping's UUID."""
    ddb, lam = clients["dynamodb"], clients["lambda"]
    created = ddb.create_table(
        TableName="scores", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "player", "AttributeType": "S"},
                              {"AttributeName": "game", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "player", "KeyType": "HASH"},
                   {"AttributeName": "game", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.create_table(
        TableName="leaderboard", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "player", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "player", "KeyType": "HASH"}],
    )
    for name in ("scores", "leaderboard"):
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    console = login(stack)
    deploy(clients, "mobile-api", {"api.py": example("mobile/api.py")}, "api.handler")
    deploy(clients, "mobile-aggregate", {"aggregate.py": example("mobile/aggregate.py")}, "aggregate.handler")
    set_policy(stack, console, "mobile-api", example("mobile/api.policy.json"))
    set_policy(stack, console, "mobile-aggregate", example("mobile/aggregate.policy.json"))
    mapping = lam.create_event_source_mapping(
        FunctionName="mobile-aggregate", EventSourceArn=created["TableDescription"]["LatestStreamArn"],
        StartingPosition="TRIM_HORIZON", BatchSize=10,
    )
    route(stack, console, "mobile-api", "POST", "/scores")
    route(stack, console, "mobile-api", "GET", "/scores/{player}")
    route(stack, console, "mobile-api", "DELETE", "/scores/{player}/{game}")
    return mapping["UUID"]


def http(stack, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, f"{stack.url}/http{path}", timeout=120,
                            data=None if body is None else json.dumps(body),
                            headers={"content-type": "application/json"})


def leaderboard(ddb) -> dict:
    """{player: (total, count, best or None)} read with boto3's dynamodb client."""
    items = ddb.scan(TableName="leaderboard", ConsistentRead=True)["Items"]
    return {i["player"]["S"]: (int(i["total"]["N"]), int(i["count"]["N"]),
                               int(i["best"]["N"]) if "best" in i else None) for i in items}


def test_scores_posted_over_http_are_aggregated_by_the_stream(stack, clients, backend):
    ddb, lam = clients["dynamodb"], clients["lambda"]
    posted = [("ann", "g1", 100), ("ann", "g2", 250), ("bob", "g1", 70), ("ann", "g3", 40),
              ("bob", "g2", 90), ("cid", "g1", 10)]
    for player, game, score in posted:
        resp = http(stack, "POST", "/scores", {"player": player, "game": game, "score": score})
        assert resp.status_code == 201, resp.text
        assert resp.json() == {"player": player, "game": game, "score": score}
    # Bad input is refused by the function and writes nothing.
    refused = http(stack, "POST", "/scores", {"player": "dan", "game": "g1", "score": -3})
    assert (refused.status_code, refused.json()) == (400, {"message": "score must be a whole number >= 0."})
    # ann's best goes down (250 -> 120): the aggregate reads her best again.
    assert http(stack, "POST", "/scores", {"player": "ann", "game": "g2", "score": 120}).status_code == 201
    # bob's best goes away; cid has no score left.
    deleted = http(stack, "DELETE", "/scores/bob/g2")
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": {"player": "bob", "game": "g2", "score": 90}}
    assert http(stack, "DELETE", "/scores/cid/g1").status_code == 200
    assert http(stack, "DELETE", "/scores/cid/g1").status_code == 404

    expected = {"ann": (260, 3, 120), "bob": (70, 1, 70), "cid": (0, 0, None)}
    got = settle(lambda: leaderboard(ddb), lambda board: board == expected, timeout=180)
    assert got == expected
    assert "dan" not in got

    # The app's view: its scores by game, with the aggregate.
    ann = http(stack, "GET", "/scores/ann")
    assert ann.status_code == 200
    assert ann.json() == {"player": "ann", "total": 260, "count": 3, "best": 120, "scores": [
        {"game": "g1", "score": 100}, {"game": "g2", "score": 120}, {"game": "g3", "score": 40},
    ]}

    # Every change came through the mapping, as DynamoDB stream records.
    rows = stack.rows(f"Invocation.objects.filter(trigger='event-source-mapping:{backend}')"
                      ".values('status', 'source', 'event')")
    assert rows and all(r["source"] == "dynamodb" for r in rows)
    records = [rec for r in rows if r["status"] == "succeeded" for rec in json.loads(r["event"])["Records"]]
    assert sorted(r["eventName"] for r in records) == ["INSERT"] * 6 + ["MODIFY"] + ["REMOVE"] * 2
    assert lam.get_event_source_mapping(UUID=backend)["LastProcessingResult"] == "OK"

    # A record delivered again (at least once) changes nothing.
    replay = invoke(clients, "mobile-aggregate", {"Records": records})
    assert replay == {"applied": 0, "records": len(records)}
    assert leaderboard(ddb) == expected
