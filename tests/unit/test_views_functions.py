"""The function pages: list, create, detail tabs and their POSTs."""

import io
import json
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from functions import models
from functions.models import Function
from invocations import tasks
from invocations.models import Invocation

HX = {"HTTP_HX_REQUEST": "true"}
CODE_POSTS = ["fn-code-save", "fn-code-upload", "fn-code-file-add", "fn-code-file-delete"]


def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _create_data(team, **overrides):
    data = {
        "team": team.pk,
        "name": "made",
        "runtime": "python3.11",
        "handler": "lambda_function.lambda_handler",
        "memory_mb": "256",
        "timeout_s": "5",
        "description": "a test",
        "environment": "GREETING=hi\nMODE=test",
        "code_source": "inline",
        "source": "def lambda_handler(event, context):\n    return 1\n",
    }
    data.update(overrides)
    return data


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def no_broker(monkeypatch):
    """Record queued tasks instead of sending them to a broker."""
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kwargs: sent.append(tuple(args)))
    return sent


def _file(fn, path="lambda_function.py"):
    return {"path": path, "base": fn.code_id}


def url(name, fn=None, **query):
    path = reverse(name, args=[fn.id] if fn else [])
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return path


# The list -------------------------------------------------------------------


def test_it_lists_the_teams_functions_with_live_stats(client, users, fn, make_function):
    Invocation.objects.create(function=fn, status="failed")
    client.force_login(users["member"])
    r = client.get(url("fn-list"))
    assert r.status_code == 200
    body = r.content.decode()
    assert 'ws-connect="/ws/functions/"' in body
    assert f'id="fn-stats-{fn.id}"' in body
    assert "1 in the last hour" in body
    assert "1 error" in body
    assert "hello" in body


def test_it_hides_other_teams_functions(client, users, fn):
    client.force_login(users["outsider"])
    r = client.get(url("fn-list"))
    assert r.status_code == 200
    assert f"fn-stats-{fn.id}" not in r.content.decode()


def test_it_requires_login(client, fn):
    r = client.get(url("fn-list"))
    assert r.status_code == 302
    assert r["Location"].startswith(reverse("login"))


def test_it_answers_405_to_post_on_the_list(client, users):
    client.force_login(users["member"])
    assert client.post(url("fn-list")).status_code == 405


def test_it_renders_the_live_stats_fragment(fn):
    from django.template.loader import render_to_string

    from invocations.stats import stats_for

    html = render_to_string("functions/live_stats.html", {"fn": fn, "stats": stats_for(fn)})
    assert html.strip().startswith(f'<td id="fn-stats-{fn.id}"')
    assert 'hx-swap-oob="true"' in html
    assert "Never invoked" in html


# Creating -------------------------------------------------------------------


def test_it_shows_the_create_form_with_hello_world(client, users, team):
    client.force_login(users["member"])
    r = client.get(url("fn-create"))
    assert r.status_code == 200
    body = r.content.decode()
    assert "def lambda_handler" in body
    # One team: the team field is hidden.
    assert f'type="hidden" name="team" value="{team.pk}"' in body


def test_it_creates_a_function_from_inline_code(client, users, team):
    client.force_login(users["member"])
    r = client.post(url("fn-create"), _create_data(team))
    fn = Function.objects.get(name="made")
    assert r.status_code == 302
    assert r["Location"] == reverse("fn-detail", args=[fn.id])
    assert fn.team == team
    assert fn.memory_mb == 256
    assert fn.timeout_s == 5
    assert fn.environment == {"GREETING": "hi", "MODE": "test"}
    assert fn.editable_file == "lambda_function.py"


def test_it_names_the_inline_file_after_the_handler_module(client, users, team):
    client.force_login(users["member"])
    source = "def main(event, context):\n    return 1\n"
    client.post(url("fn-create"), _create_data(team, handler="app.main", source=source))
    assert Function.objects.get(name="made").editable_file == "app.py"


def test_it_creates_a_function_from_a_py_upload(client, users, team):
    client.force_login(users["member"])
    upload = SimpleUploadedFile("lambda_function.py", b"def lambda_handler(e, c):\n    return 2\n")
    r = client.post(url("fn-create"), _create_data(team, code_source="py", source="", code_file=upload))
    assert r.status_code == 302
    assert Function.objects.get(name="made").editable_file == "lambda_function.py"


def test_it_creates_a_function_from_a_zip_upload(client, users, team):
    client.force_login(users["member"])
    data = _zip({"app/handler.py": "def run(e, c):\n    return 3\n", "app/__init__.py": ""})
    upload = SimpleUploadedFile("code.zip", data)
    r = client.post(
        url("fn-create"),
        _create_data(team, code_source="zip", handler="app.handler.run", code_file=upload),
    )
    assert r.status_code == 302
    fn = Function.objects.get(name="made")
    assert fn.editable_file == ""
    assert fn.handler == "app.handler.run"


def test_it_rejects_a_bad_zip_and_stores_nothing(client, users, team):
    client.force_login(users["member"])
    upload = SimpleUploadedFile("code.zip", b"this is not a zip")
    r = client.post(url("fn-create"), _create_data(team, code_source="zip", code_file=upload))
    assert r.status_code == 200
    assert "not a valid zip file" in r.content.decode()
    assert not Function.objects.exists()


def test_it_rejects_a_bad_name_and_stores_nothing(client, users, team):
    client.force_login(users["member"])
    r = client.post(url("fn-create"), _create_data(team, name="no spaces please"))
    assert r.status_code == 200
    assert "The name must be 1 to 64 letters" in r.content.decode()
    assert not Function.objects.exists()


def test_it_creates_a_function_whose_handler_is_missing_with_a_warning(client, users, team):
    # As Lambda's console: saved, and the invoke fails with Runtime.HandlerNotFound.
    client.force_login(users["member"])
    r = client.post(url("fn-create"), _create_data(team, handler="lambda_function.nope"), follow=True)
    assert r.status_code == 200
    body = r.content.decode()
    assert "Warning: The handler function &#x27;nope&#x27; is not defined" in body
    assert Function.objects.get().handler == "lambda_function.nope"


def test_it_rejects_a_taken_name(client, users, team, fn):
    client.force_login(users["member"])
    r = client.post(url("fn-create"), _create_data(team, name="hello"))
    assert "already exists" in r.content.decode()
    assert Function.objects.count() == 1


def test_it_rejects_a_bad_environment_line(client, users, team):
    client.force_login(users["member"])
    r = client.post(url("fn-create"), _create_data(team, environment="JUSTAKEY"))
    assert "Line 1 of the environment is not KEY=value" in r.content.decode()
    assert not Function.objects.exists()


def test_it_refuses_create_to_a_reader(client, users, team):
    client.force_login(users["reader"])
    assert client.get(url("fn-create")).status_code == 403
    assert client.post(url("fn-create"), _create_data(team)).status_code == 403
    assert not Function.objects.exists()


def test_it_refuses_create_in_a_team_not_ones_own(client, users, team, django_user_model):
    from functions.models import Membership, Team

    other = Team.objects.create(name="beta")
    Membership.objects.create(team=other, user=users["outsider"], role="owner")
    client.force_login(users["outsider"])
    r = client.post(url("fn-create"), _create_data(team))
    assert r.status_code == 200
    assert "Select a valid choice" in r.content.decode()
    assert not Function.objects.exists()


def test_it_answers_405_to_put_on_create(client, users):
    client.force_login(users["member"])
    assert client.put(url("fn-create")).status_code == 405


# The detail page ---------------------------------------------------------------


@pytest.mark.parametrize("tab", ["code", "configuration", "test", "invocations"])
def test_it_shows_each_tab(client, users, fn, tab):
    client.force_login(users["reader"])
    r = client.get(url("fn-detail", fn, tab=tab))
    assert r.status_code == 200
    body = r.content.decode()
    assert f'ws-connect="/ws/functions/{fn.id}/"' in body
    assert "<html" in body
    assert 'class="active" aria-current="page">' + tab.capitalize() in body
    assert "Vary" in r and "HX-Request" in r["Vary"]


def test_it_returns_only_the_tab_fragment_to_htmx(client, users, fn):
    client.force_login(users["member"])
    r = client.get(url("fn-detail", fn, tab="configuration"), **HX)
    body = r.content.decode()
    assert r.status_code == 200
    assert "<html" not in body
    assert 'class="tabs"' in body
    assert 'name="memory_mb"' in body


def test_it_shows_the_editable_file(client, users, fn):
    client.force_login(users["member"])
    body = client.get(url("fn-detail", fn)).content.decode()
    assert "print(&quot;hello from&quot;" in body
    assert reverse("fn-code-save", args=[fn.id]) in body
    assert reverse("fn-code-zip", args=[fn.id]) in body


def test_it_opens_a_multi_file_function_on_its_handler_with_a_file_tree(client, users, team):
    from functions import service

    fn = service.create_function(
        team, name="multi", handler="app.run",
        zip_bytes=_zip({"app.py": "def run(e, c):\n    return 'multi'\n", "lib/util.py": "X = 1\n"}),
    )
    client.force_login(users["member"])
    body = client.get(url("fn-detail", fn)).content.decode()
    assert 'data-path="lib/util.py"' in body and 'data-path="lib"' in body
    assert "return &#x27;multi&#x27;" in body
    assert f'action="{reverse("fn-code-save", args=[fn.id])}"' in body
    assert f'name="base" value="{fn.code_id}"' in body
    assert 'data-language="python"' in body


def test_it_hides_write_forms_from_a_reader(client, users, fn):
    client.force_login(users["reader"])
    body = client.get(url("fn-detail", fn, tab="configuration")).content.decode()
    assert "Save configuration" not in body
    assert "Delete function" not in body


def test_it_answers_404_to_strangers(client, users, fn):
    client.force_login(users["outsider"])
    assert client.get(url("fn-detail", fn)).status_code == 404
    assert client.get(url("fn-code-zip", fn)).status_code == 404
    for name in [*CODE_POSTS, "fn-config", "fn-delete", "fn-invoke", "fn-event-save"]:
        assert client.post(url(name, fn), {}).status_code == 404, name


def test_it_answers_404_to_an_unknown_function(client, users):
    client.force_login(users["member"])
    r = client.get(reverse("fn-detail", args=[uuid.uuid4()]))
    assert r.status_code == 404


def test_it_answers_403_to_a_reader_on_every_post(client, users, fn):
    client.force_login(users["reader"])
    for name in [*CODE_POSTS, "fn-config", "fn-delete", "fn-invoke", "fn-event-save"]:
        assert client.post(url(name, fn), {"source": "x", "event": "{}"}).status_code == 403, name
    assert Function.objects.filter(id=fn.id).exists()
    assert not Invocation.objects.exists()


def test_it_answers_405_to_wrong_methods(client, users, fn):
    client.force_login(users["member"])
    assert client.post(url("fn-detail", fn)).status_code == 405
    assert client.post(url("fn-code-zip", fn)).status_code == 405
    for name in [*CODE_POSTS, "fn-config", "fn-delete", "fn-invoke", "fn-event-save"]:
        assert client.get(url(name, fn)).status_code == 405, name


# Code ---------------------------------------------------------------------------


def test_it_downloads_the_code(client, users, fn):
    client.force_login(users["reader"])
    r = client.get(url("fn-code-zip", fn))
    assert r.status_code == 200
    assert 'filename="hello.zip"' in r["Content-Disposition"]
    data = b"".join(r.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["lambda_function.py"]


def test_it_saves_edited_code(client, users, fn):
    client.force_login(users["member"])
    old = fn.code_id
    source = "def lambda_handler(event, context):\n    return 'edited'\n"
    r = client.post(url("fn-code-save", fn), {"source": source, "path": "lambda_function.py", "base": old})
    assert r.status_code == 302
    fn.refresh_from_db()
    assert fn.code_id != old
    with zipfile.ZipFile(fn.code.zip_path) as zf:
        assert zf.read("lambda_function.py").decode() == source


def test_it_saves_edited_code_for_htmx_with_the_tab_fragment(client, users, fn):
    client.force_login(users["member"])
    source = "def lambda_handler(event, context):\n    return 'edited'\n"
    r = client.post(url("fn-code-save", fn), {"source": source, **_file(fn)}, **HX)
    assert r.status_code == 200
    body = r.content.decode()
    assert "<html" not in body
    assert "Saved lambda_function.py." in body


def test_it_saves_an_edit_that_drops_the_handler_with_a_warning(client, users, fn):
    client.force_login(users["member"])
    old = fn.code_id
    r = client.post(url("fn-code-save", fn), {"source": "def other(e, c):\n    pass\n", **_file(fn)}, **HX)
    assert r.status_code == 200
    body = r.content.decode()
    assert "Saved lambda_function.py. Warning: The handler function" in body
    assert "is not defined in lambda_function.py" in body
    fn.refresh_from_db()
    assert fn.code_id != old


def test_it_uploads_a_new_zip(client, users, fn):
    client.force_login(users["member"])
    data = _zip({"lambda_function.py": "def lambda_handler(e, c):\n    return 9\n", "data.txt": "x"})
    r = client.post(url("fn-code-upload", fn), {"code_file": SimpleUploadedFile("c.zip", data)})
    assert r.status_code == 302
    fn.refresh_from_db()
    assert fn.editable_file == ""


def test_it_rejects_a_bad_zip_upload_and_keeps_the_code(client, users, fn):
    client.force_login(users["member"])
    old = fn.code_id
    r = client.post(url("fn-code-upload", fn), {"code_file": SimpleUploadedFile("c.zip", b"junk")})
    assert r.status_code == 200
    assert "not a valid zip file" in r.content.decode()
    fn.refresh_from_db()
    assert fn.code_id == old


# Configuration -----------------------------------------------------------------


def _config(**overrides):
    data = {
        "handler": "lambda_function.lambda_handler",
        "memory_mb": "512",
        "timeout_s": "30",
        "description": "changed",
        "environment": "AA=1\nBB=two",
    }
    data.update(overrides)
    return data


def test_it_saves_the_configuration(client, users, fn):
    client.force_login(users["member"])
    old_revision = fn.revision
    r = client.post(url("fn-config", fn), _config())
    assert r.status_code == 302
    fn.refresh_from_db()
    assert (fn.memory_mb, fn.timeout_s, fn.description) == (512, 30, "changed")
    assert fn.environment == {"AA": "1", "BB": "two"}
    assert fn.revision != old_revision


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("memory_mb", "64", "Memory must be between 128 and 10240 MB"),
        ("timeout_s", "901", "The timeout must be between 1 and 900 seconds"),
        ("handler", "lambda function", "no spaces"),
        ("environment", "AWS_REGION=x", "is reserved"),
        ("environment", "no equals sign", "is not KEY=value"),
    ],
)
def test_it_saves_no_configuration_when_one_value_is_bad(client, users, fn, field, value, message):
    client.force_login(users["member"])
    r = client.post(url("fn-config", fn), _config(**{field: value}), **HX)
    assert r.status_code == 200
    assert message in r.content.decode()
    fn.refresh_from_db()
    assert (fn.memory_mb, fn.timeout_s, fn.description, fn.environment) == (128, 3, "", {})


def test_it_saves_a_handler_the_code_lacks_with_a_warning(client, users, fn):
    client.force_login(users["member"])
    r = client.post(url("fn-config", fn), _config(handler="other.handler"), **HX)
    assert r.status_code == 200
    assert "Warning: The handler module &#x27;other&#x27; is not in the code" in r.content.decode()
    fn.refresh_from_db()
    assert (fn.handler, fn.memory_mb) == ("other.handler", 512)


def test_it_deletes_a_function(client, users, fn):
    client.force_login(users["member"])
    r = client.post(url("fn-delete", fn))
    assert r.status_code == 302
    assert r["Location"] == reverse("fn-list")
    assert not Function.objects.exists()


# Test tab and invoking --------------------------------------------------------------


def test_it_invokes_and_returns_the_result_panel_at_once(
    client, users, fn, no_broker, handed_over
):
    client.force_login(users["member"])
    r = client.post(url("fn-invoke", fn), {"event": '{"a": 1}'}, **HX)
    assert r.status_code == 200
    # A sync call: handed to a worker by the sync lane, with no row before
    # it runs, and not as a Celery task.
    [request] = handed_over.calls
    assert (request.source, json.loads(request.event)) == ("console", {"a": 1})
    assert not Invocation.objects.exists() and no_broker == []
    body = r.content.decode()
    assert "<html" not in body
    assert f'id="status-{request.request_id}"' in body
    assert 'data-status="queued"' in body
    assert f'<pre id="logs-{request.request_id}"' in body
    assert f'id="result-{request.request_id}"' in body


def test_a_plain_invoke_goes_back_to_the_test_tab(client, users, fn, no_broker, handed_over):
    client.force_login(users["member"])
    r = client.post(url("fn-invoke", fn), {"event": "{}"})
    assert len(handed_over.calls) == 1
    assert r.status_code == 302
    assert r["Location"] == url("fn-detail", fn) + "?tab=test"


def test_it_refuses_an_event_that_is_not_json(client, users, fn, no_broker):
    client.force_login(users["member"])
    r = client.post(url("fn-invoke", fn), {"event": "{not json"}, **HX)
    assert r.status_code == 200
    assert "The event is not valid JSON" in r.content.decode()
    assert not Invocation.objects.exists()


def test_it_saves_a_test_event_and_loads_it(client, users, fn):
    client.force_login(users["member"])
    r = client.post(url("fn-event-save", fn), {"event": '{"k": "v"}', "save_as": "my event"}, **HX)
    assert r.status_code == 200
    assert "Saved the test event my event." in r.content.decode()
    assert models.TestEvent.objects.get(function=fn, name="my event").payload == '{"k": "v"}'
    body = client.get(url("fn-detail", fn, tab="test", event="my%20event")).content.decode()
    assert "{&quot;k&quot;: &quot;v&quot;}" in body
    assert '<option value="my event" selected>' in body


def test_it_needs_a_name_and_json_to_save_a_test_event(client, users, fn):
    client.force_login(users["member"])
    r = client.post(url("fn-event-save", fn), {"event": "{}", "save_as": ""}, **HX)
    assert "Give the event a name" in r.content.decode()
    r = client.post(url("fn-event-save", fn), {"event": "nope", "save_as": "x"}, **HX)
    assert "not valid JSON" in r.content.decode()
    assert not models.TestEvent.objects.exists()


# Invocations tab -------------------------------------------------------------------


def test_it_lists_and_filters_invocations(client, users, fn):
    ok = Invocation.objects.create(function=fn, status="succeeded", duration_ms=1.5)
    bad = Invocation.objects.create(function=fn, status="failed")
    client.force_login(users["member"])
    body = client.get(url("fn-detail", fn, tab="invocations")).content.decode()
    assert f'id="inv-row-{ok.request_id}"' in body
    assert f'id="inv-row-{bad.request_id}"' in body
    assert 'id="inv-rows"' in body

    r = client.get(url("fn-detail", fn, tab="invocations", status="failed"),
                   HTTP_HX_TARGET="inv-table", **HX)
    body = r.content.decode()
    assert 'class="tabs"' not in body
    assert f'id="inv-row-{bad.request_id}"' in body
    assert f'id="inv-row-{ok.request_id}"' not in body
    # A filtered list takes the live rows that match its filter, and keeps
    # the filter in the address bar.
    assert 'data-live-status="failed"' in body
    assert r["HX-Push-Url"] == url("fn-detail", fn) + "?tab=invocations&status=failed"


def test_it_paginates_invocations(client, users, fn):
    Invocation.objects.bulk_create(Invocation(function=fn) for _ in range(55))
    client.force_login(users["member"])
    body = client.get(url("fn-detail", fn, tab="invocations")).content.decode()
    assert body.count('id="inv-row-') == 50
    assert "Page 1 of 2" in body
    body = client.get(url("fn-detail", fn, tab="invocations", page=2)).content.decode()
    assert body.count('id="inv-row-') == 5


# Bad input through the forms ----------------------------------------------------------


@pytest.mark.parametrize("field,value,message", [
    ("memory_mb", "1e400", "Enter a whole number."),
    ("memory_mb", "lots", "Enter a whole number."),
    ("timeout_s", "9" * 5000, "Enter a whole number."),
    ("environment", "A=1", "is not valid"),
    ("environment", "GREETING=hi\x00", "Null characters are not allowed."),
    ("environment", "AA=1\nAA=2", "sets &quot;AA&quot; again"),
    ("description", "d" * 257, "the limit is 256"),
    ("handler", "lambda_function.lambda_handler\u2028x", "module.function"),
])
def test_the_configuration_form_rejects_bad_values(client, users, fn, field, value, message):
    client.force_login(users["member"])
    r = client.post(url("fn-config", fn), _config(**{field: value}), **HX)
    assert r.status_code == 200
    assert message in r.content.decode()
    fn.refresh_from_db()
    assert (fn.memory_mb, fn.timeout_s, fn.description, fn.environment) == (128, 3, "", {})


def test_a_zip_whose_path_is_a_file_and_a_folder_is_a_form_error(client, users, team, settings):
    client.force_login(users["member"])
    data = _zip({"lambda_function.py": "def lambda_handler(e, c): pass\n", "x": "a", "x/y.py": "b"})
    upload = SimpleUploadedFile("code.zip", data)
    settings.STRATUS_CODE_DIR.mkdir(parents=True, exist_ok=True)
    before = set(settings.STRATUS_CODE_DIR.iterdir())
    r = client.post(url("fn-create"), _create_data(team, code_source="zip", code_file=upload))
    assert r.status_code == 200
    assert "is a file, but other entries put files inside it" in r.content.decode()
    assert set(settings.STRATUS_CODE_DIR.iterdir()) == before
    assert not Function.objects.exists()


def test_uploads_over_50_mb_are_refused_before_they_are_read(client, users, team, fn, monkeypatch):
    monkeypatch.setattr("functions.forms.MAX_ZIPPED", 10)
    client.force_login(users["member"])
    upload = SimpleUploadedFile("code.zip", b"x" * 11)
    r = client.post(url("fn-create"), _create_data(team, code_source="zip", code_file=upload))
    assert "the limit for uploaded code is 50 MB" in r.content.decode()
    upload = SimpleUploadedFile("code.zip", b"x" * 11)
    r = client.post(url("fn-code-upload", fn), {"code_file": upload}, **HX)
    assert "the limit for uploaded code is 50 MB" in r.content.decode()
    assert Function.objects.count() == 1


def test_a_deeply_nested_test_event_is_a_form_error(client, users, fn):
    client.force_login(users["member"])
    r = client.post(url("fn-event-save", fn), {"event": "[" * 1000 + "]" * 1000, "save_as": "deep"}, **HX)
    assert r.status_code == 200
    assert "deeper than 256 levels" in r.content.decode()
    assert not fn.test_events.exists()
