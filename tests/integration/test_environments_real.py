"""The environments views on the real path: a real worker serves calls
from the pre-warmed pool, and the page and its websocket show the
function's environment warm with the calls it served, its removal after an
OOM kill live, and the pool's new container."""

import re
import time

import pytest
from websockets.sync.client import connect

from tests.integration.helpers import create, invoke_json, login, wait_for

pytestmark = pytest.mark.integration


def _ws(stack, path: str):
    session = login(stack)
    url = stack.url.replace("http://", "ws://") + path
    return connect(url, additional_headers={
        "Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": stack.url,
    })


def _until(ws, predicate, timeout: float = 60, seen: list | None = None) -> str:
    """Messages until one satisfies `predicate`; that one. Every message
    read is added to `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no such message arrived")
        message = ws.recv(timeout=left)
        if seen is not None:
            seen.append(message)
        if predicate(message):
            return message


def _tbody(message: str, scope: str) -> str | None:
    found = re.search(rf'<tbody id="envs-{scope}"[^>]*>(.*?)</tbody>', message, re.S)
    return found.group(1) if found else None


def _rows(body: str) -> list[dict]:
    return [m.groupdict() for m in re.finditer(
        r'data-env="(?P<env>\w+)" data-state="(?P<state>[\w-]+)" data-calls="(?P<calls>\d+)"', body)]


def _pre_warmed(message: str) -> bool:
    return any(r["state"] == "pre-warmed" for r in _rows(_tbody(message, "pool") or ""))


def _pool_ready(stack) -> bool:
    # python3.11's pool: the functions here are python3.11 (each runtime has one).
    return bool(stack.rows("Environment.objects.filter(state='generic', runtime='python3.11').values('id')"))


def test_it_shows_the_environment_warm_with_the_calls_it_served(stack):
    client = stack.lambda_client()
    create(client, "env-counter", "def handler(e, c):\n    return e\n")
    fn_id = stack.rows("Function.objects.filter(name='env-counter').values_list('id', flat=True)")[0]
    wait_for(lambda: _pool_ready(stack))
    scope = f"fn-{fn_id}"
    with _ws(stack, f"/ws/environments/functions/{fn_id}/") as ws:
        # The first message is the tables as they are: nothing of its own yet.
        first = ws.recv(timeout=30)
        assert _rows(_tbody(first, scope)) == []
        # A pool container is up (its row exists a moment before its container is).
        if not _pre_warmed(first):
            _until(ws, _pre_warmed)
        for i in range(3):
            assert invoke_json(client, "env-counter", {"n": i})[1] == {"n": i}
        seen: list[str] = []
        message = _until(ws, lambda m: (body := _tbody(m, scope)) is not None
                         and [(r["state"], r["calls"]) for r in _rows(body)] == [("warm", "3")], seen=seen)
        env_id = _rows(_tbody(message, scope))[0]["env"]
    # The first call specialised a pre-warmed environment, and the feed said so live.
    assert re.search(rf'<li [^>]*data-env="{env_id}" data-kind="specialised">.*?'
                     r"specialised from the pool for env-counter", "".join(seen))
    rows = stack.rows(f"Environment.objects.filter(id='{env_id}').values('state', 'function__name')")
    assert rows == [{"state": "ready", "function__name": "env-counter"}]

    page = login(stack).get(f"{stack.url}/environments/").text
    row = re.search(rf'<tr id="env-{env_id}".*?</tr>', page, re.S).group(0)
    assert 'data-state="warm" data-calls="3"' in row
    # The memory cell: the last call's max memory used, of the limit.
    assert re.search(r"<td>\d+ of 128 MB</td>", row)
    assert "specialised from the pool for env-counter" in page


def test_a_call_shows_its_environment_busy_then_warm(stack):
    client = stack.lambda_client()
    create(client, "env-sleeper", "import time\ndef handler(e, c):\n    time.sleep(4)\n    return 1\n")
    fn_id = stack.rows("Function.objects.filter(name='env-sleeper').values_list('id', flat=True)")[0]
    scope = f"fn-{fn_id}"

    def states(m):
        body = _tbody(m, scope)
        return None if body is None else [(r["state"], r["calls"]) for r in _rows(body)]

    with _ws(stack, f"/ws/environments/functions/{fn_id}/") as ws:
        ws.recv(timeout=30)
        client.invoke(FunctionName="env-sleeper", InvocationType="Event", Payload=b"{}")
        busy = _until(ws, lambda m: states(m) == [("busy", "0")])
        warm = _until(ws, lambda m: states(m) == [("warm", "1")])
    assert _rows(_tbody(busy, scope))[0]["env"] == _rows(_tbody(warm, scope))[0]["env"]


def test_an_oom_kill_shows_live(stack):
    client = stack.lambda_client()
    create(client, "env-hog", "def handler(e, c):\n    blocks = []\n    while True:\n"
           "        blocks.append(bytearray(16 * 1024 * 1024))\n", MemorySize=128)
    fn_id = stack.rows("Function.objects.filter(name='env-hog').values_list('id', flat=True)")[0]
    with _ws(stack, "/ws/environments/") as ws:
        ws.recv(timeout=30)
        resp, _ = invoke_json(client, "env-hog", {})
        assert resp["FunctionError"] == "Unhandled"
        message = _until(ws, lambda m: "OOM-killed at its 128 MB limit" in m)
        env = re.search(r'data-env="(\w+)" data-kind="oom"', message).group(1)
    assert stack.rows(f"Environment.objects.filter(id='{env}').values('id')") == []
    assert stack.rows(f"Environment.objects.filter(function_id='{fn_id}').values('id')") == []
    # The page opened afterwards still tells it.
    page = login(stack).get(f"{stack.url}/environments/").text
    assert re.search(rf'data-env="{env}" data-kind="oom"', page)


def test_a_new_pool_container_shows_live(stack):
    client = stack.lambda_client()
    create(client, "env-taker", "def handler(e, c):\n    return 1\n")
    wait_for(lambda: _pool_ready(stack))
    with _ws(stack, "/ws/environments/") as ws:
        ws.recv(timeout=30)
        invoke_json(client, "env-taker", {})
        # The upkeep thread tops the pool up again, and says so.
        message = _until(ws, lambda m: "pre-warmed python3.11 container started" in m)
        env = re.search(r'data-env="(\w+)" data-kind="started"', message).group(1)
    assert stack.rows(f"Environment.objects.filter(id='{env}').values('state')") == [{"state": "generic"}]


def test_it_refuses_a_stranger(stack):
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    url = stack.url.replace("http://", "ws://") + "/ws/environments/"
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        with connect(url, additional_headers={"Origin": stack.url}) as ws:
            ws.recv(timeout=10)
