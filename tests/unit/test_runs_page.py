"""The runs page (/runs/): who sees what, every filter, the searches, the
keyset cursors; and "Open this event in Test" / "Invoke again"."""

import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from functions import service
from functions.code import zip_single_file
from functions.models import Membership, Team
from invocations.models import Invocation
from runs import query

NOW = timezone.now().replace(microsecond=0)


def add_runs(fn, n=1, *, start=NOW, step=timedelta(seconds=1), **fields):
    """n stored invocations of fn, created `step` apart going back from
    `start` (newest first in the returned list)."""
    rows = [Invocation(function=fn, created_at=start - i * step, **fields) for i in range(n)]
    Invocation.objects.bulk_create(rows)
    return rows


@pytest.fixture
def fn(make_function):
    return make_function("alpha")


@pytest.fixture
def beta_fn(users):
    """A function of another team ("beta"), whose owner is `outsider`."""
    other = Team.objects.create(name="beta")
    Membership.objects.create(team=other, user=users["outsider"], role="owner")
    return service.create_function(other, name="secret", zip_bytes=zip_single_file(
        "lambda_function.py", "def lambda_handler(e, c):\n    return 1\n"),
        handler="lambda_function.lambda_handler")


def client_of(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def shown(response) -> set[str]:
    """The request ids of the rows on a runs page."""
    body = response.content.decode()
    return {part.split('"', 1)[0] for part in body.split('id="run-')[1:]}


def ids(rows) -> set[str]:
    return {str(r.request_id) for r in rows}


# Access --------------------------------------------------------------------------


def test_it_shows_only_the_users_teams_runs(users, fn, beta_fn):
    mine = add_runs(fn, 3)
    theirs = add_runs(beta_fn, 2)
    assert shown(client_of(users["member"]).get("/runs/")) == ids(mine)
    assert shown(client_of(users["reader"]).get("/runs/")) == ids(mine)
    assert shown(client_of(users["outsider"]).get("/runs/")) == ids(theirs)


def test_it_shows_staff_every_teams_runs(users, fn, beta_fn, django_user_model):
    rows = add_runs(fn, 2) + add_runs(beta_fn, 2)
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    assert shown(client_of(staff).get("/runs/")) == ids(rows)


def test_staff_may_open_any_run_but_invoke_only_their_teams(fn, beta_fn, django_user_model, handed_over):
    [theirs] = add_runs(beta_fn, 1)
    staff = client_of(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    body = staff.get(reverse("inv-detail", args=[theirs.request_id])).content.decode()
    assert str(theirs.request_id) in body and "Invoke again" not in body
    assert staff.post(reverse("runs-again", args=[theirs.request_id])).status_code == 404
    assert handed_over.calls == [] and Invocation.objects.count() == 1


def test_it_never_finds_another_teams_run_by_request_id(users, fn, beta_fn):
    add_runs(fn, 2)
    [secret] = add_runs(beta_fn, 1)
    member = client_of(users["member"])
    for text in (str(secret.request_id), secret.request_id.hex[:8], str(secret.request_id).upper()):
        response = member.get("/runs/", {"rid": text})
        assert response.status_code == 200
        assert shown(response) == set()
        assert "No runs match." in response.content.decode()
    # Nor through the invocation's page, or by naming its function.
    assert member.get(reverse("inv-detail", args=[secret.request_id])).status_code == 404
    assert member.get(reverse("runs-list"), {"function": str(beta_fn.id)}).status_code == 200
    assert shown(member.get(reverse("runs-list"), {"function": str(beta_fn.id)})) == set()


def test_it_wants_a_login(client):
    response = client.get("/runs/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# Filters --------------------------------------------------------------------------


def test_it_filters_by_each_field(users, fn, make_function):
    other = make_function("other")
    ok = add_runs(fn, 2, status="succeeded", source="api", cold_start=True, started_at=NOW)
    warm = add_runs(fn, 2, start=NOW - timedelta(minutes=1), status="succeeded", source="http",
                    trigger="route:abc", started_at=NOW)
    bad = add_runs(other, 2, start=NOW - timedelta(minutes=2), status="failed", source="schedule",
                   trigger="schedule:x", started_at=NOW)
    queued = add_runs(fn, 1, start=NOW - timedelta(minutes=3), status="queued", source="api")
    member = client_of(users["member"])

    def runs(**params):
        response = member.get("/runs/", params)
        assert response.status_code == 200, response.content
        return shown(response)

    assert runs() == ids(ok + warm + bad + queued)
    assert runs(function=str(other.id)) == ids(bad)
    assert runs(status="failed") == ids(bad)
    assert runs(status="queued") == ids(queued)
    assert runs(start="cold") == ids(ok)
    assert runs(start="warm") == ids(warm + bad)  # the queued one has not run
    assert runs(source="http") == ids(warm)
    assert runs(trigger="route:abc") == ids(warm)
    assert runs(function=str(fn.id), status="succeeded", start="warm") == ids(warm)


def test_it_filters_by_time_range(users, fn):
    recent = add_runs(fn, 2, start=timezone.now() - timedelta(minutes=5))
    yesterday = add_runs(fn, 1, start=timezone.now() - timedelta(hours=20))
    last_week = add_runs(fn, 1, start=timezone.now() - timedelta(days=3))
    old = add_runs(fn, 1, start=timezone.now() - timedelta(days=30))
    member = client_of(users["member"])
    assert shown(member.get("/runs/", {"last": "1h"})) == ids(recent)
    assert shown(member.get("/runs/", {"last": "24h"})) == ids(recent + yesterday)
    assert shown(member.get("/runs/", {"last": "7d"})) == ids(recent + yesterday + last_week)
    assert shown(member.get("/runs/")) == ids(recent + yesterday + last_week + old)
    since = (timezone.now() - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    until = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert shown(member.get("/runs/", {"since": since, "until": until})) == ids(yesterday + last_week)
    # The boxes keep the range in the form the browser's datetime-local reads.
    assert f'value="{since}"' in member.get("/runs/", {"since": since}).content.decode()
    # An explicit range wins over a quick one.
    assert shown(member.get("/runs/", {"since": since, "until": until, "last": "1h"})) == ids(
        yesterday + last_week)


def test_bad_filters_say_what_is_wrong(users, fn):
    add_runs(fn, 2)
    member = client_of(users["member"])
    body = member.get("/runs/", {"rid": "xyz"}).content.decode()
    assert "Request id: A request id is 32 hex digits" in body
    body = member.get("/runs/", {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"}).content.decode()
    assert "The end of the time range must be after its start." in body
    body = member.get("/runs/", {"status": "sleeping"}).content.decode()
    assert "Status: Select a valid choice." in body
    body = member.get("/runs/", {"older": "not-a-cursor"}).content.decode()
    assert "is not one this page made" in body


# Searches -------------------------------------------------------------------------


def test_it_finds_a_run_by_request_id_or_a_prefix(users, fn):
    rows = add_runs(fn, 5)
    wanted = rows[2]
    member = client_of(users["member"])
    for text in (str(wanted.request_id), wanted.request_id.hex, wanted.request_id.hex[:8],
                 str(wanted.request_id)[:13], str(wanted.request_id).upper()):
        assert shown(member.get("/runs/", {"rid": text})) == {str(wanted.request_id)}, text


def test_request_id_range_covers_the_prefix_only():
    low, high = query.request_id_range("ABCDEF01-2")
    assert low == uuid.UUID("abcdef01-2000-0000-0000-000000000000")
    assert high == uuid.UUID("abcdef01-2fff-ffff-ffff-ffffffffffff")
    assert query.request_id_range("abcdef0") is None  # 7 digits: too short
    assert query.request_id_range("abcdefgh") is None
    assert query.request_id_range("0" * 33) is None


def test_it_finds_runs_by_log_text_ignoring_case(users, fn, beta_fn):
    hit = add_runs(fn, 1, logs="START\nthe Needle-42 was here\nEND\n")
    add_runs(fn, 3, start=NOW - timedelta(minutes=1), logs="nothing to see\n")
    add_runs(beta_fn, 1, logs="the needle-42 of another team\n")
    member = client_of(users["member"])
    assert shown(member.get("/runs/", {"q": "needle-42"})) == ids(hit)
    assert shown(member.get("/runs/", {"q": "NEEDLE-42", "status": "queued"})) == ids(hit)
    assert shown(member.get("/runs/", {"q": "needle-43"})) == set()
    # LIKE's wildcards are searched for as themselves.
    assert shown(member.get("/runs/", {"q": "needle%42"})) == set()


def test_a_log_search_reads_a_bounded_window_per_page(users, fn, monkeypatch):
    monkeypatch.setattr(query, "LOG_SEARCH_WINDOW", 10)
    newest = add_runs(fn, 15, logs="plain\n")
    deep = add_runs(fn, 1, start=NOW - timedelta(minutes=5), logs="the deep token\n")
    member = client_of(users["member"])
    first = member.get("/runs/", {"q": "deep token"})
    body = first.content.decode()
    assert shown(first) == set()
    assert "Searched the logs of the 10 newest matching runs" in body
    # Older searches below the window, where the row is.
    page = query.page(users["member"], query.Filters(log_text="deep token"))
    assert page.older == query.Cursor.of(newest[9]) and page.searched_back_to == newest[9].created_at
    second = member.get("/runs/", {"q": "deep token", "older": page.older.encode()})
    assert shown(second) == ids(deep)
    assert "Searched the logs" not in second.content.decode()


# Cursors --------------------------------------------------------------------------


def test_older_and_newer_cursors_walk_every_row_once(users, fn):
    # Pairs of rows share a created_at: the request id breaks the tie.
    rows = []
    for i in range(7):
        rows += add_runs(fn, 2, start=NOW - timedelta(seconds=i), step=timedelta(0))
    expected = [r.request_id for r in sorted(rows, key=lambda r: (r.created_at, r.request_id), reverse=True)]
    user = users["member"]
    pages, cursor = [], None
    while True:
        page = query.page(user, query.Filters(), older=cursor, size=4)
        pages.append(page)
        if page.older is None:
            break
        cursor = page.older
    walked = [r.request_id for p in pages for r in p.rows]
    assert walked == expected
    assert [len(p.rows) for p in pages] == [4, 4, 4, 2]
    assert pages[0].newer is None and pages[1].newer is not None
    # Newer from the third page is the second page again.
    back = query.page(user, query.Filters(), newer=pages[2].newer, size=4)
    assert [r.request_id for r in back.rows] == [r.request_id for r in pages[1].rows]
    assert back.older == pages[1].older


def test_the_pager_links_keep_the_filters(users, fn):
    add_runs(fn, query.PAGE_SIZE + 5, status="failed")
    response = client_of(users["member"]).get("/runs/", {"status": "failed", "source": ""})
    body = response.content.decode()
    assert len(shown(response)) == query.PAGE_SIZE
    assert "status=failed&amp;source=&amp;older=" in body
    older = body.split("&amp;older=", 1)[1].split('"', 1)[0]
    second = client_of(users["member"]).get("/runs/", {"status": "failed", "older": older})
    assert len(shown(second)) == 5


def test_htmx_gets_only_the_table(users, fn):
    add_runs(fn, 2)
    response = client_of(users["member"]).get(
        "/runs/", {"status": ""}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="runs-table")
    body = response.content.decode()
    assert '<table class="list runs">' in body and "<form" not in body.split("<table", 1)[0]
    assert "<html" not in body
    assert len(shown(response)) == 2


def test_a_chosen_function_offers_its_triggers_by_name(users, fn):
    from triggers.models import HttpRoute, Schedule

    route = HttpRoute.objects.create(function=fn, method="GET", path="/hello")
    schedule = Schedule.objects.create(function=fn, expression="rate(5 minutes)")
    body = client_of(users["member"]).get("/runs/", {"function": str(fn.id)}).content.decode()
    assert f'<option value="{route.key}">HTTP route GET /hello</option>' in body
    assert f'<option value="{schedule.key}">Schedule rate(5 minutes)</option>' in body


# Open this event in Test -------------------------------------------------------------


def test_open_in_test_loads_the_event(users, fn):
    [inv] = add_runs(fn, 1, event='{"order": 42, "items": ["a"]}')
    body = client_of(users["reader"]).get(
        reverse("fn-detail", args=[fn.id]), {"tab": "test", "from": str(inv.request_id)}
    ).content.decode()
    textarea = body.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert json.loads(textarea.split(">", 1)[1].replace("&quot;", '"')) == {"order": 42, "items": ["a"]}
    assert f"Loaded the event of invocation {inv.request_id}." in body


def test_open_in_test_is_access_checked(users, fn, beta_fn, make_function):
    [theirs] = add_runs(beta_fn, 1, event='{"secret": 1}')
    other = make_function("other")
    [mine_elsewhere] = add_runs(other, 1)
    member = client_of(users["member"])
    url = reverse("fn-detail", args=[fn.id])
    assert member.get(url, {"tab": "test", "from": str(theirs.request_id)}).status_code == 404
    assert member.get(url, {"tab": "test", "from": str(mine_elsewhere.request_id)}).status_code == 404
    assert member.get(url, {"tab": "test", "from": "nope"}).status_code == 404
    outsider = client_of(users["outsider"])
    assert outsider.get(url, {"tab": "test", "from": str(mine_elsewhere.request_id)}).status_code == 404


# Invoke again ------------------------------------------------------------------------


def test_invoke_again_runs_a_sync_call_with_the_same_event(users, fn, handed_over):
    [inv] = add_runs(fn, 1, event='{"n": 7}', status="succeeded")
    response = client_of(users["member"]).post(reverse("runs-again", args=[inv.request_id]))
    assert response.status_code == 302
    [call] = handed_over.calls
    assert call.event == '{"n": 7}' and call.function_id == str(fn.id) and call.source == "console"
    assert response["Location"].startswith(
        reverse("inv-detail", args=[call.request_id]) + f"?function={fn.id}&again={inv.request_id}&until="
    )


def test_invoke_again_of_an_event_invocation_is_async(users, fn, handed_over):
    [inv] = add_runs(fn, 1, event='{"n": 8}', invocation_type="Event", status="failed")
    response = client_of(users["owner"]).post(reverse("runs-again", args=[inv.request_id]))
    new = Invocation.objects.exclude(request_id=inv.request_id).get()
    assert (new.event, new.invocation_type, new.status) == ('{"n": 8}', "Event", "queued")
    assert new.source == "console"
    assert response["Location"] == reverse("inv-detail", args=[new.request_id])
    assert handed_over.calls == []


def test_invoke_again_refuses_readers_strangers_gets_and_forged_posts(users, fn, handed_over):
    [inv] = add_runs(fn, 1, invocation_type="Event")
    url = reverse("runs-again", args=[inv.request_id])
    assert client_of(users["reader"]).post(url).status_code == 403
    assert client_of(users["outsider"]).post(url).status_code == 404
    assert client_of(users["member"]).get(url).status_code == 405
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(users["member"])
    assert forged.post(url).status_code == 403
    assert Invocation.objects.count() == 1 and handed_over.calls == []


def test_invoke_again_says_why_a_throttled_call_did_not_run(users, fn, monkeypatch):
    from invocations import dispatch
    from invocations.done import Done

    [inv] = add_runs(fn, 1)

    def refuse(*args, **kwargs):
        return Done(request_id=str(uuid.uuid4()), status="throttled",
                    error={"errorMessage": "Rate Exceeded."})

    monkeypatch.setattr(dispatch, "start_sync", refuse)
    response = client_of(users["member"]).post(reverse("runs-again", args=[inv.request_id]), follow=True)
    assert "alpha was not invoked again: Rate Exceeded." in response.content.decode()
    assert Invocation.objects.count() == 1


def test_the_detail_page_offers_both_actions_to_members_only(users, fn):
    [inv] = add_runs(fn, 1)
    url = reverse("inv-detail", args=[inv.request_id])
    body = client_of(users["member"]).get(url).content.decode()
    assert "Open this event in Test" in body and "Invoke again" in body
    body = client_of(users["reader"]).get(url).content.decode()
    assert "Open this event in Test" in body and "Invoke again" not in body


def test_a_sync_call_not_recorded_yet_has_a_waiting_page(users, fn, beta_fn):
    rid = uuid.uuid4()
    until = int((timezone.now() + timedelta(minutes=1)).timestamp())
    url = reverse("inv-detail", args=[rid])
    member = client_of(users["member"])
    page = member.get(url, {"function": str(fn.id), "until": until})
    assert page.status_code == 200 and "Its record is stored when it finishes" in page.content.decode()
    poll = {"function": str(fn.id), "until": until}
    assert member.get(url, poll, HTTP_HX_REQUEST="true").status_code == 204
    Invocation.objects.create(request_id=rid, function=fn, status="succeeded")
    found = member.get(url, poll, HTTP_HX_REQUEST="true")
    assert found["HX-Redirect"] == url
    assert member.get(url, poll)["Location"] == url
    # Past its bounds the page stops waiting and says so.
    gone = reverse("inv-detail", args=[uuid.uuid4()])
    stop = member.get(gone, {"function": str(fn.id), "until": 1}, HTTP_HX_REQUEST="true")
    assert stop.status_code == 286 and "No record of this invocation was stored" in stop.content.decode()
    # A function not theirs, or no function: 404.
    assert member.get(gone, {"function": str(beta_fn.id)}).status_code == 404
    assert member.get(gone).status_code == 404
