"""Dependency builds on the real stack, driven by boto3 as Lambda users do:
a python3.11 function whose requirements.txt names a small pure-Python
package that the runtime image lacks (tabulate) is Pending, built by the
real Celery worker with the real pip from the registries this machine
reaches, then Active and importing it in a real container; a requirement
that does not exist fails the update with the log and the function keeps
running its previous code; boto3's waiters function_active_v2 and
function_updated_v2 follow the states."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.integration.helpers import invoke_json, zip_of

pytestmark = pytest.mark.integration

USES_TABULATE = (
    "import tabulate\n\n"
    "def handler(event, context):\n"
    "    return {'module': tabulate.__file__, 'table': tabulate.tabulate([[1, 2]], tablefmt='plain')}\n"
)
PLAIN = "def handler(event, context):\n    return {'version': event.get('v', 'plain')}\n"
WAIT = {"Delay": 1, "MaxAttempts": 240}


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


def create(lam, name: str, files: dict[str, str]):
    return lam.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Code={"ZipFile": zip_of(files)}, Timeout=10,
    )


def test_a_function_with_requirements_is_pending_then_active_and_imports_the_package(stack, lam):
    code = zip_of({"app.py": USES_TABULATE, "requirements.txt": "tabulate==0.9.0\n"})
    made = lam.create_function(
        FunctionName="deps-ok", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Code={"ZipFile": code}, Timeout=10,
    )
    assert made["State"] == "Pending" and made["StateReasonCode"] == "Creating"
    assert made["LastUpdateStatus"] == "InProgress"
    # Lambda's CodeSha256: the uploaded zip's, packages or not.
    assert made["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    try:
        lam.invoke(FunctionName="deps-ok", Payload=b"{}")
    except ClientError as e:  # the build may already be done on a fast machine
        assert e.response["Error"]["Code"] == "ResourceConflictException"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert "currently in the following state: Pending" in e.response["Error"]["Message"]
    lam.get_waiter("function_active_v2").wait(FunctionName="deps-ok", WaiterConfig=WAIT)
    config = lam.get_function(FunctionName="deps-ok")["Configuration"]
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert config["CodeSha256"] == made["CodeSha256"]
    resp, body = invoke_json(lam, "deps-ok", {})
    assert "FunctionError" not in resp, body
    assert body == {"module": "/var/task/tabulate/__init__.py", "table": "1  2"}
    build_log = stack.shell(
        "from functions.models import DependencyBuild\n"
        "print(DependencyBuild.objects.get(function__name='deps-ok').log)"
    )
    assert "Successfully installed tabulate-0.9.0" in build_log
    # The same code again: the finished build is reused, no second install.
    again = lam.create_function(
        FunctionName="deps-ok-again", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Code={"ZipFile": code}, Timeout=10,
    )
    assert again["State"] == "Active"
    # Builds of this code only: other tests on the shared stack build theirs.
    source = hashlib.sha256(code).hexdigest()
    assert stack.shell(
        "from functions.models import DependencyBuild\n"
        f"print('builds:', DependencyBuild.objects.filter(source_id='{source}').count())"
    ).strip().endswith("builds: 1")
    assert invoke_json(lam, "deps-ok-again", {})[1]["table"] == "1  2"


def test_a_failed_requirement_keeps_the_previous_code_running(stack, lam):
    create(lam, "deps-bad", {"app.py": PLAIN})
    lam.get_waiter("function_active_v2").wait(FunctionName="deps-bad", WaiterConfig=WAIT)
    assert invoke_json(lam, "deps-bad", {"v": "old"})[1] == {"version": "old"}
    updated = lam.update_function_code(
        FunctionName="deps-bad",
        ZipFile=zip_of({"app.py": USES_TABULATE, "requirements.txt": "stratus-no-such-package-xyz==1.0\n"}),
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    # An update in progress: a second one is refused, the old code still runs.
    with pytest.raises(ClientError) as refused:
        lam.update_function_code(FunctionName="deps-bad", ZipFile=zip_of({"app.py": PLAIN + "#\n"}))
    if refused.value.response["Error"]["Code"] != "ResourceConflictException":
        raise refused.value
    assert "An update is in progress for resource" in refused.value.response["Error"]["Message"]
    with pytest.raises(WaiterError) as failed:
        lam.get_waiter("function_updated_v2").wait(FunctionName="deps-bad", WaiterConfig=WAIT)
    assert "Failed" in str(failed.value)
    config = lam.get_function_configuration(FunctionName="deps-bad")
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Failed")
    assert config["LastUpdateStatusReasonCode"] == "DependencyError"
    assert "stratus-no-such-package-xyz" in config["LastUpdateStatusReason"]
    build_log = stack.shell(
        "from functions.models import DependencyBuild\n"
        "print(DependencyBuild.objects.get(function__name='deps-bad').log)"
    )
    assert "No matching distribution found for stratus-no-such-package-xyz" in build_log
    # The function keeps its previous code.
    resp, body = invoke_json(lam, "deps-bad", {"v": "still old"})
    assert "FunctionError" not in resp and body == {"version": "still old"}
    # A configuration update afterwards succeeds and says so (Lambda): the
    # failed build's status is cleared, so function_updated_v2 passes.
    changed = lam.update_function_configuration(FunctionName="deps-bad", MemorySize=256)
    assert (changed["LastUpdateStatus"], changed["State"]) == ("Successful", "Active")
    lam.get_waiter("function_updated_v2").wait(FunctionName="deps-bad", WaiterConfig=WAIT)
    assert "LastUpdateStatusReason" not in lam.get_function_configuration(FunctionName="deps-bad")
    assert invoke_json(lam, "deps-bad", {"v": "after"})[1] == {"version": "after"}
    # A good update afterwards goes through, and the waiter sees it.
    lam.update_function_code(FunctionName="deps-bad", ZipFile=zip_of({
        "app.py": USES_TABULATE, "requirements.txt": "tabulate==0.9.0\n# for deps-bad\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="deps-bad", WaiterConfig=WAIT)
    assert invoke_json(lam, "deps-bad", {})[1]["table"] == "1  2"


def test_a_failed_create_is_failed_with_its_reason(stack, lam):
    made = create(lam, "deps-create-bad", {"app.py": USES_TABULATE,
                                           "requirements.txt": "stratus-no-such-package-xyz\n"})
    assert made["State"] == "Pending"
    with pytest.raises(WaiterError):
        lam.get_waiter("function_active_v2").wait(FunctionName="deps-create-bad", WaiterConfig=WAIT)
    config = lam.get_function_configuration(FunctionName="deps-create-bad")
    assert (config["State"], config["StateReasonCode"]) == ("Failed", "DependencyError")
    assert "No matching distribution found" in config["StateReason"]
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="deps-create-bad", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"
    assert "state: Failed" in refused.value.response["Error"]["Message"]


USES_TABULATE_V2 = USES_TABULATE.replace("'module'", "'v2'")


def test_publish_with_a_build_publishes_a_version_that_runs_the_built_dependency(stack, lam):
    # The comment line makes this code this test's own (the shared stack
    # reuses a build of the same code hash).
    requirements = "tabulate==0.9.0\n# test_publish_with_a_build_publishes_a_version\n"
    made = lam.create_function(
        FunctionName="deps-pub", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="app.handler", Timeout=10, Publish=True,
        Code={"ZipFile": zip_of({"app.py": USES_TABULATE, "requirements.txt": requirements})},
    )
    assert (made["Version"], made["State"], made["LastUpdateStatus"]) == ("1", "Pending", "InProgress")
    assert made["FunctionArn"].endswith(":function:deps-pub:1")
    lam.get_waiter("function_active_v2").wait(FunctionName="deps-pub", Qualifier="1", WaiterConfig=WAIT)
    one = lam.get_function_configuration(FunctionName="deps-pub", Qualifier="1")
    assert (one["State"], one["LastUpdateStatus"]) == ("Active", "Successful")
    assert one["CodeSha256"] == made["CodeSha256"]  # as uploaded
    resp, body = invoke_json(lam, "deps-pub", {}, Qualifier="1")
    assert "FunctionError" not in resp, body
    assert resp["ExecutedVersion"] == "1"
    assert body == {"module": "/var/task/tabulate/__init__.py", "table": "1  2"}
    # UpdateFunctionCode with Publish: version 2 waits for its build while
    # version 1 and $LATEST keep running.
    updated = lam.update_function_code(
        FunctionName="deps-pub", Publish=True,
        ZipFile=zip_of({"app.py": USES_TABULATE_V2, "requirements.txt": requirements + "# v2\n"}),
    )
    assert (updated["Version"], updated["LastUpdateStatus"]) == ("2", "InProgress")
    assert invoke_json(lam, "deps-pub", {}, Qualifier="1")[1]["table"] == "1  2"
    lam.get_waiter("function_updated_v2").wait(FunctionName="deps-pub", Qualifier="2", WaiterConfig=WAIT)
    lam.get_waiter("function_updated_v2").wait(FunctionName="deps-pub", WaiterConfig=WAIT)
    resp, body = invoke_json(lam, "deps-pub", {}, Qualifier="2")
    assert "FunctionError" not in resp, body
    assert resp["ExecutedVersion"] == "2"
    assert body == {"v2": "/var/task/tabulate/__init__.py", "table": "1  2"}
    assert invoke_json(lam, "deps-pub", {}, Qualifier="1")[1]["table"] == "1  2"
    versions = lam.list_versions_by_function(FunctionName="deps-pub")["Versions"]
    assert [(v["Version"], v["State"]) for v in versions] == [
        ("$LATEST", "Active"), ("1", "Active"), ("2", "Active")]


def test_a_version_whose_build_fails_fails_its_provisioned_concurrency_and_its_events(stack, lam):
    from tests.integration.helpers import wait_for

    create(lam, "deps-pubfail", {"app.py": PLAIN})
    lam.get_waiter("function_active_v2").wait(FunctionName="deps-pubfail", WaiterConfig=WAIT)
    updated = lam.update_function_code(
        FunctionName="deps-pubfail", Publish=True,
        ZipFile=zip_of({"app.py": USES_TABULATE,
                        "requirements.txt": "stratus-no-such-package-pubfail==1.0\n"}),
    )
    assert (updated["Version"], updated["State"]) == ("1", "Pending")
    # Both asked for while the version waits for its build (most likely:
    # a failing pip is quick; either way the outcome below is the same).
    put = lam.put_provisioned_concurrency_config(
        FunctionName="deps-pubfail", Qualifier="1", ProvisionedConcurrentExecutions=1)
    assert put["Status"] in ("IN_PROGRESS", "FAILED")
    # Invoke is refused while Pending (Lambda); an async source is accepted
    # and its event held: InvokeAsync on the qualified name.
    assert lam.invoke_async(FunctionName="deps-pubfail:1", InvokeArgs=b'{"v": 1}')["Status"] == 202
    with pytest.raises(WaiterError, match="Failed"):
        lam.get_waiter("function_active_v2").wait(
            FunctionName="deps-pubfail", Qualifier="1", WaiterConfig=WAIT)

    def config_failed():
        config = lam.get_provisioned_concurrency_config(FunctionName="deps-pubfail", Qualifier="1")
        return config if config["Status"] == "FAILED" else None

    config = wait_for(config_failed, timeout=60, interval=0.5)
    assert config["AllocatedProvisionedConcurrentExecutions"] == 0
    assert "Version 1" in config["StatusReason"]
    assert "stratus-no-such-package-pubfail" in config["StatusReason"]

    def event_ended():
        rows = stack.rows("Invocation.objects.filter(function__name='deps-pubfail', function_version='1')"
                          ".exclude(status='queued').values('request_id', 'status', 'attempts', 'error')")
        return rows[0] if rows else None

    row = wait_for(event_ended, timeout=60, interval=0.5)
    assert (row["status"], row["attempts"]) == ("failed", 1)  # never retried: it cannot run
    assert row["error"]["errorType"] == "ResourceConflictException"
    assert "stratus-no-such-package-pubfail" in row["error"]["errorMessage"]
    request_id = row["request_id"]
    assert stack.rows(f"DeadLetter.objects.filter(invocation_id='{request_id}').values_list('pk', flat=True)")
    # $LATEST kept its code and still runs.
    assert invoke_json(lam, "deps-pubfail", {"v": "kept"})[1] == {"version": "kept"}
    # The shared stack's team has little concurrency: give its share back.
    lam.delete_provisioned_concurrency_config(FunctionName="deps-pubfail", Qualifier="1")
