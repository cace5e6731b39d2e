"""The websockets: access is checked before joining a group, and group
messages reach the browser as HTML. (No pytest-asyncio: each test runs its
coroutine with async_to_sync.)"""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from invocations import live
from invocations.models import Invocation
from invocations.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fn(make_function):
    return make_function()


def _open(path: str, user, group: str | None = None, html: str = "") -> tuple:
    """Connect as `user`; if accepted and a group is given, send the group a
    fragment and return what the socket received."""

    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        connected, code = await communicator.connect()
        received = None
        if connected:
            if group:
                await get_channel_layer().group_send(group, {"type": "html.fragment", "html": html})
                received = await communicator.receive_from()
            await communicator.disconnect()
        return connected, code, received

    return async_to_sync(scenario)()


def test_it_forwards_function_fragments_to_a_member(users, fn):
    connected, _, received = _open(
        f"/ws/functions/{fn.id}/", users["reader"], live.fn_group(fn.id), '<div id="x">hi</div>'
    )
    assert connected
    assert received == '<div id="x">hi</div>'


def test_it_refuses_a_stranger_on_a_function(users, fn):
    connected, code, _ = _open(f"/ws/functions/{fn.id}/", users["outsider"])
    assert not connected
    assert code == 4404


def test_it_refuses_an_anonymous_user(fn):
    connected, code, _ = _open(f"/ws/functions/{fn.id}/", AnonymousUser())
    assert not connected
    assert code == 4401


def test_it_forwards_team_fragments(users, team):
    connected, _, received = _open(
        "/ws/functions/", users["member"], live.team_group(team.id), "<td>stats</td>"
    )
    assert connected
    assert received == "<td>stats</td>"


def test_it_refuses_the_team_list_to_a_user_without_teams(users):
    connected, code, _ = _open("/ws/functions/", users["outsider"])
    assert not connected
    assert code == 4404


def test_it_forwards_invocation_fragments(users, fn):
    inv = Invocation.objects.create(function=fn)
    connected, _, received = _open(
        f"/ws/invocations/{inv.request_id}/", users["owner"], live.inv_group(inv.request_id), "<p>done</p>"
    )
    assert connected
    assert received == "<p>done</p>"


def test_it_refuses_a_stranger_on_an_invocation(users, fn):
    inv = Invocation.objects.create(function=fn)
    connected, code, _ = _open(f"/ws/invocations/{inv.request_id}/", users["outsider"])
    assert not connected
    assert code == 4404
