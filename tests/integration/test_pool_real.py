"""The pre-warmed pool on the real path: a never-run function's first call
is served by a generic environment specialised for it, and one function's
code and /tmp never reach another's."""

import json

import pytest

from tests.integration.helpers import create, invoke_json, wait_for

pytestmark = pytest.mark.integration

WRITER = '''
import os

def handler(event, context):
    with open("/tmp/secret-of-writer", "w") as f:
        f.write("writer's secret")
    return {"tmp": sorted(os.listdir("/tmp")), "task": sorted(os.listdir("/var/task"))}
'''
SNOOPER = '''
import os

def handler(event, context):
    found = {}
    for path in ("/tmp/secret-of-writer", "/var/task/app.py"):
        try:
            with open(path) as f:
                found[path] = f.read()
        except OSError as e:
            found[path] = type(e).__name__
    return {"tmp": sorted(os.listdir("/tmp")), "task": sorted(os.listdir("/var/task")),
            "found": found, "env": os.environ.get("SECRET_OF_WRITER")}
'''


def generic_count(stack) -> int:
    # python3.11's: the functions here are python3.11 (each runtime has a pool).
    return len(stack.rows("Environment.objects.filter(state='generic', runtime='python3.11').values('id')"))


def test_a_first_call_is_served_from_the_pool_and_functions_stay_apart(stack):
    client = stack.lambda_client()
    # The worker keeps generic environments started before any function needs them.
    wait_for(lambda: generic_count(stack) >= 2, timeout=60)
    create(client, "writer", WRITER, Environment={"Variables": {"SECRET_OF_WRITER": "w-123"}})
    _, wrote = invoke_json(client, "writer", {})
    assert "secret-of-writer" in wrote["tmp"] and wrote["task"] == ["app.py"]

    create(client, "snooper", SNOOPER)
    _, seen = invoke_json(client, "snooper", {})
    # Its own code only; none of the writer's /tmp, code or variables.
    assert seen["task"] == ["app.py"]
    assert "secret-of-writer" not in seen["tmp"]
    assert seen["found"]["/tmp/secret-of-writer"] == "FileNotFoundError"
    assert seen["found"]["/var/task/app.py"] != WRITER  # its own app.py, not the writer's
    assert seen["env"] is None
    # Both first calls were cold starts of specialised environments, each
    # serving its own function only.
    both = "Invocation.objects.filter(function__name__in=['writer', 'snooper'])"
    wait_for(lambda: len(stack.rows(both + ".values('pk')")) == 2)
    rows = stack.rows(both + ".values_list('function__name', 'cold_start')")
    assert sorted(map(tuple, rows)) == [("snooper", True), ("writer", True)]
    envs = stack.rows(
        "Environment.objects.filter(function__name__in=['writer', 'snooper'])"
        ".values_list('function__name', 'state')"
    )
    assert sorted(map(tuple, envs)) == [("snooper", "ready"), ("writer", "ready")]
    # Each environment was started before its function existed: taken from the pool.
    started_before = stack.rows(
        "Environment.objects.filter(function__name__in=['writer', 'snooper'])"
        ".values_list('function__name', 'created_at', 'function__created_at')"
    )
    assert all(env_at < fn_at for _, env_at, fn_at in started_before), started_before
    # The pool refills behind them.
    wait_for(lambda: generic_count(stack) >= 2, timeout=60)
    _, again = invoke_json(client, "snooper", {})
    assert json.dumps(again["found"]) == json.dumps(seen["found"])
