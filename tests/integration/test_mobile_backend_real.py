"""The mobile-back-end example (examples/mobile/) on the real stack
(uvicorn, Redis, Celery workers with the stream pollers, Docker): an app's
HTTP calls reach api.py through HTTP routes, api.py writes the `scores`
table with boto3 inside its container, the table's stream is mapped
(boto3's lambda create_event_source_mapping) to aggregate.py, which keeps
the `leaderboard` table with UpdateItem; the test reads it back with boto3.
Both functions are held to the example's execution policies. Everything is
deployed by examples/mobile/deploy.py, run twice as a user would (boto3 for
tables, functions and the mapping; the console's forms for policies and
routes).

Outcome asserts only: every wait polls until the outcome holds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integration.helpers import aws_clients, settle
from tests.integration.test_boto3_inside_real import example, invoke

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clients(stack):
    return aws_clients(stack, "lambda", "dynamodb", read_timeout=120)


DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "mobile" / "deploy.py"
ROUTE_URLS = ["POST {url}/http/scores", "GET {url}/http/scores/{{player}}",
              "DELETE {url}/http/scores/{{player}}/{{game}}"]


def run_deploy(stack, key: str, secret: str, password: str = "admin-pass-123") -> subprocess.CompletedProcess:
    """examples/mobile/deploy.py as a user runs it (key from the environment)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    return subprocess.run(
        [sys.executable, str(DEPLOY), "--endpoint", stack.url, "--username", "admin",
         "--password", password],
        env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def backend(stack, clients):
    """The example deployed by its deploy.py, twice (the second run must
    change nothing); the stream mapping's UUID."""
    key, secret = stack.api_key()
    # A wrong password is refused before anything is made.
    refused = run_deploy(stack, key, secret, password="not-the-password")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "the console refused the login of 'admin'" in refused.stderr, refused.stderr
    assert not {"scores", "leaderboard"} & set(clients["dynamodb"].list_tables()["TableNames"])
    pages = clients["lambda"].get_paginator("list_functions").paginate()
    assert not [f for page in pages for f in page["Functions"] if f["FunctionName"].startswith("mobile-")]

    first = run_deploy(stack, key, secret)
    assert first.returncode == 0, first.stdout + first.stderr
    printed = first.stdout.splitlines()[-3:]
    assert printed == ["  " + u.format(url=stack.url) for u in ROUTE_URLS], first.stdout
    again = run_deploy(stack, key, secret)
    assert again.returncode == 0, again.stdout + again.stderr
    for line in ("table scores: exists", "table leaderboard: exists", "route POST /scores: exists",
                 "route GET /scores/{player}: exists", "route DELETE /scores/{player}/{game}: exists"):
        assert line in again.stdout.splitlines(), again.stdout
    assert "created" not in again.stdout and "added" not in again.stdout, again.stdout

    # Once each: no second mapping, route or function.
    lam = clients["lambda"]
    stream = clients["dynamodb"].describe_table(TableName="scores")["Table"]["LatestStreamArn"]
    mappings = lam.list_event_source_mappings(FunctionName="mobile-aggregate")["EventSourceMappings"]
    assert [(m["EventSourceArn"], m["StartingPosition"], m["BatchSize"]) for m in mappings] == [
        (stream, "TRIM_HORIZON", 10)]
    routes = stack.rows("__import__('triggers.models').models.HttpRoute.objects"
                        ".filter(function__name='mobile-api').values_list('method', 'path')")
    assert sorted(map(tuple, routes)) == [
        ("DELETE", "/scores/{player}/{game}"), ("GET", "/scores/{player}"), ("POST", "/scores")]
    functions = stack.rows("Function.objects.filter(name__startswith='mobile-')"
                           ".values_list('name', 'execution_policy')")
    assert dict(functions) == {
        "mobile-api": json.loads(example("mobile/api.policy.json")),
        "mobile-aggregate": json.loads(example("mobile/aggregate.policy.json")),
    }
    return mappings[0]["UUID"]


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
