"""The charts' pages and JSON (monitor.views): who sees which numbers,
the range parameter, and the series the page embeds for uPlot."""

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from functions import code as codestore
from functions import service
from functions.models import Membership, Team
from metrics.models import MetricMinute

pytestmark = pytest.mark.django_db


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def other_team(django_user_model):
    team = Team.objects.create(name="beta")
    stranger = django_user_model.objects.create_user("stranger", password="pw-stranger")
    Membership.objects.create(team=team, user=stranger, role="owner")
    return team


@pytest.fixture
def other_fn(other_team):
    zip_bytes = codestore.zip_single_file("lambda_function.py", "def h(e, c):\n    return 1\n")
    return service.create_function(
        other_team, name="theirs", zip_bytes=zip_bytes, handler="lambda_function.h"
    )


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", password="pw-ops", is_staff=True)


def _minute_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0)


def _record(fn, **counts) -> MetricMinute:
    counts.setdefault("invocations", 1)
    return MetricMinute.objects.create(
        team=fn.team, function_id=fn.id, function_name=fn.name, minute=_minute_now(), **counts
    )


def _embedded(response) -> dict:
    """The series the page hands to static/js/charts.js (json_script)."""
    html = response.content.decode()
    start = html.index('<script id="metrics-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def test_it_shows_the_monitor_tab_with_the_functions_numbers(client, users, fn, other_fn):
    _record(fn, invocations=3, errors_failed=1, cold_starts=2, gb_seconds=0.375)
    _record(other_fn, invocations=50)
    client.force_login(users["reader"])
    response = client.get(reverse("fn-detail", args=[fn.id]), {"tab": "monitor"})
    assert response.status_code == 200
    data = _embedded(response)
    assert data["range"] == "1h" and data["step_s"] == 60
    assert len(data["series"]["t"]) == 60
    totals = data["series"]["totals"]
    assert (totals["invocations"], totals["errors_failed"], totals["cold_starts"]) == (3, 1, 2)
    assert data["series"]["invocations"][-1] == 3
    html = response.content.decode()
    assert f'ws-connect="/ws/metrics/functions/{fn.id}/"' in html
    assert 'id="metrics-tick"' in html and 'data-chart="duration"' in html


def test_it_answers_the_same_numbers_as_json(client, users, fn):
    _record(fn, invocations=4, throttles=2)
    client.force_login(users["member"])
    response = client.get(reverse("mon-fn-data", args=[fn.id]), {"range": "24h"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert (data["range"], data["step_s"], len(data["series"]["t"])) == ("24h", 600, 144)
    assert data["series"]["totals"]["invocations"] == 4
    assert data["series"]["totals"]["throttles"] == 2
    assert data["until"] - data["since"] == 24 * 3600


def test_it_hides_another_teams_function(client, users, other_fn):
    client.force_login(users["owner"])
    assert client.get(reverse("fn-detail", args=[other_fn.id]), {"tab": "monitor"}).status_code == 404
    assert client.get(reverse("mon-fn-data", args=[other_fn.id])).status_code == 404


@pytest.mark.parametrize("bad", ["2h", "1H", "7d;", "x" * 300])
def test_it_rejects_an_unknown_range(client, users, fn, bad):
    client.force_login(users["owner"])
    response = client.get(reverse("mon-fn-data", args=[fn.id]), {"range": bad})
    assert response.status_code == 400
    body = response.json()
    assert body["__type"] == "ValidationException"
    assert "use one of 1h, 24h, 7d" in body["message"]
    page = client.get(reverse("fn-detail", args=[fn.id]), {"tab": "monitor", "range": bad})
    assert page.status_code == 400
    assert "use one of 1h, 24h, 7d" in page.content.decode()
    assert _embedded(page)["range"] == "1h"
    dashboard = client.get(reverse("mon-dashboard-data"), {"range": bad})
    assert dashboard.status_code == 400


def test_it_offers_each_range_in_the_url(client, users, fn):
    client.force_login(users["owner"])
    response = client.get(reverse("fn-detail", args=[fn.id]), {"tab": "monitor", "range": "7d"})
    data = _embedded(response)
    assert (data["step_s"], len(data["series"]["t"])) == (3600, 168)
    html = response.content.decode()
    for name in ("1h", "24h", "7d"):
        assert f"?tab=monitor&amp;range={name}" in html


def test_it_shows_a_user_only_their_teams_on_the_dashboard(client, users, fn, other_fn):
    _record(fn, invocations=2)
    _record(other_fn, invocations=7)
    client.force_login(users["member"])
    response = client.get(reverse("mon-dashboard"))
    assert response.status_code == 200
    assert _embedded(response)["series"]["totals"]["invocations"] == 2
    assert 'ws-connect="/ws/metrics/teams/"' in response.content.decode()
    # Another team by its account id: not there, for this user.
    assert client.get(reverse("mon-dashboard"), {"team": other_fn.team.account_id}).status_code == 404
    assert client.get(reverse("mon-dashboard-data"), {"team": other_fn.team.account_id}).status_code == 404


def test_it_shows_staff_the_whole_installation(client, staff, fn, other_fn):
    _record(fn, invocations=2)
    _record(other_fn, invocations=7)
    client.force_login(staff)
    response = client.get(reverse("mon-dashboard"))
    assert _embedded(response)["series"]["totals"]["invocations"] == 9
    assert 'ws-connect="/ws/metrics/all/"' in response.content.decode()
    one = client.get(reverse("mon-dashboard-data"), {"team": other_fn.team.account_id, "range": "7d"}).json()
    assert one["series"]["totals"]["invocations"] == 7


def test_it_links_the_dashboard_in_the_top_nav(client, users):
    client.force_login(users["outsider"])
    response = client.get(reverse("mon-dashboard"))
    assert response.status_code == 200
    assert f'href="{reverse("mon-dashboard")}"' in response.content.decode()
    assert _embedded(response)["series"]["totals"]["invocations"] == 0
    # In no team: no socket that would only be refused.
    assert "ws-connect" not in response.content.decode()


@pytest.mark.parametrize("url", ["mon-dashboard", "mon-dashboard-data"])
def test_it_sends_anonymous_users_to_log_in_and_refuses_posts(client, users, url):
    assert client.get(reverse(url)).status_code == 302
    client.force_login(users["owner"])
    assert client.post(reverse(url)).status_code == 405


def test_it_lists_the_functions_busiest_first_on_the_dashboard(client, users, fn, make_function, other_fn):
    quiet = make_function(name="quiet")
    _record(fn, invocations=4, errors_timed_out=1)
    _record(other_fn, invocations=9)
    client.force_login(users["member"])
    response = client.get(reverse("mon-dashboard"), {"range": "24h"})
    rows = response.context["rows"]
    assert [row["fn"].name for row in rows] == ["hello", "quiet"]
    assert rows[0]["totals"]["invocations"] == 4 and rows[0]["error_rate"] == 25.0
    assert rows[1]["error_rate"] is None
    html = response.content.decode()
    assert f'href="/functions/{quiet.id}/?tab=monitor&amp;range=24h"' in html
    assert "theirs" not in html
    table = client.get(reverse("mon-dashboard-functions"), {"range": "7d"})
    assert table.status_code == 200
    assert 'data-function="hello"' in table.content.decode()
    assert client.get(reverse("mon-dashboard-functions"), {"range": "1y"}).status_code == 400
    other = client.get(reverse("mon-dashboard-functions"), {"team": other_fn.team.account_id})
    assert other.status_code == 404
