"""The first call on a provisioned alias, the qualifier an async call was
made with and Invoke's ClientContext, on the real stack (uvicorn, Redis,
Celery workers, Docker) through boto3."""

import base64
import json
import textwrap

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import create, settle, zip_of
from tests.integration.test_provided_real import create as create_provided

pytestmark = pytest.mark.integration

SOURCE = '''import os

def handler(event, context):
    cc = context.client_context
    return {
        "arn": context.invoked_function_arn,
        "version": context.function_version,
        "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "custom": cc.custom if cc else None,
        "env": cc.env if cc else None,
        "app_title": cc.client.app_title if cc and cc.client else None,
    }
'''

BOOTSTRAP = textwrap.dedent("""\
    #!/usr/bin/env python3
    import json, os, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
    while True:
        with urllib.request.urlopen(api + "/invocation/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            body = json.dumps({"client_context": r.headers.get("Lambda-Runtime-Client-Context"),
                               "arn": r.headers.get("Lambda-Runtime-Invoked-Function-Arn")}).encode()
        urllib.request.urlopen(urllib.request.Request(
            api + "/invocation/" + request_id + "/response", data=body, method="POST")).read()
""")

CONTEXT = {"client": {"installation_id": "inst-1", "app_title": "Stratus app"},
           "custom": {"tenant": "blue", "n": 7}, "env": {"locale": "en_GB"}}


def encoded(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


def test_the_first_call_on_a_provisioned_alias_is_provisioned_and_preloaded_cleanly(stack, lam):
    create(lam, "pf-prov", SOURCE, Publish=True)
    alias = lam.create_alias(FunctionName="pf-prov", Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName="pf-prov", Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    ready = settle(lambda: lam.get_provisioned_concurrency_config(FunctionName="pf-prov", Qualifier="live"),
                   lambda c: c["Status"] == "READY", timeout=90)
    assert ready["Status"] == "READY", ready
    # The web has the alias resolved and every worker process the version
    # read before the call (functions.provisioned_lookup,
    # invocations.provisioned_versions; that they read nothing for it is
    # tests/unit/test_provisioned_lookup.py's): here, the call is right and
    # neither preload failed.
    resp = lam.invoke(FunctionName="pf-prov:live", Payload=b"{}", LogType="Tail")
    body = json.loads(resp["Payload"].read())
    assert resp["ExecutedVersion"] == "1"
    assert body["arn"] == alias["AliasArn"] and body["init"] == "provisioned-concurrency"
    assert "Init Duration" not in base64.b64decode(resp["LogResult"]).decode()
    assert "could not preload provisioned qualifiers" not in (stack.data_dir / "web.log").read_text()
    assert "could not read the provisioned versions" not in (stack.data_dir / "worker.log").read_text()
    # Its concurrency back to the team (the stack is shared by the session's tests).
    lam.delete_provisioned_concurrency_config(FunctionName="pf-prov", Qualifier="live")


SLOW_INIT = '''import os
import time

time.sleep(1.5)  # a slow import: the new version's environment takes a while to initialise
MARK = "{mark}"

def handler(event, context):
    return {{"mark": MARK, "version": context.function_version,
            "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}}
'''


def test_moving_a_provisioned_alias_is_in_progress_until_the_new_version_is_ready(stack, lam):
    create(lam, "pf-move", SLOW_INIT.format(mark="one"), Publish=True)
    lam.create_alias(FunctionName="pf-move", Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName="pf-move", Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)

    def config():
        return lam.get_provisioned_concurrency_config(FunctionName="pf-move", Qualifier="live")

    ready = settle(config, lambda c: c["Status"] == "READY", timeout=90)
    assert ready["Status"] == "READY", ready
    # A reservation below the provisioned concurrency: refused, nothing stored.
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="pf-move", ReservedConcurrentExecutions=0)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "provisioned concurrency of 1" in e.value.response["Error"]["Message"]
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="pf-move")

    code = zip_of({"app.py": SLOW_INIT.format(mark="two")})
    two = lam.update_function_code(FunctionName="pf-move", ZipFile=code, Publish=True)
    assert two["Version"] == "2"
    lam.update_alias(FunctionName="pf-move", Name="live", FunctionVersion="2")
    # Version 2 has no initialised environment yet (its import alone takes
    # a while): not READY on version 1's.
    moved = config()
    assert moved["Status"] == "IN_PROGRESS", moved
    assert moved["AvailableProvisionedConcurrentExecutions"] == 0, moved
    seen = [moved["Status"]]
    ready = settle(lambda: seen.append(config()) or seen[-1], lambda c: c["Status"] == "READY", timeout=90)
    assert ready["Status"] == "READY", seen
    assert ready["AvailableProvisionedConcurrentExecutions"] == 1
    assert all(c["Status"] != "FAILED" for c in seen[1:]), seen
    # READY means version 2's environment is initialised: the call takes it.
    resp = lam.invoke(FunctionName="pf-move:live", Payload=b"{}", LogType="Tail")
    body = json.loads(resp["Payload"].read())
    assert resp["ExecutedVersion"] == "2" and body["mark"] == "two", body
    assert body["init"] == "provisioned-concurrency", body
    assert "Init Duration" not in base64.b64decode(resp["LogResult"]).decode()
    # Version 1's environment went (only version 2's is kept).
    query = ("Environment.objects.filter(function__name='pf-move').exclude(provisioned_for='')"
             ".values_list('provisioned_for', flat=True)")
    rows = settle(lambda: stack.rows(query), lambda r: [k.rsplit(":", 1)[1] for k in r] == ["2"], timeout=30)
    assert [key.rsplit(":", 1)[1] for key in rows] == ["2"], rows
    lam.delete_provisioned_concurrency_config(FunctionName="pf-move", Qualifier="live")


def test_an_async_call_through_an_alias_keeps_the_alias_in_its_arn(stack, lam):
    create(lam, "pf-async", SOURCE, Publish=True)
    alias = lam.create_alias(FunctionName="pf-async", Name="blue", FunctionVersion="1")
    resp = lam.invoke(FunctionName="pf-async", Qualifier="blue", InvocationType="Event",
                      Payload=b'{"async": 1}', ClientContext=encoded(CONTEXT))
    assert resp["StatusCode"] == 202
    ran = settle(lambda: stack.rows(
        "Invocation.objects.filter(function__name='pf-async')"
        ".values_list('status', 'function_version', 'qualifier', 'result')"),
        lambda r: r and r[0][0] == "succeeded")
    status, version, qualifier, result = ran[0]
    assert (status, version, qualifier) == ("succeeded", "1", "blue")
    body = json.loads(result)
    assert body["arn"] == alias["AliasArn"] and body["arn"].endswith(":pf-async:blue")
    assert body["custom"] == CONTEXT["custom"] and body["app_title"] == "Stratus app"
    # The console shows the qualifier beside the version.
    from tests.integration.helpers import login

    session = login(stack)
    request_id = stack.rows("Invocation.objects.filter(function__name='pf-async')"
                            ".values_list('request_id', flat=True)")[0]
    page = session.get(f"{stack.url}/invocations/{request_id}/")
    assert page.status_code == 200 and "via blue" in page.text


def test_client_context_reaches_python_and_a_custom_runtime(stack, lam):
    create(lam, "pf-cc", SOURCE)
    resp = lam.invoke(FunctionName="pf-cc", Payload=b"{}", ClientContext=encoded(CONTEXT))
    body = json.loads(resp["Payload"].read())
    assert (body["custom"], body["env"], body["app_title"]) == (
        CONTEXT["custom"], CONTEXT["env"], "Stratus app")
    resp = lam.invoke(FunctionName="pf-cc", Payload=b"{}")
    assert json.loads(resp["Payload"].read())["custom"] is None

    create_provided(lam, "pf-cc-custom", {"bootstrap": BOOTSTRAP})
    resp = lam.invoke(FunctionName="pf-cc-custom", Payload=b"{}", ClientContext=encoded(CONTEXT))
    body = json.loads(resp["Payload"].read())
    assert json.loads(body["client_context"]) == CONTEXT


NODE_CLIENT_CONTEXT = "export const handler = async (e, context) => context.clientContext ?? null;\n"


def test_client_context_reaches_node(stack, lam):
    lam.create_function(
        FunctionName="pf-cc-node", Runtime="nodejs22.x", Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="index.handler", Timeout=10,
        Code={"ZipFile": zip_of({"index.mjs": NODE_CLIENT_CONTEXT})},
    )
    resp = lam.invoke(FunctionName="pf-cc-node", Payload=b"{}", ClientContext=encoded(CONTEXT))
    assert json.loads(resp["Payload"].read()) == CONTEXT
    assert json.loads(lam.invoke(FunctionName="pf-cc-node", Payload=b"{}")["Payload"].read()) is None


@pytest.fixture(scope="module")
def bad_fn(lam):
    create(lam, "pf-bad", SOURCE)
    return "pf-bad"


@pytest.mark.parametrize("value, message", [
    ("not base64!", "Client context must be a valid Base64-encoded JSON object."),
    (base64.b64encode(b"[1, 2]").decode(), "Client context must be a valid Base64-encoded JSON object."),
    (encoded({"custom": {"pad": "x" * 3000}}), "at most 3583 bytes"),
])
def test_a_bad_client_context_is_lambdas_400_and_runs_nothing(stack, lam, bad_fn, value, message):
    before = len(stack.rows("Invocation.objects.filter(function__name='pf-bad').values('status')"))
    for kind in ("RequestResponse", "Event"):
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName="pf-bad", Payload=b"{}", InvocationType=kind, ClientContext=value)
        assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert message in e.value.response["Error"]["Message"]
    assert len(stack.rows("Invocation.objects.filter(function__name='pf-bad').values('status')")) == before
