"""The environments' websockets: access is checked before joining, the
first message is the tables as they are, group messages follow. (Redis is
not running here: states read as unknown, which is what is asserted.)"""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from invocations.models import Environment
from invocations.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def _open(path: str, user, group: str | None = None) -> tuple:
    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        connected, code = await communicator.connect()
        received = []
        if connected:
            received.append(await communicator.receive_from())
            if group:
                await get_channel_layer().group_send(group, {"type": "html.fragment", "html": "<p>x</p>"})
                received.append(await communicator.receive_from())
            await communicator.disconnect()
        return connected, code, received

    return async_to_sync(scenario)()


def test_a_member_gets_the_tables_then_the_groups_messages(users, make_function):
    fn = make_function()
    Environment.objects.create(id="abc123", node="n1", state="ready", function=fn, revision=fn.revision)
    path = f"/ws/environments/functions/{fn.id}/"
    connected, _, received = _open(path, users["reader"], f"envs-fn-{fn.id}")
    assert connected
    assert f'<tbody id="envs-fn-{fn.id}" hx-swap-oob="true"' in received[0]
    assert 'data-env="abc123" data-state="unknown"' in received[0]
    assert 'id="envs-live" class="envs-live" data-live="on"' in received[0]
    assert received[1] == "<p>x</p>"


def test_the_installation_socket_joins_the_pool_and_the_users_teams(users, team):
    connected, _, received = _open("/ws/environments/", users["outsider"], "envs-pool")
    assert connected and received[1] == "<p>x</p>"
    assert f"envs-team-{team.id}" not in received[0]
    connected, _, received = _open("/ws/environments/", users["member"], f"envs-team-{team.id}")
    assert connected and received[1] == "<p>x</p>"


def test_it_refuses_strangers_and_anonymous_users(users, make_function):
    fn = make_function()
    assert _open(f"/ws/environments/functions/{fn.id}/", users["outsider"])[:2] == (False, 4404)
    assert _open("/ws/environments/", AnonymousUser())[:2] == (False, 4401)
