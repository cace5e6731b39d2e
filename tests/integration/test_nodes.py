"""Two nodes on one machine (issue 7): two real Docker engines, one worker
each (node-a on the machine's engine, node-b on a second dockerd from
tests/engines.py). Calls are served on both, and each node's worker keeps
to its own engine's containers.

Run alone: `.venv/bin/pytest tests/integration/test_nodes.py` (or `-m nodes`)."""

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from runtimes.build import runtime_image
from tests.integration.helpers import create, settle
from tests.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.nodes]

NODES = ("node-a", "node-b")
FINAL = {"succeeded", "failed", "timed_out", "out_of_memory", "throttled", "expired", "cancelled"}
WORKER = {"node-a": "worker", "node-b": "worker-node-b"}

NAPPER = '''
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"fn": context.function_name, "i": event.get("i")}
'''


@pytest.fixture(scope="module")
def stack(second_engine):
    # One team keeps every lane busy on purpose: Lambda's account limit, not
    # the default share that keeps lanes for other teams.
    s = Stack(STRATUS_RETRY_BACKOFF_SCALE="0.01", STRATUS_TEAM_CONCURRENCY="1000")
    try:
        # The second engine loads its image meanwhile (a session fixture that
        # starts in the background).
        s.start()
        s.start_worker(node="node-b", docker_host=second_engine.ready().host)
        s.wait_for_worker("worker-node-b")
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client(max_pool_connections=32, read_timeout=60)


@pytest.mark.timeout(180)
def test_two_engines_on_this_machine_each_run_their_own_containers(stack, second_engine):
    # The ground the other test stands on: each engine runs containers with
    # network none, and lists only its own.
    image = runtime_image("python3.11")
    label = f"stratus-test-engines={stack.instance}"
    started = {}
    for node in NODES:
        engine = stack.docker(node)
        out = engine.containers.run(
            image, ["-c", f"print('{node}')"], entrypoint="python3", network_mode="none", remove=True,
        )
        assert out.decode().strip() == node
        started[node] = engine.containers.run(
            image, ["30"], entrypoint="sleep", network_mode="none", detach=True,
            labels={"stratus-test-engines": stack.instance},
        )
    try:
        for node in NODES:
            listed = stack.docker(node).containers.list(filters={"label": label})
            assert [c.id for c in listed] == [started[node].id]
    finally:
        for container in started.values():
            container.remove(force=True)


@pytest.mark.timeout(180)
def test_calls_are_served_on_both_nodes_and_no_worker_touches_the_others_containers(stack, client):
    names = ["node-fn-1", "node-fn-2", "node-fn-3"]
    for name in names:
        create(client, name, NAPPER, Timeout=10)

    def call_sync(i: int) -> dict:
        resp = client.invoke(
            FunctionName=names[i % 3], Payload=json.dumps({"i": i, "sleep": 0.3}).encode()
        )
        return {"error": resp.get("FunctionError"), "body": json.loads(resp["Payload"].read())}

    request_ids: list[str] = []
    lock = threading.Lock()

    def call_async(i: int) -> None:
        resp = client.invoke(
            FunctionName=names[i % 3], InvocationType="Event",
            Payload=json.dumps({"i": i, "sleep": 0.3}).encode(),
        )
        assert resp["StatusCode"] == 202
        with lock:
            request_ids.append(resp["ResponseMetadata"]["RequestId"])

    # Both nodes' workers have four processes: keep more than four busy.
    with ThreadPoolExecutor(12) as pool:
        asyncs = [pool.submit(call_async, i) for i in range(36)]
        syncs = [pool.submit(call_sync, i) for i in range(36)]
        sync_results = [f.result(timeout=120) for f in syncs]
        for f in asyncs:
            f.result(timeout=120)
    assert [r["error"] for r in sync_results] == [None] * len(sync_results), sync_results

    quoted = "[" + ", ".join(f"'{i}'" for i in request_ids) + "]"
    rows = settle(
        lambda: stack.rows(f"Invocation.objects.filter(request_id__in={quoted}).values('status')"),
        lambda rows: len(rows) == len(request_ids) and all(r["status"] in FINAL for r in rows),
        timeout=60,
    )
    assert sorted(r["status"] for r in rows) == ["succeeded"] * len(request_ids)
    # Every call's record (sync ones are written after they answer) names
    # the node that ran it, and both nodes ran some.
    records = settle(
        lambda: stack.rows(f"Invocation.objects.filter(function__name__in={names}).values('node', 'status')"),
        lambda rows: len(rows) == 72 and all(r["status"] in FINAL for r in rows),
        timeout=30,
    )
    assert len(records) == 72
    ran_on = {r["node"] for r in records}
    assert ran_on == set(NODES), f"calls ran on {ran_on}"

    containers = {node: stack.containers(node) for node in NODES}
    for node, found in containers.items():
        assert found, f"no container of this stack on {node}'s engine"
        labels = {c.labels.get("stratus.node") for c in found}
        assert labels == {node}, f"{node}'s engine holds containers labelled {labels}"
    envs = stack.rows(
        f"Environment.objects.filter(function__name__in={names}).values('node', 'container_id')"
    )
    served_on = {e["node"] for e in envs}
    assert served_on == set(NODES), f"environments only on {served_on}"

    ids_on = {node: {c.id for c in found} for node, found in containers.items()}
    for env in envs:
        if env["container_id"]:
            assert env["container_id"] in ids_on[env["node"]], (
                f"{env} is not a container of {env['node']}'s engine"
            )

    for node in NODES:
        other = next(n for n in NODES if n != node)
        log = stack.log(WORKER[node])
        mentioned = {
            cid for cid in ids_on[other]
            if cid in log or re.search(rf"\b{cid[:12]}\b", log)
        }
        assert not mentioned, f"{node}'s worker log mentions {other}'s containers {mentioned}"
