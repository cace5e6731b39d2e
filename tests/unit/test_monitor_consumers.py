"""The charts' websockets (monitor.consumers): ticks reach members of the
function's team, a team's members, and staff for the installation; anyone
else is refused before joining."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from functions.models import Team
from monitor import consumers
from monitor.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

TICK = '<template id="metrics-tick" hx-swap-oob="true" data-tick=\'{"t": 60}\'></template>'


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", password="pw-ops", is_staff=True)


def _open(path: str, user, group: str | None = None) -> tuple:
    """Connect as `user`; if accepted and a group is given, send it a tick
    and return what the socket received."""

    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        communicator.scope["user"] = user
        connected, code = await communicator.connect()
        received = None
        if connected:
            if group:
                await get_channel_layer().group_send(group, {"type": "html.fragment", "html": TICK})
                received = await communicator.receive_from()
            await communicator.disconnect()
        return connected, code, received

    return async_to_sync(scenario)()


def test_it_forwards_a_functions_ticks_to_a_member(users, fn):
    path = f"/ws/metrics/functions/{fn.id}/"
    connected, _, received = _open(path, users["reader"], consumers.fn_group(fn.id))
    assert connected
    assert received == TICK


def test_it_refuses_another_teams_function(users, fn):
    connected, code, _ = _open(f"/ws/metrics/functions/{fn.id}/", users["outsider"])
    assert (connected, code) == (False, 4404)


def test_it_refuses_an_anonymous_user(fn):
    connected, code, _ = _open(f"/ws/metrics/functions/{fn.id}/", AnonymousUser())
    assert (connected, code) == (False, 4401)


def test_it_forwards_the_users_teams_ticks(users, team):
    connected, _, received = _open("/ws/metrics/teams/", users["member"], consumers.team_group(team.id))
    assert connected
    assert received == TICK


def test_it_refuses_one_team_to_an_outsider_and_lets_staff_in(users, team, staff):
    path = f"/ws/metrics/teams/{team.account_id}/"
    assert _open(path, users["outsider"])[:2] == (False, 4404)
    connected, _, received = _open(path, staff, consumers.team_group(team.id))
    assert connected
    assert received == TICK


def test_it_keeps_one_teams_socket_to_that_team(users, team):
    other = Team.objects.create(name="beta")
    connected, code, _ = _open(f"/ws/metrics/teams/{other.account_id}/", users["owner"])
    assert (connected, code) == (False, 4404)


def test_it_gives_the_installation_to_staff_only(users, staff):
    assert _open("/ws/metrics/all/", users["owner"])[:2] == (False, 4403)
    assert _open("/ws/metrics/all/", AnonymousUser())[:2] == (False, 4401)
    connected, _, received = _open("/ws/metrics/all/", staff, consumers.ALL_GROUP)
    assert connected
    assert received == TICK
