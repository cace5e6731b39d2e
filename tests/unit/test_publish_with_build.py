"""Publish=True on CreateFunction / UpdateFunctionCode with code that needs
a dependency build, and a configuration update after a failed build,
through a real boto3 client (tests.unit.asgi_client, as test_lambda_api):
the version is published Pending with the submitted code and becomes
Active with the built code (or Failed), and a successful
UpdateFunctionConfiguration clears a failed build's LastUpdateStatus, so
boto3's waiters pass. The installer is test_dependencies' small script;
tests/integration/test_dependencies_real.py runs the real pip."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError, WaiterError
from django.urls import reverse

from awsapi import errors
from functions import dependencies, dependency_build, qualifiers, versions
from functions.models import DependencyBuild, Function, FunctionVersion
from invocations import dispatch
from tests.integration.helpers import zip_of
from tests.unit.test_dependencies import HANDLER, WITH_REQUIREMENTS, fake_installer, queued  # noqa: F401
from tests.unit.test_lambda_api import ROLE, error_code

ONE = {"app.py": "def handler(e, c): return 1\n"}


def sha_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def create(lam, name, files, **extra):
    return lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": zip_of(files)}, **extra)


def waiter(lam, name):
    w = lam.get_waiter(name)
    return lambda **kw: w.wait(WaiterConfig={"Delay": 1, "MaxAttempts": 2}, **kw)


def test_create_with_publish_publishes_a_pending_version_that_the_build_makes_active(
        lam, team, queued, fake_installer):  # noqa: F811
    code = zip_of(WITH_REQUIREMENTS)
    answer = lam.create_function(FunctionName="pub", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                 Code={"ZipFile": code}, Publish=True)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (answer["Version"], answer["State"], answer["StateReasonCode"]) == ("1", "Pending", "Creating")
    assert answer["LastUpdateStatus"] == "InProgress"
    assert answer["FunctionArn"].endswith(":function:pub:1")
    assert answer["CodeSha256"] == sha_b64(code)
    fn = Function.objects.get(team=team, name="pub")
    build = DependencyBuild.objects.get()
    version = FunctionVersion.objects.get(function=fn, version=1)
    assert (version.state, version.code_id) == ("Pending", build.source_id)
    # Nothing runs without its packages: the version is refused meanwhile.
    pending = qualifiers.resolve(fn, "1")
    assert dispatch.not_ready(pending)["errorMessage"].endswith("state: Pending")
    shown = lam.get_function_configuration(FunctionName="pub", Qualifier="1")
    assert (shown["State"], shown["LastUpdateStatus"]) == ("Pending", "InProgress")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="pub")["Versions"]] == [
        "$LATEST", "1"]
    pending_revision = version.revision

    assert dependency_build.run(str(build.pk)) == "Successful"
    build.refresh_from_db()
    version.refresh_from_db()
    assert (version.state, version.code_id) == ("Active", build.result_id)
    assert version.revision != pending_revision  # no process keeps the pending copy
    waiter(lam, "function_active_v2")(FunctionName="pub", Qualifier="1")
    waiter(lam, "function_updated_v2")(FunctionName="pub", Qualifier="1")
    shown = lam.get_function_configuration(FunctionName="pub", Qualifier="1")
    assert (shown["State"], shown["LastUpdateStatus"], shown["Version"]) == ("Active", "Successful", "1")
    assert "StateReason" not in shown and shown["CodeSha256"] == sha_b64(code)  # as uploaded
    assert dispatch.not_ready(qualifiers.resolve(Function.objects.get(pk=fn.pk), "1")) is None
    # $LATEST is the same code: publishing again gives version 1.
    assert lam.publish_version(FunctionName="pub")["Version"] == "1"


def test_update_code_with_publish_publishes_the_new_code_and_a_failed_build_fails_the_version(
        lam, team, queued, fake_installer):  # noqa: F811
    create(lam, "upd", ONE)
    assert lam.publish_version(FunctionName="upd")["Version"] == "1"
    fn = Function.objects.get(team=team, name="upd")
    old_code = fn.code_id
    fake_installer["script"] = (
        "import sys; print('ERROR: No matching distribution found for nope-xyz'); sys.exit(1)")
    answer = lam.update_function_code(
        FunctionName="upd", Publish=True,
        ZipFile=zip_of({**WITH_REQUIREMENTS, "requirements.txt": "# update_code_with_publish\nnope-xyz\n"}))
    assert (answer["Version"], answer["LastUpdateStatus"], answer["State"]) == ("2", "InProgress", "Pending")
    latest = lam.get_function_configuration(FunctionName="upd")
    assert (latest["State"], latest["LastUpdateStatus"]) == ("Active", "InProgress")
    # The old code runs meanwhile; version 2 waits for the new one.
    assert Function.objects.get(pk=fn.pk).code_id == old_code
    assert dispatch.not_ready(qualifiers.resolve(Function.objects.get(pk=fn.pk), "2")) is not None

    assert dependency_build.run(str(Function.objects.get(pk=fn.pk).last_build_id)) == "Failed"
    two = lam.get_function_configuration(FunctionName="upd", Qualifier="2")
    assert (two["State"], two["LastUpdateStatus"]) == ("Failed", "Failed")
    assert two["StateReasonCode"] == "DependencyError"
    assert "nope-xyz" in two["StateReason"] and "nope-xyz" in two["LastUpdateStatusReason"]
    with pytest.raises(WaiterError, match="Failed"):
        waiter(lam, "function_active_v2")(FunctionName="upd", Qualifier="2")
    assert dispatch.not_ready(qualifiers.resolve(Function.objects.get(pk=fn.pk), "2")) is not None
    # Version 1 and $LATEST's code are untouched; $LATEST says why the update failed.
    assert Function.objects.get(pk=fn.pk).code_id == old_code
    assert lam.get_function_configuration(FunctionName="upd", Qualifier="1")["State"] == "Active"
    # PublishVersion now freezes the code $LATEST kept, as a new version (2 stays Failed).
    assert lam.publish_version(FunctionName="upd")["Version"] == "3"


def test_a_configuration_update_after_a_failed_build_is_successful(lam, team, queued, fake_installer):  # noqa: F811
    create(lam, "cfg", ONE)
    fn = Function.objects.get(team=team, name="cfg")
    old_code = fn.code_id
    fake_installer["script"] = "import sys; sys.exit(2)"
    lam.update_function_code(FunctionName="cfg", ZipFile=zip_of(
        {**WITH_REQUIREMENTS, "requirements.txt": "# configuration_update_after_failed\nnope-xyz\n"}))
    assert dependency_build.run(str(Function.objects.get(pk=fn.pk).last_build_id)) == "Failed"
    failed = lam.get_function_configuration(FunctionName="cfg")
    assert (failed["LastUpdateStatus"], failed["LastUpdateStatusReasonCode"]) == ("Failed", "DependencyError")

    answer = lam.update_function_configuration(FunctionName="cfg", MemorySize=256)
    assert (answer["LastUpdateStatus"], answer["State"]) == ("Successful", "Active")
    assert answer["MemorySize"] == 256
    assert "LastUpdateStatusReason" not in answer and "LastUpdateStatusReasonCode" not in answer
    waiter(lam, "function_updated_v2")(FunctionName="cfg")
    shown = lam.get_function_configuration(FunctionName="cfg")
    assert (shown["LastUpdateStatus"], shown["MemorySize"]) == ("Successful", 256)
    assert Function.objects.get(pk=fn.pk).code_id == old_code  # it keeps its working code


def test_a_configuration_update_leaves_a_failed_create_failed(lam, team, queued, fake_installer):  # noqa: F811
    fake_installer["script"] = "import sys; sys.exit(2)"
    create(lam, "bad", {**WITH_REQUIREMENTS, "requirements.txt": "# failed_create_stays_failed\nnope\n"})
    assert dependency_build.run(str(Function.objects.get(team=team, name="bad").last_build_id)) == "Failed"
    answer = lam.update_function_configuration(FunctionName="bad", Timeout=9)
    # It has no working code: still Failed (not invocable), the update itself worked.
    assert (answer["State"], answer["LastUpdateStatus"]) == ("Failed", "Successful")
    assert dispatch.not_ready(Function.objects.get(team=team, name="bad")) is not None
    # Nor is it published: a version would freeze the code without its packages.
    with pytest.raises(ClientError) as refused:
        lam.publish_version(FunctionName="bad")
    assert error_code(refused) == "ResourceConflictException"
    assert "state: Failed" in refused.value.response["Error"]["Message"]
    assert not FunctionVersion.objects.exists()


def test_a_refused_publish_stores_nothing(lam, team, queued, monkeypatch):  # noqa: F811
    def refuse(fn, **kwargs):
        raise errors.conflict("refused for the test")

    monkeypatch.setattr(versions, "publish", refuse)
    with pytest.raises(ClientError) as e:
        create(lam, "none", {**WITH_REQUIREMENTS, "requirements.txt": "# refused_publish\ntabulate\n"},
               Publish=True)
    assert error_code(e) == "ResourceConflictException"
    assert not Function.objects.filter(team=team, name="none").exists()
    assert not DependencyBuild.objects.exists() and queued == []
    create(lam, "kept", ONE)
    before = Function.objects.get(team=team, name="kept")
    with pytest.raises(ClientError):
        lam.update_function_code(FunctionName="kept", Publish=True, ZipFile=zip_of({"app.py": HANDLER}))
    after = Function.objects.get(pk=before.pk)
    assert (after.code_id, after.revision, after.last_update_status) == (
        before.code_id, before.revision, before.last_update_status)
    assert not FunctionVersion.objects.exists()


def test_the_versions_tab_shows_a_version_waiting_for_its_build(client, users, lam, team, queued):  # noqa: F811
    create(lam, "tab", {**WITH_REQUIREMENTS, "requirements.txt": "# versions_tab_pending\ntabulate\n"},
           Publish=True)
    fn = Function.objects.get(team=team, name="tab")
    client.force_login(users["owner"])
    tab = client.get(reverse("fn-detail", args=[fn.id]) + "?tab=versions").content.decode()
    assert 'data-state="Pending"' in tab and dependencies.VERSION_CREATING_REASON.split(":")[0] in tab
