"""Failed runs on the real path (boto3 -> uvicorn -> lane -> worker ->
Docker): an out-of-memory run keeps the line it printed just before the
kill, in its stored logs and on the live stream; a timed-out run records
the memory it used; both say cold or warm on their page."""

import re
import uuid

import pytest
from websockets.sync.client import connect

from tests.integration.helpers import create, invoke_json, login, wait_for

pytestmark = pytest.mark.integration

HOG = '''
def handler(event, context):
    print("about to allocate", event["marker"])
    data = b"x" * (400 * 1024 * 1024)  # bytes * n writes every page: over 128 MB
    return len(data)
'''

SLEEPER = '''
import time

def handler(event, context):
    data = b"x" * (48 * 1024 * 1024)
    print("holding", len(data) // (1024 * 1024), "MB")
    time.sleep(30)
    return len(data)
'''


def _row(stack, name: str, marker: str | None = None) -> dict:
    query = f"Invocation.objects.filter(function__name='{name}')"
    if marker:
        query += f".filter(event__contains='{marker}')"
    fields = "'request_id', 'status', 'logs', 'max_memory_used_mb', 'cold_start'"
    rows = wait_for(lambda: stack.rows(f"{query}.values({fields})"))
    return rows[0]


def test_an_out_of_memory_run_keeps_its_last_line_stored_and_live(stack):
    client = stack.lambda_client()
    create(client, "polish-hog", HOG, MemorySize=128)
    fn_id = stack.rows("Function.objects.filter(name='polish-hog').values_list('id', flat=True)")[0]
    session = login(stack)
    ws_url = stack.url.replace("http://", "ws://") + f"/ws/functions/{fn_id}/"
    cookie = f"sessionid={session.cookies['sessionid']}"
    # Before the fix the line was lost in most runs (it sat in the killed
    # process's pipe): several runs, each must keep it.
    for _ in range(3):
        marker = uuid.uuid4().hex
        with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": stack.url}) as ws:
            resp, body = invoke_json(client, "polish-hog", {"marker": marker})
            assert resp["FunctionError"] == "Unhandled"
            assert body["errorType"] == "Runtime.OutOfMemory"
            live_line = False
            while not live_line:
                message = ws.recv(timeout=60)
                # A log line's fragment (appended to the log block), not the
                # final fragment that replaces the block with stored logs.
                live_line = "beforeend:#logs-" in message and f"about to allocate {marker}" in message
        row = _row(stack, "polish-hog", marker)
        assert row["status"] == "out_of_memory"
        assert f"about to allocate {marker}\n" in row["logs"]
        assert "Error Type: Runtime.OutOfMemory" in row["logs"]
        assert row["max_memory_used_mb"] == 128


def test_a_timed_out_run_records_the_memory_it_used(stack):
    client = stack.lambda_client()
    create(client, "polish-sleeper", SLEEPER, MemorySize=128, Timeout=2)
    resp, body = invoke_json(client, "polish-sleeper", {})
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in body["errorMessage"]
    row = _row(stack, "polish-sleeper")
    assert row["status"] == "timed_out"
    assert "holding 48 MB" in row["logs"]
    # The environment's peak, read before it was removed: the 48 MB it
    # held and the runtime, within the limit.
    assert 48 < row["max_memory_used_mb"] <= 128
    assert f"Max Memory Used: {row['max_memory_used_mb']} MB" in row["logs"]
    # Lambda's timeout line, in milliseconds.
    assert re.search(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ Task timed out after 2\.00 seconds$", row["logs"], re.M
    )
    page = login(stack).get(f"{stack.url}/invocations/{row['request_id']}/").text
    assert f"{row['max_memory_used_mb']} of 128 MB" in page
    assert "0 of 128 MB" not in page
    # A finished run says cold or warm; this one started an environment.
    assert re.search(r'class="cold-start">cold<', page)
    assert row["cold_start"] is True
    # Times to the second (milliseconds for the run's start and end), with a zone.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", page)
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", page)
