"""Versions, aliases and provisioned concurrency on the real stack (uvicorn,
Redis, Celery workers, Docker), driven by boto3: a qualified call runs the
version's own code in an environment of its own, says which version ran,
and provisioned environments are kept initialised, serve calls first with
no init duration, and go with their configuration."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import create, settle, wait_for, zip_of

pytestmark = pytest.mark.integration

SOURCE = '''import os
CODE = "{code}"

def handler(event, context):
    print("running", CODE)
    return {{
        "code": CODE,
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "context_version": context.function_version,
        "arn": context.invoked_function_arn,
        "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "stream": context.log_stream_name,
    }}
'''


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


def call(lam, name, **kwargs):
    resp = lam.invoke(FunctionName=name, Payload=b"{}", **kwargs)
    return resp, json.loads(resp["Payload"].read())


def test_versions_and_aliases_run_their_own_code(stack, lam):
    made = create(lam, "verfn", SOURCE.format(code="v1"))
    one = lam.publish_version(FunctionName="verfn", Description="first", CodeSha256=made["CodeSha256"])
    assert one["Version"] == "1"
    two = lam.update_function_code(FunctionName="verfn", ZipFile=zip_of({"app.py": SOURCE.format(code="v2")}),
                                   Publish=True)
    assert two["Version"] == "2"
    lam.update_function_code(FunctionName="verfn", ZipFile=zip_of({"app.py": SOURCE.format(code="v3")}))
    alias = lam.create_alias(FunctionName="verfn", Name="live", FunctionVersion="1")

    resp, body = call(lam, "verfn:live")
    assert resp["ExecutedVersion"] == "1"
    assert (body["code"], body["version"], body["context_version"]) == ("v1", "1", "1")
    assert body["arn"] == alias["AliasArn"] and "/[1]" in body["stream"]
    resp, body = call(lam, "verfn", Qualifier="2")
    assert (resp["ExecutedVersion"], body["code"], body["arn"]) == ("2", "v2", two["FunctionArn"])
    resp, body = call(lam, "verfn")
    assert (resp["ExecutedVersion"], body["code"], body["version"]) == ("$LATEST", "v3", "$LATEST")
    # A warm environment per version: a second call on version 1 is warm.
    resp, _ = call(lam, "verfn:live", LogType="Tail")
    assert "Init Duration" not in base64.b64decode(resp["LogResult"]).decode()
    rows = stack.rows(
        "Invocation.objects.filter(function__name='verfn').values_list('function_version', flat=True)")
    assert sorted(rows) == ["$LATEST", "1", "1", "2"]
    # Lambda: a caller that names $LATEST gets ...:function:verfn:$LATEST as
    # the invoked ARN, one that names nothing the bare ARN.
    assert call(lam, "verfn")[1]["arn"] == made["FunctionArn"]
    resp, body = call(lam, "verfn", Qualifier="$LATEST")
    latest_arn = made["FunctionArn"] + ":$LATEST"
    assert (resp["ExecutedVersion"], body["code"], body["arn"]) == ("$LATEST", "v3", latest_arn)
    lam.invoke(FunctionName="verfn", Qualifier="$LATEST", InvocationType="Event", Payload=b"{}")
    ran = settle(lambda: stack.rows(
        "Invocation.objects.filter(function__name='verfn', invocation_type='Event', qualifier='$LATEST')"
        ".values_list('status', 'result')"), lambda r: r and r[0][0] == "succeeded")
    assert json.loads(ran[0][1])["arn"] == latest_arn
    # An async call on the alias runs (and is recorded as) its version.
    lam.invoke(FunctionName="verfn", Qualifier="live", InvocationType="Event", Payload=b'{"async": 1}')
    ran = settle(lambda: stack.rows(
        "Invocation.objects.filter(function__name='verfn', invocation_type='Event', qualifier='live')"
        ".values_list('status', 'function_version', 'result')"), lambda r: r and r[0][0] == "succeeded")
    assert ran[0][:2] == ["succeeded", "1"] and json.loads(ran[0][2])["code"] == "v1"

    # A weighted alias sends calls to both versions.
    lam.update_alias(FunctionName="verfn", Name="live",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    seen = {call(lam, "verfn:live")[0]["ExecutedVersion"] for _ in range(24)}
    assert seen == {"1", "2"}

    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="verfn", Qualifier="2")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.delete_alias(FunctionName="verfn", Name="live")
    lam.delete_function(FunctionName="verfn", Qualifier="2")
    with pytest.raises(ClientError) as e:
        call(lam, "verfn:2")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="verfn")["Versions"]] == [
        "$LATEST", "1"]


def provisioned_rows(stack, name):
    return stack.rows(
        f"Environment.objects.filter(function__name='{name}').exclude(provisioned_for='')"
        ".values_list('id', flat=True)"
    )


def test_provisioned_concurrency_keeps_environments_ready(stack, lam):
    create(lam, "provfn", SOURCE.format(code="p1"), Publish=True)
    lam.create_alias(FunctionName="provfn", Name="live", FunctionVersion="1")
    put = lam.put_provisioned_concurrency_config(FunctionName="provfn", Qualifier="live",
                                                 ProvisionedConcurrentExecutions=2)
    assert put["Status"] == "IN_PROGRESS"
    ready = settle(lambda: lam.get_provisioned_concurrency_config(FunctionName="provfn", Qualifier="live"),
                   lambda c: c["Status"] == "READY", timeout=90)
    assert ready["Status"] == "READY", ready
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert len(provisioned_rows(stack, "provfn")) == 2
    listed = lam.list_provisioned_concurrency_configs(FunctionName="provfn")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["live"]

    # The first call takes a provisioned environment: initialised already.
    resp, body = call(lam, "provfn:live", LogType="Tail")
    assert body["init"] == "provisioned-concurrency" and resp["ExecutedVersion"] == "1"
    assert "Init Duration" not in base64.b64decode(resp["LogResult"]).decode()
    first = stack.rows("Invocation.objects.filter(function__name='provfn').values_list("
                       "'cold_start', 'init_duration_ms')")
    assert first == [[False, None]]
    # The environments view calls them provisioned.
    states = stack.shell(
        "from invocations import env_state\nfrom functions.models import Function\n"
        "fn = Function.objects.get(name='provfn')\n"
        "print(sorted(v.state for v in env_state.snapshot(env_state.fn_scope(fn.id))))"
    ).strip().splitlines()[-1]
    assert states.count("provisioned") == 2, states

    # The reaper never takes them, even with no keep-alive left.
    stack.shell("from invocations import pool\npool.reap(keep_alive_s=0)")
    assert len(provisioned_rows(stack, "provfn")) == 2

    # The configuration goes: so do its environments.
    lam.delete_provisioned_concurrency_config(FunctionName="provfn", Qualifier="live")
    wait_for(lambda: not provisioned_rows(stack, "provfn"), timeout=60)
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="provfn", Qualifier="live")
    assert e.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
