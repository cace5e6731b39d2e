"""createapikey and invoke, with the waiter replaced so no worker is needed."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from functions import code as codestore
from functions import service
from functions.models import ApiKey, Team
from invocations.models import Invocation


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# createapikey ------------------------------------------------------------


def test_it_prints_a_key_in_credentials_file_form(users, team):
    out, _ = run("createapikey", "member")
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("aws_access_key_id = AKIA")
    assert lines[1].startswith("aws_secret_access_key = ")
    key = ApiKey.objects.get(access_key_id=lines[0].split(" = ")[1])
    assert key.secret == lines[1].split(" = ")[1]
    assert (key.user, key.team) == (users["member"], team)


def test_it_issues_a_key_for_a_named_team(users, team):
    run("createapikey", "member", "--team", "alpha")
    assert ApiKey.objects.get().team == team


@pytest.mark.parametrize(
    "args,message",
    [
        (["nobody"], "no user named 'nobody'"),
        (["outsider"], "in no team"),
        (["member", "--team", "nope"], "no team named 'nope'"),
        (["outsider", "--team", "alpha"], "not a member of the team alpha"),
    ],
)
def test_it_refuses_bad_users_and_teams(users, args, message):
    with pytest.raises(CommandError, match=message):
        run("createapikey", *args)
    assert not ApiKey.objects.exists()


# invoke ------------------------------------------------------------------


@pytest.fixture
def finish_with(handed_over):
    """Sync calls are handed over (conftest's fake) and answered with these."""
    handed_over.answer = {"status": "succeeded", "result": '{"ok": true}', "logs_tail": "hello\nREPORT ...\n"}
    return handed_over


def test_it_invokes_and_prints_the_result(make_function, finish_with):
    make_function("hello")
    out, err = run("invoke", "hello", "--payload", '{"a": 1}', "--log-tail")
    assert json.loads(out) == {"ok": True}
    assert "hello" in err
    [request] = finish_with.calls
    assert (request.source, request.event) == ("cli", '{"a": 1}')


def test_it_exits_non_zero_on_a_function_error(make_function, handed_over):
    make_function("hello")
    error = {"errorType": "ValueError", "errorMessage": "boom", "stackTrace": []}
    handed_over.answer = {"status": "failed", "error": error, "logs_tail": "Traceback\n"}
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="ended as failed"):
        call_command("invoke", "hello", stdout=out, stderr=err)
    assert json.loads(out.getvalue()) == error
    assert "Traceback" in err.getvalue()


def test_it_rejects_a_payload_that_is_not_json(make_function, finish_with):
    make_function("hello")
    with pytest.raises(CommandError, match="--payload is not valid JSON"):
        run("invoke", "hello", "--payload", "{nope")
    assert not Invocation.objects.exists() and finish_with.calls == []


def test_it_queues_an_async_invocation(make_function, finish_with):
    make_function("hello")
    out, _ = run("invoke", "hello", "--async")
    inv = Invocation.objects.get()
    assert json.loads(out) == {"StatusCode": 202, "RequestId": str(inv.request_id)}
    assert (inv.status, inv.invocation_type, inv.source) == ("queued", "Event", "cli")
    assert finish_with.calls == []


def test_it_names_a_missing_function_and_asks_for_a_team_on_a_clash(make_function, finish_with,
                                                                      team):
    with pytest.raises(CommandError, match="no function named 'hello'"):
        run("invoke", "hello")
    make_function("hello")
    other = Team.objects.create(name="beta")
    service.create_function(other, name="hello", handler="lambda_function.lambda_handler",
                            zip_bytes=codestore.zip_single_file("lambda_function.py",
                                                                "def lambda_handler(e, c): pass"))
    with pytest.raises(CommandError, match="choose one with --team"):
        run("invoke", "hello")
    run("invoke", "hello", "--team", "beta")
    assert finish_with.calls[-1].function_id == str(other.functions.get().id)


# createadmin -------------------------------------------------------------


@pytest.fixture
def admin_env(monkeypatch):
    for name in ("STRATUS_ADMIN_USER", "STRATUS_ADMIN_PASSWORD", "STRATUS_ADMIN_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_createadmin_creates_the_admin_with_the_default_password(db, admin_env, django_user_model):
    out, _ = run("createadmin")
    assert out.strip() == (
        "Admin user created: admin / stratus-admin "
        "(the default password; set STRATUS_ADMIN_PASSWORD to choose another)"
    )
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("stratus-admin")
    assert Team.objects.get(name="default").membership_set.get(user=admin).role == "owner"


def test_createadmin_applies_an_explicit_password_to_an_existing_admin(db, admin_env, django_user_model):
    run("createadmin")  # e.g. by `make test`, with the default
    admin_env.setenv("STRATUS_ADMIN_PASSWORD", "chosen-later-42")
    out, _ = run("createadmin")
    assert out.strip() == (
        "Admin user: admin / chosen-later-42 (exists; password set from STRATUS_ADMIN_PASSWORD)"
    )
    assert django_user_model.objects.get(username="admin").check_password("chosen-later-42")


def test_createadmin_reads_the_password_file(db, admin_env, django_user_model, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("from-a-file-7\n")
    admin_env.setenv("STRATUS_ADMIN_PASSWORD_FILE", str(secret))
    out, _ = run("createadmin")
    assert "admin / from-a-file-7 (password from STRATUS_ADMIN_PASSWORD)" in out
    assert django_user_model.objects.get(username="admin").check_password("from-a-file-7")
    admin_env.setenv("STRATUS_ADMIN_PASSWORD_FILE", str(tmp_path / "missing"))
    cannot = "STRATUS_ADMIN_PASSWORD_FILE names '.*missing', which cannot be read: No such file"
    with pytest.raises(CommandError, match=cannot):
        run("createadmin")


@pytest.mark.parametrize("value", [None, ""])
def test_createadmin_leaves_a_password_alone_without_an_explicit_one(
    db, admin_env, django_user_model, value
):
    django_user_model.objects.create_superuser("admin", password="changed-in-the-ui")
    if value is not None:
        admin_env.setenv("STRATUS_ADMIN_PASSWORD", value)
    out, _ = run("createadmin")
    assert out.strip() == (
        "Admin user: admin (exists; password unchanged: set STRATUS_ADMIN_PASSWORD to change it)"
    )
    assert "changed-in-the-ui" not in out and "stratus-admin" not in out
    assert django_user_model.objects.get(username="admin").check_password("changed-in-the-ui")


def test_createadmin_says_when_the_user_is_not_a_superuser(db, admin_env, django_user_model):
    django_user_model.objects.create_user("admin", password="x")
    admin_env.setenv("STRATUS_ADMIN_PASSWORD", "new-one-1")
    out, _ = run("createadmin")
    assert "exists but is not a superuser" in out
    assert not django_user_model.objects.get(username="admin").is_superuser
