"""A websocket client sees a log line while the invocation still runs."""

import pytest
from websockets.sync.client import connect

from tests.integration.helpers import create, login

pytestmark = pytest.mark.integration

SLOW = '''
import time

def handler(event, context):
    print("first line")
    # Long enough for the test's own row check (a manage.py shell) to run
    # while the handler still sleeps, even on a loaded machine.
    time.sleep(6)
    print("second line")
    return "done"
'''


def test_it_streams_the_first_line_before_the_invocation_ends(stack):
    client = stack.lambda_client()
    create(client, "slow-printer", SLOW, Timeout=20)
    fn_id = stack.rows("Function.objects.filter(name='slow-printer').values_list('id', flat=True)")[0]
    session = login(stack)
    ws_url = stack.url.replace("http://", "ws://") + f"/ws/functions/{fn_id}/"
    cookie = f"sessionid={session.cookies['sessionid']}"
    with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": stack.url}) as ws:
        client.invoke(FunctionName="slow-printer", InvocationType="Event", Payload=b"{}")
        while True:
            message = ws.recv(timeout=60)
            if "first line" in message:
                break
        # The line arrived while the handler was still sleeping.
        statuses = stack.rows(
            "Invocation.objects.filter(function__name='slow-printer').values_list('status', flat=True)"
        )
        assert statuses == ["running"]
        assert "second line" not in message
        while "second line" not in message:
            message = ws.recv(timeout=60)


def test_it_refuses_a_websocket_without_a_session(stack):
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    fn_ws = stack.url.replace("http://", "ws://") + "/ws/functions/"
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        with connect(fn_ws, additional_headers={"Origin": stack.url}) as ws:
            ws.recv(timeout=10)


def test_it_refuses_a_foreign_origin(stack):
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    session = login(stack)
    fn_ws = stack.url.replace("http://", "ws://") + "/ws/functions/"
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        with connect(fn_ws, additional_headers={
            "Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": "http://evil.example",
        }) as ws:
            ws.recv(timeout=10)
