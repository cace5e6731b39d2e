"""Lambda's REST API on the real stack (uvicorn, the AWS front door, the
database, Celery and Docker for InvokeAsync), driven by boto3 as its users
drive it: every operation Stratus serves, and the door's refusals in
Lambda's shapes."""

import json

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.helpers import create, wait_for, zip_of

pytestmark = pytest.mark.integration

ECHO = "def handler(event, context):\n    print('got', event)\n    return event\n"


def client_for(stack, key: str, secret: str):
    return boto3.client(
        "lambda", endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}),
    )


@pytest.fixture(scope="module")
def lam(stack):
    return stack.lambda_client()


@pytest.fixture(scope="module")
def reader(stack):
    """A read-only member of the admin's team, with a key of its own."""
    stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from functions.access import default_team\nfrom functions.models import Membership\n"
        "User = get_user_model()\nteam = default_team(User.objects.get(username='admin'))\n"
        "viewer, _ = User.objects.get_or_create(username='lambda-viewer')\n"
        "Membership.objects.get_or_create(team=team, user=viewer, defaults={'role': 'readonly'})\n"
    )
    return client_for(stack, *stack.api_key("lambda-viewer"))


def code(exc) -> tuple[int, str]:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"], exc.value.response["Error"]["Code"]


def test_every_operation_served_works_through_boto3(stack, lam):
    made = create(lam, "door-a", ECHO, Description="first")
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    create(lam, "door-b", ECHO)
    create(lam, "door-c", ECHO)
    # ListFunctions in pages, with Marker.
    first = lam.list_functions(MaxItems=1)
    names = [f["FunctionName"] for f in first["Functions"]]
    marker = first.get("NextMarker")
    while marker:
        page = lam.list_functions(MaxItems=1, Marker=marker)
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
    assert [n for n in names if n.startswith("door-")] == ["door-a", "door-b", "door-c"]
    # Get, with a code URL that downloads the zip.
    got = lam.get_function(FunctionName="door-a")
    assert got["Configuration"]["Description"] == "first"
    download = requests.get(got["Code"]["Location"], timeout=30)
    assert download.status_code == 200 and download.content[:2] == b"PK"
    # Updates.
    updated = lam.update_function_configuration(FunctionName="door-a", MemorySize=256, Timeout=7)
    assert (updated["MemorySize"], updated["Timeout"]) == (256, 7)
    new_code = lam.update_function_code(
        FunctionName="door-a", ZipFile=zip_of({"app.py": ECHO + "# v2\n"})
    )
    assert new_code["CodeSha256"] != made["CodeSha256"]
    assert lam.get_function_configuration(FunctionName="door-a")["CodeSha256"] == new_code["CodeSha256"]
    # Reserved concurrency.
    assert lam.put_function_concurrency(FunctionName="door-a", ReservedConcurrentExecutions=2)[
        "ReservedConcurrentExecutions"] == 2
    assert lam.get_function_concurrency(FunctionName="door-a")["ReservedConcurrentExecutions"] == 2
    assert lam.get_function(FunctionName="door-a")["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    assert lam.delete_function_concurrency(FunctionName="door-a")[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="door-a")
    # Event invoke config.
    sink = lam.get_function_configuration(FunctionName="door-b")["FunctionArn"]
    put = lam.put_function_event_invoke_config(
        FunctionName="door-a", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": sink}},
    )
    assert put["MaximumRetryAttempts"] == 1 and put["LastModified"].year >= 2024
    changed = lam.update_function_event_invoke_config(FunctionName="door-a", MaximumEventAgeInSeconds=120)
    assert (changed["MaximumRetryAttempts"], changed["MaximumEventAgeInSeconds"]) == (1, 120)
    assert lam.get_function_event_invoke_config(FunctionName="door-a")["DestinationConfig"] == {
        "OnFailure": {"Destination": sink}}
    lam.delete_function_event_invoke_config(FunctionName="door-a")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="door-a")
    assert code(e) == (404, "ResourceNotFoundException")
    # Errors in Lambda's words.
    with pytest.raises(ClientError) as e:
        create(lam, "door-a", ECHO)
    assert code(e) == (409, "ResourceConflictException")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="door-a", Timeout=901)
    assert code(e) == (400, "ValidationException")
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900")
    # Delete.
    for name in ("door-a", "door-b", "door-c"):
        assert lam.delete_function(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="door-a")
    assert code(e) == (404, "ResourceNotFoundException")
    assert "Function not found: arn:aws:lambda:us-east-1:" in e.value.response["Error"]["Message"]


def test_a_handler_the_code_lacks_is_taken_and_its_invoke_fails_as_lambdas(stack, lam):
    made = lam.create_function(
        FunctionName="door-missing", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="missing.handler", Code={"ZipFile": zip_of({"app.py": ECHO})}, Timeout=10,
    )
    assert made["Handler"] == "missing.handler"
    resp = lam.invoke(FunctionName="door-missing", Payload=b"{}")
    assert resp["FunctionError"] == "Unhandled"
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"
    error = json.loads(resp["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'missing'" in error["errorMessage"]
    # Fixed by the configuration alone, as in Lambda.
    lam.update_function_configuration(FunctionName="door-missing", Handler="app.handler")
    wait_for(lambda: lam.get_function_configuration(FunctionName="door-missing")["LastUpdateStatus"]
             == "Successful")
    resp = lam.invoke(FunctionName="door-missing", Payload=b'{"ok": 1}')
    assert "FunctionError" not in resp and json.loads(resp["Payload"].read()) == {"ok": 1}
    lam.delete_function(FunctionName="door-missing")


def test_invoke_async_runs_the_function(stack, lam):
    create(lam, "door-async", ECHO)
    resp = lam.invoke_async(FunctionName="door-async", InvokeArgs=b'{"via": "invoke-async"}')
    assert resp["Status"] == 202
    rows = wait_for(lambda: stack.rows(
        "Invocation.objects.filter(function__name='door-async', status='succeeded').values('event', 'logs')"
    ))
    assert json.loads(rows[0]["event"]) == {"via": "invoke-async"}
    assert "got {'via': 'invoke-async'}" in rows[0]["logs"]


def test_an_unknown_operation_gets_lambdas_unknown_operation_error(stack, lam):
    with pytest.raises(ClientError) as e:
        lam.list_code_signing_configs()  # not served by Stratus
    assert code(e) == (404, "UnknownOperationException")
    headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    assert headers["x-amzn-requestid"]
    # Raw, unsigned: Lambda's JSON shape, not an HTML page.
    resp = requests.get(f"{stack.url}/2015-03-31/nothing-here", timeout=30)
    assert resp.status_code == 404
    assert resp.json()["Type"] == "User" and "nothing-here" in resp.json()["message"]


def test_a_bad_signature_is_refused_in_lambdas_shape(stack, lam):
    key, _ = stack.api_key()
    bad = client_for(stack, key, "not-the-secret")
    with pytest.raises(ClientError) as e:
        bad.create_function(FunctionName="door-forged", Runtime="python3.11",
                            Role="arn:aws:iam::000000000000:role/x", Handler="app.handler",
                            Code={"ZipFile": b"PK"})
    assert code(e) == (403, "InvalidSignatureException")
    unsigned = requests.get(f"{stack.url}/2015-03-31/functions", timeout=30)
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == "door-forged"] == []


def test_a_read_only_key_reads_but_cannot_write(lam, reader):
    create(lam, "door-ro", ECHO)
    assert reader.get_function_configuration(FunctionName="door-ro")["FunctionName"] == "door-ro"
    for call, kwargs in [
        (reader.update_function_configuration, {"MemorySize": 512}),
        (reader.delete_function, {}),
        (reader.put_function_concurrency, {"ReservedConcurrentExecutions": 1}),
    ]:
        with pytest.raises(ClientError) as e:
            call(FunctionName="door-ro", **kwargs)
        assert code(e) == (403, "AccessDeniedException")
    with pytest.raises(ClientError) as e:
        create(reader, "door-ro-2", ECHO)
    assert code(e) == (403, "AccessDeniedException")
    # Invoking is lambda:InvokeFunction, not a read.
    with pytest.raises(ClientError) as e:
        reader.invoke(FunctionName="door-ro", Payload=b"{}")
    assert code(e) == (403, "AccessDeniedException")
    assert lam.invoke(FunctionName="door-ro", Payload=b'{"a": 1}')["StatusCode"] == 200
    config = lam.get_function_configuration(FunctionName="door-ro")
    assert config["MemorySize"] == 128
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="door-ro")


def test_a_fresh_users_mistakes_are_refused_as_lambda_refuses_them(stack, lam):
    """No Runtime, a limit far over Lambda's, a marker it never gave,
    another region's ARN: each refused in Lambda's code and words, and
    nothing stored or run."""
    base = {"FunctionName": "mistakes", "Role": "arn:aws:iam::000000000000:role/lambda-role",
            "Handler": "app.handler", "Code": {"ZipFile": zip_of({"app.py": ECHO})}}
    with pytest.raises(ClientError) as e:
        lam.create_function(**base)  # no Runtime: no silent python3.11
    assert code(e) == (400, "InvalidParameterValueException")
    assert "Runtime and Handler are mandatory parameters" in str(e.value)
    with pytest.raises(ClientError) as e:
        lam.create_function(**base, Runtime="python3.11", MemorySize=99999)
    assert code(e) == (400, "ValidationException")
    assert "Member must have value less than or equal to 10240" in str(e.value)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="mistakes")
    assert code(e) == (404, "ResourceNotFoundException")
    made = create(lam, "mistakes", ECHO)
    create(lam, "mistakes-2", ECHO)
    with pytest.raises(ClientError) as e:
        lam.list_functions(Marker="garbage")
    assert code(e) == (400, "InvalidParameterValueException")
    first = lam.list_functions(MaxItems=1)
    assert lam.list_functions(MaxItems=1, Marker=first["NextMarker"])["Functions"]
    other = made["FunctionArn"].replace(":us-east-1:", ":eu-west-1:")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=other, Payload=b"{}")
    assert code(e) == (404, "ResourceNotFoundException")
    assert "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')" in str(e.value)
