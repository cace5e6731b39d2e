"""The Triggers tab: listing, adding, toggling, deleting, the schedule
preview, and their 403/404/405 answers; plus the registry for other apps."""

import uuid

import pytest
from django.urls import reverse

from invocations.models import Invocation
from triggers import registry
from triggers.models import HttpRoute, Schedule, Webhook

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fn(make_function):
    return make_function()


def u(name, fn, *args):
    return reverse(name, args=[fn.id, *args])


ROUTE = {"method": "GET", "path": "/users/{id}", "auth": "none", "priority": "normal"}


def test_it_shows_the_triggers_tab_link_and_loader(client, users, fn):
    client.force_login(users["member"])
    r = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=triggers")
    body = r.content.decode()
    assert r.status_code == 200
    assert ">Triggers</a>" in body
    assert f'hx-get="{u("trg-tab", fn)}"' in body


def test_it_lists_triggers_with_errors_in_the_last_hour(client, users, fn):
    route = HttpRoute.objects.create(function=fn, method="GET", path="/r")
    Invocation.objects.create(function=fn, status="failed", trigger=route.key)
    Invocation.objects.create(function=fn, status="succeeded", trigger=route.key)
    Schedule.objects.create(function=fn, expression="rate(5 minutes)")
    client.force_login(users["member"])
    r = client.get(u("trg-tab", fn), **HX)
    body = r.content.decode()
    assert r.status_code == 200
    assert "<html" not in body
    assert "GET /r" in body and "http://testserver/http/r" in body
    assert "rate(5 minutes)" in body
    assert '<td class="errors">1</td>' in body
    assert "Add an HTTP route" in body


def test_it_serves_the_full_page_without_htmx(client, users, fn):
    client.force_login(users["member"])
    body = client.get(u("trg-tab", fn)).content.decode()
    assert "<html" in body and "Add a schedule" in body


def test_it_hides_forms_and_switches_from_readers(client, users, fn):
    HttpRoute.objects.create(function=fn, method="GET", path="/r")
    client.force_login(users["reader"])
    body = client.get(u("trg-tab", fn), **HX).content.decode()
    assert "GET /r" in body
    assert "Add an HTTP route" not in body
    assert "toggle" not in body


@pytest.mark.parametrize("name,data", [
    ("trg-route-add", ROUTE),
    ("trg-schedule-add", {"expression": "rate(1 minute)", "timezone": "UTC", "priority": "normal"}),
    ("trg-webhook-add", {"secret": "", "priority": "normal"}),
])
def test_it_refuses_readers_and_strangers(client, users, fn, name, data):
    client.force_login(users["reader"])
    assert client.post(u(name, fn), data).status_code == 403
    client.force_login(users["outsider"])
    assert client.post(u(name, fn), data).status_code == 404
    assert client.get(u("trg-tab", fn)).status_code == 404
    client.force_login(users["member"])
    assert client.get(u(name, fn)).status_code == 405
    assert not (HttpRoute.objects.exists() or Schedule.objects.exists() or Webhook.objects.exists())


def test_it_requires_login(client, fn):
    assert client.get(u("trg-tab", fn)).status_code == 302


def test_it_adds_a_route(client, users, fn):
    client.force_login(users["member"])
    r = client.post(u("trg-route-add", fn), {**ROUTE, "cors_allow_origins": "https://a.example"}, **HX)
    assert r.status_code == 200
    route = HttpRoute.objects.get()
    assert (route.method, route.path, route.path_key) == ("GET", "/users/{id}", "/users/{}")
    assert route.cors_allow_origins == "https://a.example"
    assert "Added the route GET /users/{id}" in r.content.decode()


def test_it_shows_an_api_key_once(client, users, fn):
    client.force_login(users["member"])
    r = client.post(u("trg-route-add", fn), {**ROUTE, "auth": "api_key"}, **HX)
    route = HttpRoute.objects.get()
    body = r.content.decode()
    key = body.split('<pre id="new-api-key">')[1].split("</pre>")[0]
    assert route.api_key_matches(key)
    assert key not in client.get(u("trg-tab", fn), **HX).content.decode()


def test_it_refuses_a_conflict_and_saves_nothing(client, users, fn, make_function):
    HttpRoute.objects.create(function=make_function(name="other"), method="GET", path="/users/{uid}")
    client.force_login(users["member"])
    r = client.post(u("trg-route-add", fn), ROUTE, **HX)
    # 200 so htmx swaps the form with its error in; a plain POST gets 400.
    assert r.status_code == 200
    assert "conflicts with the route GET /users/{uid}" in r.content.decode()
    assert client.post(u("trg-route-add", fn), ROUTE).status_code == 400
    assert HttpRoute.objects.count() == 1


def test_it_adds_a_schedule_with_its_next_fire_time(client, users, fn):
    client.force_login(users["member"])
    r = client.post(
        u("trg-schedule-add", fn),
        {"expression": "cron(0 12 * * ? *)", "timezone": "Europe/Paris", "priority": "low"}, **HX,
    )
    assert r.status_code == 200
    schedule = Schedule.objects.get()
    assert schedule.next_fire_at is not None and schedule.priority == "low"


def test_it_refuses_a_bad_expression(client, users, fn):
    client.force_login(users["member"])
    data = {"expression": "cron(0 12 * * *)", "timezone": "UTC", "priority": "normal"}
    r = client.post(u("trg-schedule-add", fn), data)
    assert r.status_code == 400
    assert "six fields" in r.content.decode()
    assert not Schedule.objects.exists()


def test_it_previews_fire_times(client, users, fn):
    client.force_login(users["reader"])
    query = {"expression": "rate(1 hour)", "timezone": "Asia/Tokyo"}
    r = client.get(u("trg-schedule-preview", fn), query, **HX)
    body = r.content.decode()
    assert r.status_code == 200
    assert body.count("<li>") == 5 and "JST" in body
    r = client.get(u("trg-schedule-preview", fn), {"expression": "rate(1 hours)"}, **HX)
    assert "rate(1 hour)" in r.content.decode() and 'class="error"' in r.content.decode()
    assert client.post(u("trg-schedule-preview", fn)).status_code == 405


def test_it_adds_a_webhook_and_shows_its_url(client, users, fn):
    client.force_login(users["member"])
    r = client.post(u("trg-webhook-add", fn), {"secret": "s3cret", "priority": "high"}, **HX)
    hook = Webhook.objects.get()
    assert len(hook.token) >= 32
    assert hook.secret == "s3cret" and "s3cret" not in hook.encrypted_secret
    assert f"http://testserver/hooks/{hook.token}/" in r.content.decode()


def test_it_toggles_and_deletes(client, users, fn):
    route = HttpRoute.objects.create(function=fn, method="GET", path="/r")
    schedule = Schedule.objects.create(function=fn, expression="rate(5 minutes)")
    client.force_login(users["member"])
    r = client.post(u("trg-toggle", fn, "routes", route.id), **HX)
    assert r.status_code == 200 and r["HX-Trigger"] == "triggers-changed"
    route.refresh_from_db()
    assert not route.enabled
    r = client.post(u("trg-toggle", fn, "schedules", schedule.id))
    assert r.status_code == 302 and r["Location"].endswith("?tab=triggers")
    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.next_fire_at is None
    assert client.post(u("trg-delete", fn, "routes", route.id), **HX).status_code == 200
    assert not HttpRoute.objects.exists()


def test_it_guards_toggle_and_delete(client, users, fn, make_function):
    route = HttpRoute.objects.create(function=fn, method="GET", path="/r")
    client.force_login(users["reader"])
    assert client.post(u("trg-toggle", fn, "routes", route.id)).status_code == 403
    assert client.post(u("trg-delete", fn, "routes", route.id)).status_code == 403
    client.force_login(users["outsider"])
    assert client.post(u("trg-delete", fn, "routes", route.id)).status_code == 404
    client.force_login(users["member"])
    assert client.get(u("trg-delete", fn, "routes", route.id)).status_code == 405
    assert client.post(u("trg-delete", fn, "nonsense", route.id)).status_code == 404
    assert client.post(u("trg-delete", fn, "routes", uuid.uuid4())).status_code == 404
    # A route of another function is not reachable through this one.
    other = make_function(name="other")
    assert client.post(u("trg-delete", other, "routes", route.id)).status_code == 404
    assert HttpRoute.objects.filter(enabled=True).count() == 1


def test_it_lists_rows_and_sections_from_other_apps(client, users, fn, monkeypatch, tmp_path, settings):
    monkeypatch.setattr(registry, "_providers", list(registry._providers))
    monkeypatch.setattr(registry, "_form_sections", [])
    (tmp_path / "extra.html").write_text("<section id='extra'>{{ fn.name }} {{ greeting }}</section>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]

    @registry.register
    def topics(f):
        return [registry.TriggerRow(
            kind="Topic subscription", target="orders", enabled=True, last_fired_at=None,
            errors_last_hour=2, toggle_url="/x/toggle", delete_url=None, detail_url="/topics/orders",
        )]

    registry.register_form_section("extra.html", lambda f, request: {"greeting": "hi"})
    client.force_login(users["member"])
    body = client.get(u("trg-tab", fn), **HX).content.decode()
    assert "Topic subscription" in body and 'href="/topics/orders"' in body
    assert 'hx-post="/x/toggle"' in body
    assert "<section id='extra'>hello hi</section>" in body
    client.force_login(users["reader"])
    assert "id='extra'" not in client.get(u("trg-tab", fn), **HX).content.decode()


def test_it_counts_errors_per_trigger_key(fn):
    Invocation.objects.create(function=fn, status="timed_out", trigger="route:a")
    Invocation.objects.create(function=fn, status="failed", trigger="route:a")
    Invocation.objects.create(function=fn, status="succeeded", trigger="route:b")
    assert registry.errors_last_hour(["route:a", "route:b", "route:c"]) == {
        "route:a": 2, "route:b": 0, "route:c": 0,
    }


def test_it_lists_the_function_urls_with_their_qualifier_and_calls(client, users, fn):
    from functions import function_urls, versions

    versions.publish(fn)
    versions.create_alias(fn, name="live", function_version="1")
    plain = function_urls.create(fn, auth_type="NONE")
    live = function_urls.create(fn, qualifier="live", auth_type="AWS_IAM")
    Invocation.objects.create(function=fn, status="failed", trigger=function_urls.trigger_key(live.url_id))
    client.force_login(users["member"])
    body = client.get(u("trg-tab", fn), **HX).content.decode()
    assert body.count("<td>Function URL</td>") == 2
    assert f"/lambda-url/{plain.url_id}/" in body and f"/lambda-url/{live.url_id}/" in body
    assert f"AuthType AWS_IAM · BUFFERED · runs {fn.name}:live" in body
    assert "AuthType NONE · BUFFERED · runs unqualified ($LATEST)" in body
    rows = {row.target: row for row in registry.rows_for(fn) if row.kind == "Function URL"}
    assert rows[f"{fn.name}:live"].errors_last_hour == 1
    assert rows[f"{fn.name}:live"].last_fired_at is not None
    assert rows[fn.name].last_fired_at is None and rows[fn.name].toggle_url is None
