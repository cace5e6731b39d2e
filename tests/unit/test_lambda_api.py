"""The Lambda API driven by a real boto3 client: its requests are serialised
and signed by botocore, sent to the production ASGI application
(console.asgi: the Invoke door and the AWS front door) instead of the
network, and its responses parsed by botocore, so shapes and errors are
checked the way SDK users meet them. The waiter is replaced so no worker is
needed."""

import base64
import hashlib
import io
import json
import zipfile
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from functions import code as codestore
from functions.models import Function
from invocations import dispatch
from invocations.done import Done
from invocations.models import Invocation
from tests.conftest import HELLO
from tests.unit import asgi_client
from tests.unit.aws_clients import boto_lambda
from tests.unit.test_sigv4 import sign


ROLE = "arn:aws:iam::123456789012:role/lambda-basic"


def zip_of(source: str = HELLO) -> bytes:
    return codestore.zip_single_file("lambda_function.py", source)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def finish_with(monkeypatch):
    """Make sync invokes answer at once with the given Done fields; the
    calls made are kept in outcome["calls"] (function, event, source)."""
    outcome: dict = {"status": "succeeded", "result": None, "error": None, "logs_tail": "", "calls": []}

    async def fake(fn, event, *, source, **kwargs):
        outcome["calls"].append((fn.name, event, source))
        result = outcome["result"]
        if outcome["status"] == "succeeded" and result is None:
            result = json.dumps({"echo": json.loads(event)})
        return Done(request_id="00000000-0000-0000-0000-00000000abcd", status=outcome["status"],
                    result=result, error=outcome["error"], logs_tail=outcome["logs_tail"])

    monkeypatch.setattr(dispatch, "invoke_sync", fake)
    return outcome


# CreateFunction ---------------------------------------------------------


def test_it_creates_a_function(lam, team):
    resp = lam.create_function(
        FunctionName="hello", Runtime="python3.11", Role=ROLE,
        Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()},
        Description="says hi", Timeout=10, MemorySize=256,
        Environment={"Variables": {"GREETING": "hi"}},
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert resp["ResponseMetadata"]["RequestId"]
    assert resp["FunctionArn"] == f"arn:aws:lambda:us-east-1:{team.account_id}:function:hello"
    assert resp["MemorySize"] == 256 and resp["Timeout"] == 10
    assert resp["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert resp["Version"] == "$LATEST" and resp["State"] == "Active"
    fn = Function.objects.get(team=team, name="hello")
    assert resp["CodeSha256"] == fn.code.sha256_b64
    assert resp["RevisionId"] == str(fn.revision)


def test_it_rejects_a_duplicate_name_with_409(lam, make_function):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert (status_of(e), error_code(e)) == (409, "ResourceConflictException")


def test_it_rejects_bad_memory_with_400_and_stores_nothing(lam):
    # Below the model's minimum: AWS's ValidationException, in AWS's words.
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE, MemorySize=64,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert (status_of(e), error_code(e)) == (400, "ValidationException")
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128"
    )
    # Within botocore's model (to 32768) but over Lambda's own bound: the
    # same ValidationException, as Lambda answers.
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE, MemorySize=20000,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert (status_of(e), error_code(e)) == (400, "ValidationException")
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '20000' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10240"
    )
    assert not Function.objects.exists()


@pytest.mark.parametrize("settings_given,where,value,limit", [
    ({"MemorySize": 20000}, "memorySize", 20000, 10240),
    # Over the published model's own max (32768) too: still Lambda's limit.
    ({"MemorySize": 99999}, "memorySize", 99999, 10240),
    ({"Timeout": 901}, "timeout", 901, 900),
    ({"Timeout": 10**30}, "timeout", 10**30, 900),  # over the model's 5400
    ({"EphemeralStorage": {"Size": 10241}}, "ephemeralStorage.size", 10241, 10240),
    ({"EphemeralStorage": {"Size": 99999}}, "ephemeralStorage.size", 99999, 10240),  # model: 32768
])
def test_a_value_over_lambdas_limit_is_told_that_limit_however_large(
    lam, make_function, settings_given, where, value, limit
):
    expected = (f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy "
                f"constraint: Member must have value less than or equal to {limit}")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()},
                            **settings_given)
    assert (status_of(e), error_code(e)) == (400, "ValidationException")
    assert e.value.response["Error"]["Message"] == expected
    assert not Function.objects.exists()
    fn = make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="hello", **settings_given)
    assert (status_of(e), error_code(e)) == (400, "ValidationException")
    assert e.value.response["Error"]["Message"] == expected
    revision = fn.revision
    fn.refresh_from_db()
    assert fn.revision == revision


def test_a_timeout_over_900_is_a_validation_error_everywhere(lam, make_function):
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE, Timeout=901,
                            MemorySize=10241, Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": zip_of()})
    assert (status_of(e), error_code(e)) == (400, "ValidationException")
    assert e.value.response["Error"]["Message"] == (
        "2 validation errors detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900; Value '10241' at 'memorySize' failed to "
        "satisfy constraint: Member must have value less than or equal to 10240"
    )
    assert not Function.objects.exists()
    fn = make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="hello", Timeout=901)
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900"
    )
    assert lam.update_function_configuration(FunctionName="hello", Timeout=900)["Timeout"] == 900
    fn.refresh_from_db()
    assert fn.timeout_s == 900


def test_it_takes_a_handler_the_code_does_not_define_as_lambda_does(lam):
    # Lambda stores it; the invoke fails with Runtime.ImportModuleError (the
    # bootstrap's, tests/unit/test_bootstrap_local.py).
    made = lam.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE,
                               Handler="missing.handler", Code={"ZipFile": zip_of()})
    assert made["Handler"] == "missing.handler"
    changed = lam.update_function_configuration(FunctionName="hello", Handler="lambda_function.nope")
    assert changed["Handler"] == "lambda_function.nope"
    lam.update_function_code(FunctionName="hello", ZipFile=zip_of())
    assert Function.objects.get(name="hello").handler == "lambda_function.nope"
    # What Lambda does refuse: its Handler pattern (no whitespace).
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="hello", Handler="a b")
    assert error_code(e) == "ValidationException"


def test_it_refuses_changes_from_a_read_only_member(reader_lam):
    with pytest.raises(ClientError) as e:
        reader_lam.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE,
                                   Handler="lambda_function.lambda_handler",
                                   Code={"ZipFile": zip_of()})
    assert (status_of(e), error_code(e)) == (403, "AccessDeniedException")


# GetFunction / GetFunctionConfiguration -----------------------------------


def test_it_gets_a_function_with_a_code_url(lam, make_function):
    fn = make_function("hello")
    resp = lam.get_function(FunctionName="hello")
    assert resp["Configuration"]["FunctionName"] == "hello"
    assert resp["Code"]["RepositoryType"] == "S3"
    assert resp["Code"]["Location"].startswith("http://testserver/")
    download = asgi_client.call("GET", urlsplit(resp["Code"]["Location"]).path)
    assert download.status_code == 200
    data = download.content
    assert data == fn.code.zip_path.read_bytes()
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["lambda_function.py"]
    assert "Concurrency" not in resp


def test_get_function_reports_reserved_concurrency(lam, make_function):
    make_function("hello")
    lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=3)
    resp = lam.get_function(FunctionName="hello")
    assert resp["Concurrency"] == {"ReservedConcurrentExecutions": 3}


def test_it_refuses_a_forged_code_url(db):
    resp = asgi_client.call("GET", "/2015-03-31/stratus-code/forged:token")
    assert resp.status_code == 403
    assert resp["x-amzn-ErrorType"] == "AccessDeniedException"


def test_it_finds_a_function_by_name_arn_and_partial_arn(lam, make_function, team):
    make_function("hello")
    arn = f"arn:aws:lambda:us-east-1:{team.account_id}:function:hello"
    for name in ["hello", arn, f"{team.account_id}:function:hello", f"{arn}:$LATEST"]:
        assert lam.get_function_configuration(FunctionName=name)["FunctionArn"] == arn


def test_it_answers_404_for_another_accounts_arn(lam, make_function):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.get_function_configuration(
            FunctionName="arn:aws:lambda:us-east-1:999999999999:function:hello"
        )
    assert (status_of(e), error_code(e)) == (404, "ResourceNotFoundException")
    assert "999999999999:function:hello" in str(e.value)


def test_it_answers_404_to_another_team(stranger_lam, make_function):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        stranger_lam.get_function(FunctionName="hello")
    assert error_code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        stranger_lam.delete_function(FunctionName="hello")
    assert Function.objects.filter(name="hello").exists()


def test_it_answers_404_for_an_unknown_function(lam, team):
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="nope")
    assert e.value.response["Error"]["Message"] == (
        f"Function not found: arn:aws:lambda:us-east-1:{team.account_id}:function:nope"
    )


# ListFunctions -----------------------------------------------------------


def test_it_lists_functions_in_pages(lam, make_function, stranger_lam):
    for name in ["c", "a", "b"]:
        make_function(name)
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a", "b"]
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["c"]
    assert "NextMarker" not in second
    pages = lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
    assert [f["FunctionName"] for p in pages for f in p["Functions"]] == ["a", "b", "c"]
    assert stranger_lam.list_functions()["Functions"] == []


def test_list_functions_takes_only_markers_it_gave(lam, make_function):
    for name in ["a", "b", "c", "d"]:
        make_function(name)
    for marker in ["garbage", "b", "a:1", "x" * 300]:
        for extra in ({}, {"FunctionVersion": "ALL"}):
            with pytest.raises(ClientError) as e:
                lam.list_functions(Marker=marker, **extra)
            assert (status_of(e), error_code(e)) == (400, "InvalidParameterValueException")
            assert "Invalid Marker for ListFunctions" in e.value.response["Error"]["Message"]
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a", "b"]
    assert first["NextMarker"] != "b"  # opaque, as Lambda's
    # A marker of the plain listing is not one of the listing with every
    # version, and the other way round.
    with pytest.raises(ClientError) as e:
        lam.list_functions(FunctionVersion="ALL", Marker=first["NextMarker"])
    assert error_code(e) == "InvalidParameterValueException"
    every = lam.list_functions(FunctionVersion="ALL", MaxItems=1)
    with pytest.raises(ClientError) as e:
        lam.list_functions(Marker=every["NextMarker"])
    assert error_code(e) == "InvalidParameterValueException"
    # The marker's function deleted between pages: the marker still works.
    lam.delete_function(FunctionName="b")
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["c", "d"]
    lam.delete_function(FunctionName="a")
    rest = lam.list_functions(FunctionVersion="ALL", Marker=every["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["c", "d"]


def test_it_rejects_a_bad_max_items(lam):
    with pytest.raises(ClientError) as e:
        lam.list_functions(MaxItems=0)
    assert error_code(e) == "ValidationException"
    assert "'0' at 'maxItems'" in str(e.value)


# Updates and delete ------------------------------------------------------


def test_it_updates_code(lam, make_function):
    fn = make_function("hello")
    new_zip = zip_of(HELLO + "\n# v2\n")
    resp = lam.update_function_code(FunctionName="hello", ZipFile=new_zip)
    fn.refresh_from_db()
    assert resp["CodeSha256"] == fn.code.sha256_b64
    assert fn.code.sha256 == hashlib.sha256(new_zip).hexdigest()


def test_it_updates_configuration(lam, make_function):
    fn = make_function("hello")
    resp = lam.update_function_configuration(
        FunctionName="hello", MemorySize=512, Environment={"Variables": {"AB": "1"}},
        RevisionId=str(fn.revision),
    )
    assert resp["MemorySize"] == 512 and resp["Environment"]["Variables"] == {"AB": "1"}
    fn.refresh_from_db()
    assert fn.memory_mb == 512 and fn.timeout_s == 3


def test_it_rejects_bad_configuration_and_keeps_the_old(lam, make_function):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="hello", Timeout=901, MemorySize=512)
    assert error_code(e) == "ValidationException"
    assert Function.objects.get(name="hello").memory_mb == 128


def test_it_rejects_a_stale_revision_id(lam, make_function):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="hello", MemorySize=512,
                                          RevisionId="00000000-0000-0000-0000-000000000000")
    assert (status_of(e), error_code(e)) == (412, "PreconditionFailedException")


def test_it_deletes_a_function(lam, make_function):
    make_function("hello")
    resp = lam.delete_function(FunctionName="hello")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not Function.objects.exists()
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="hello")
    assert error_code(e) == "ResourceNotFoundException"


# Invoke ------------------------------------------------------------------


def test_it_invokes_and_returns_the_result(lam, make_function, finish_with):
    make_function("hello")
    resp = lam.invoke(FunctionName="hello", Payload=b'{"n": 1}')
    assert resp["StatusCode"] == 200
    assert json.loads(resp["Payload"].read()) == {"echo": {"n": 1}}
    assert resp["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in resp
    assert finish_with["calls"] == [("hello", '{"n": 1}', "api")]
    headers = resp["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-request-id"] == "00000000-0000-0000-0000-00000000abcd"
    # Served before Django: none of the console's security headers.
    assert "x-frame-options" not in resp["ResponseMetadata"]["HTTPHeaders"]


def test_a_function_arn_of_another_region_is_not_reachable_here(lam, make_function, finish_with, team):
    # Lambda: "Functions from 'eu-west-1' are not reachable in this region
    # ('us-east-1')"; the function of the same name here does not run.
    fn = make_function("va")
    other = f"arn:aws:lambda:eu-west-1:{team.account_id}:function:va"
    expected = "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    for call in [
        lambda: lam.invoke(FunctionName=other, Payload=b"{}"),
        lambda: lam.invoke(FunctionName=other + ":$LATEST", Payload=b"{}"),
        lambda: lam.get_function(FunctionName=other),
        lambda: lam.update_function_configuration(FunctionName=other, Description="changed"),
        lambda: lam.delete_function(FunctionName=other),
        lambda: lam.tag_resource(Resource=other, Tags={"a": "b"}),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        assert (status_of(e), error_code(e)) == (404, "ResourceNotFoundException")
        assert e.value.response["Error"]["Message"] == expected
    assert finish_with["calls"] == []
    revision = fn.revision
    fn.refresh_from_db()
    assert (fn.revision, fn.description, fn.tags) == (revision, "", {})
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=other.replace(":va", ":new"), Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert error_code(e) == "InvalidParameterValueException" and "eu-west-1" in str(e.value)
    assert not Function.objects.filter(name="new").exists()
    # This region's ARN still works.
    here = other.replace("eu-west-1", "us-east-1")
    assert lam.invoke(FunctionName=here, Payload=b"{}")["StatusCode"] == 200


def test_it_returns_the_log_tail(lam, make_function, finish_with):
    make_function("hello")
    finish_with["logs_tail"] = "x" * 5000 + "last line\n"
    resp = lam.invoke(FunctionName="hello", Payload=b"{}", LogType="Tail")
    tail = base64.b64decode(resp["LogResult"])
    assert len(tail) == 4096 and tail.endswith(b"last line\n")


def test_it_marks_a_handler_error_as_unhandled(lam, make_function, finish_with):
    make_function("hello")
    error = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": ["x"]}
    finish_with.update(status="failed", error=error)
    resp = lam.invoke(FunctionName="hello", Payload=b"{}")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == error


def test_it_returns_a_timeout_as_unhandled(lam, make_function, finish_with):
    make_function("hello")
    error = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 3.00 seconds"}
    finish_with.update(status="timed_out", error=error)
    resp = lam.invoke(FunctionName="hello", Payload=b"{}")
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorMessage"].endswith(
        "Task timed out after 3.00 seconds"
    )


def test_it_answers_429_to_a_throttled_invocation(lam, make_function, finish_with):
    make_function("hello")
    finish_with.update(status="throttled")
    finish_with["error"] = {"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded: full"}
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", Payload=b"{}")
    assert (status_of(e), error_code(e)) == (429, "TooManyRequestsException")
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_it_queues_an_event_invocation(lam, make_function, finish_with):
    make_function("hello")
    resp = lam.invoke(FunctionName="hello", InvocationType="Event", Payload=b'{"a": 1}')
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    inv = Invocation.objects.get()
    assert (inv.status, inv.invocation_type, inv.event) == ("queued", "Event", '{"a": 1}')
    assert resp["ResponseMetadata"]["RequestId"] == str(inv.request_id)


def test_it_dry_runs_without_a_row(lam, make_function, finish_with):
    make_function("hello")
    resp = lam.invoke(FunctionName="hello", InvocationType="DryRun", Payload=b"{}")
    assert resp["StatusCode"] == 204
    assert not Invocation.objects.exists() and finish_with["calls"] == []


def test_a_call_no_worker_took_in_time_is_throttled_and_cancelled(lam, make_function, finish_with):
    make_function("hello")
    finish_with.update(status="cancelled", error={
        "errorType": "Stratus.QueueTimeout", "errorMessage": "No worker took the call within 30 s",
    })
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", Payload=b"{}")
    assert (status_of(e), error_code(e)) == (429, "TooManyRequestsException")
    assert "No worker took the call" in str(e.value)


def test_it_rejects_a_payload_nested_too_deeply(lam, make_function, finish_with):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", Payload=b"[" * 1000 + b"]" * 1000)
    assert (status_of(e), error_code(e)) == (400, "InvalidRequestContentException")
    assert finish_with["calls"] == []


def test_it_rejects_a_payload_that_is_not_json(lam, make_function, finish_with):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", Payload=b"not json")
    assert (status_of(e), error_code(e)) == (400, "InvalidRequestContentException")
    assert "Could not parse request body into json" in str(e.value)
    assert not Invocation.objects.exists()


@pytest.mark.parametrize(
    "invocation_type,size", [("RequestResponse", 6 * 1024 * 1024), ("Event", 1024 * 1024)]
)
def test_it_rejects_a_payload_too_large(lam, make_function, finish_with, invocation_type, size):
    make_function("hello")
    payload = json.dumps({"x": "a" * size}).encode()
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", InvocationType=invocation_type, Payload=payload)
    assert (status_of(e), error_code(e)) == (413, "RequestTooLargeException")
    assert not Invocation.objects.exists()


def test_it_answers_404_when_invoking_an_unknown_function(lam, finish_with):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert error_code(e) == "ResourceNotFoundException"


def test_it_answers_404_for_another_qualifier(lam, make_function, finish_with):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", Qualifier="1", Payload=b"{}")
    assert error_code(e) == "ResourceNotFoundException"


# Authentication and unknown routes ---------------------------------------


def test_it_rejects_a_wrong_secret_with_403(member_key):
    key, _ = member_key
    lam = boto_lambda(key.access_key_id, "wrong-secret")
    with pytest.raises(ClientError) as e:
        lam.list_functions()
    assert (status_of(e), error_code(e)) == (403, "InvalidSignatureException")


def test_it_rejects_an_unknown_key_with_403(db):
    lam = boto_lambda("AKIAUNKNOWNKEY000000", "secret")
    with pytest.raises(ClientError) as e:
        lam.list_functions()
    assert (status_of(e), error_code(e)) == (403, "UnrecognizedClientException")


def test_it_answers_an_unsigned_request_in_the_api_shape(db):
    resp = asgi_client.call("GET", "/2015-03-31/functions")
    assert resp.status_code == 403
    assert resp["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert resp.json()["Type"] == "User" and resp.json()["message"]
    assert resp["X-Amz-Request-Id"]


def test_it_rejects_a_body_that_is_not_json(member_key):
    key, secret = member_key
    path = "/2015-03-31/functions"
    headers = sign("POST", path, b"{oops", key.access_key_id, secret)
    resp = asgi_client.call("POST", path, b"{oops", headers)
    assert resp.status_code == 400
    assert resp["x-amzn-ErrorType"] == "InvalidRequestContentException"


def test_it_answers_unknown_routes_with_json_404(db):
    resp = asgi_client.call("GET", "/2015-03-31/no-such-collection")
    assert resp.status_code == 404
    assert resp["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "no-such-collection" in resp.json()["message"]


def test_it_verifies_requests_built_outside_boto(member_key):
    key, secret = member_key
    headers = sign("GET", "/2015-03-31/functions", b"", key.access_key_id, secret)
    assert asgi_client.call("GET", "/2015-03-31/functions", b"", headers).status_code == 200


# Bad input, sent raw (no SDK in between) -----------------------------------


def signed(member_key, method: str, path: str, body: bytes = b""):
    key, secret = member_key
    headers = sign(method, path, body, key.access_key_id, secret)
    return asgi_client.call(method, path, body, {**headers, "Content-Type": "application/json"})


def create_body(**overrides) -> dict:
    body = {
        "FunctionName": "hello", "Runtime": "python3.11", "Role": ROLE,
        "Handler": "lambda_function.lambda_handler",
        "Code": {"ZipFile": base64.b64encode(zip_of()).decode()},
    }
    body.update(overrides)
    return body


def answer(resp) -> tuple[int, str, str]:
    return resp.status_code, resp["x-amzn-ErrorType"], resp.json()["message"]


NESTED = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize("method,path", [
    ("POST", "/2015-03-31/functions"),
    ("PUT", "/2015-03-31/functions/hello/configuration"),
    ("PUT", "/2015-03-31/functions/hello/code"),
    ("PUT", "/2019-09-25/functions/hello/event-invoke-config"),
    ("POST", "/2019-09-25/functions/hello/event-invoke-config"),
    ("PUT", "/2017-10-31/functions/hello/concurrency"),
])
@pytest.mark.parametrize("body", [NESTED, b'{"Environment":' + NESTED + b"}"])
def test_deeply_nested_bodies_are_a_400_everywhere(member_key, make_function, method, path, body):
    fn = make_function("hello")
    revision = fn.revision
    status, code, message = answer(signed(member_key, method, path, body))
    assert (status, code) == (400, "InvalidRequestContentException")
    assert "deeper than 32 levels" in message
    fn.refresh_from_db()
    assert fn.revision == revision


@pytest.mark.parametrize("overrides,where,constraint", [
    ({"MemorySize": True}, "memorySize", "be a whole number"),
    ({"MemorySize": 256.0}, "memorySize", "be a whole number"),
    ({"Timeout": "3"}, "timeout", "be a whole number"),
    ({"FunctionName": "hello\n"}, "functionName", "satisfy regular expression pattern"),
    ({"Role": {"Name": "x"}}, "role", "be a string"),
    ({"Role": "arn:aws:iam::1:role/x"}, "role", "satisfy regular expression pattern"),
    ({"Description": "d" * 257}, "description", "have length less than or equal to 256"),
    ({"Description": ["d"]}, "description", "be a string"),
    ({"Handler": "h" * 129}, "handler", "have length less than or equal to 128"),
    ({"Environment": {"Variables": {"GREETING": "hi\u0000"}}}, "environment.variables.GREETING",
     "not contain NUL characters"),
    ({"Environment": {"Variables": {"G": "hi"}}}, "environment.variables", "satisfy regular expression"),
    ({"Environment": {"Variables": ["GREETING=hi"]}}, "environment.variables", "be an object"),
    ({"Environment": "GREETING=hi"}, "environment", "be an object"),
    ({"Code": {"ZipFile": 5}}, "code.zipFile", "be base64-encoded data"),
    ({"Code": "UEsDBA=="}, "code", "be an object"),
    ({"Runtime": "python3.11 "}, "runtime", "satisfy enum value set"),
    ({"Role": None}, "role", "not be null"),
])
def test_create_function_checks_every_member_by_type_and_range(
    member_key, overrides, where, constraint
):
    body = json.dumps(create_body(**overrides)).encode()
    status, code, message = answer(signed(member_key, "POST", "/2015-03-31/functions", body))
    assert (status, code) == (400, "ValidationException")
    assert f"at '{where}' failed to satisfy constraint: Member must {constraint}" in message
    assert "hi\u0000" not in message  # environment values are not echoed
    assert not Function.objects.exists()


def test_memory_given_as_1e400_in_raw_json_is_a_400(member_key):
    body = json.dumps(create_body()).replace('"Role"', '"MemorySize": 1e400, "Role"').encode()
    status, code, message = answer(signed(member_key, "POST", "/2015-03-31/functions", body))
    assert (status, code) == (400, "ValidationException")
    assert "Value 'Infinity' at 'memorySize'" in message


def test_an_unpaired_surrogate_is_refused_not_stored(member_key):
    body = json.dumps(create_body(Description="\ud800")).encode()
    status, code, message = answer(signed(member_key, "POST", "/2015-03-31/functions", body))
    assert (status, code) == (400, "ValidationException")
    assert "unpaired surrogate" in message


def test_service_rules_beyond_the_model_are_invalid_parameter_values(member_key):
    for overrides, message in [
        ({"Runtime": "python3.12"}, "is not supported"),
        ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "reserved by Lambda"),
        ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "limit is 4 KB"),
        # A JSON null is an absent member, as in AWS's parsers.
        ({"Handler": None}, "Runtime and Handler are mandatory parameters"),
    ]:
        body = json.dumps(create_body(**overrides)).encode()
        status, code, text = answer(signed(member_key, "POST", "/2015-03-31/functions", body))
        assert (status, code) == (400, "InvalidParameterValueException")
        assert message in text
    assert not Function.objects.exists()


@pytest.mark.parametrize("left_out", [("Runtime",), ("Handler",), ("Runtime", "Handler")])
def test_a_zip_function_without_runtime_or_handler_is_refused_and_nothing_stored(lam, settings, left_out):
    # Lambda: "You must also specify the handler and runtime properties"
    # for a .zip package; no silent python3.11.
    request = {"FunctionName": "hello", "Runtime": "python3.11", "Role": ROLE,
               "Handler": "lambda_function.lambda_handler", "Code": {"ZipFile": zip_of()}}
    for member in left_out:
        del request[member]
    before = set(settings.STRATUS_CODE_DIR.iterdir()) if settings.STRATUS_CODE_DIR.exists() else set()
    with pytest.raises(ClientError) as e:
        lam.create_function(**request)
    assert error_code(e) == "InvalidParameterValueException"
    message = e.value.response["Error"]["Message"]
    assert "Runtime and Handler are mandatory parameters" in message
    assert f"{' and '.join(left_out)} missing" in message
    assert not Function.objects.exists()
    after = set(settings.STRATUS_CODE_DIR.iterdir()) if settings.STRATUS_CODE_DIR.exists() else set()
    assert after - before == set()


def test_a_zip_whose_path_is_a_file_and_a_folder_is_a_400_and_leaves_nothing(member_key, settings):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def lambda_handler(e, c): pass\n")
        zf.writestr("x", "a")
        zf.writestr("x/y.py", "b")
    body = json.dumps(create_body(Code={"ZipFile": base64.b64encode(buf.getvalue()).decode()})).encode()
    before = set(settings.STRATUS_CODE_DIR.iterdir()) if settings.STRATUS_CODE_DIR.exists() else set()
    status, code, message = answer(signed(member_key, "POST", "/2015-03-31/functions", body))
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "'x' is a file" in message
    assert set(settings.STRATUS_CODE_DIR.iterdir()) - before == set()
    assert not Function.objects.exists()


def test_it_creates_a_function_named_by_its_own_arn(lam, team):
    arn = f"arn:aws:lambda:us-east-1:{team.account_id}:function:by-arn"
    resp = lam.create_function(FunctionName=arn, Runtime="python3.11", Role=ROLE,
                               Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert resp["FunctionName"] == "by-arn"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=arn.replace(team.account_id, "999999999999"), Runtime="python3.11",
                            Role=ROLE, Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert error_code(e) == "InvalidParameterValueException"


def test_update_configuration_checks_types_and_keeps_the_old(member_key, make_function):
    fn = make_function("hello")
    path = "/2015-03-31/functions/hello/configuration"
    for body in [b'{"MemorySize": 1e400}', b'{"Timeout": false}', b'{"Role": ["x"]}', b'{"RevisionId": 5}',
                 b'{"Environment": {"Variables": {"OK_NAME": "\\u0000"}}}']:
        status, code, _ = answer(signed(member_key, "PUT", path, body))
        assert (status, code) == (400, "ValidationException"), body
    fn_after = Function.objects.get(pk=fn.pk)
    assert (fn_after.memory_mb, fn_after.timeout_s, fn_after.revision) == (128, 3, fn.revision)


def test_a_function_name_that_is_no_name_is_a_validation_error(member_key, make_function):
    make_function("hello")
    for name in ["hello%0A", "he%20llo", "a" * 300]:
        resp = signed(member_key, "GET", f"/2015-03-31/functions/{name}/configuration")
        assert (resp.status_code, resp["x-amzn-ErrorType"]) == (400, "ValidationException")


def test_list_functions_checks_its_query(member_key, make_function):
    make_function("hello")
    for query in ["MaxItems=1e400", "MaxItems=true", "MaxItems=10001", "Marker=%00"]:
        resp = signed(member_key, "GET", f"/2015-03-31/functions?{query}")
        assert (resp.status_code, resp["x-amzn-ErrorType"]) == (400, "ValidationException")
    # A marker is a NextMarker given before (opaque), not a name to list after.
    resp = signed(member_key, "GET", "/2015-03-31/functions?MaxItems=1&Marker=a")
    assert (resp.status_code, resp["x-amzn-ErrorType"]) == (400, "InvalidParameterValueException")


@pytest.mark.parametrize("path", [
    "/2015-03-31/functions/%2F%0A", "/2015-03-31/functions/x/%0A", "/2019-09-25/functions/x/%0A",
])
def test_unknown_paths_with_newlines_answer_in_the_api_shape(db, path):
    resp = asgi_client.call("DELETE", path)
    assert resp.status_code == 404
    assert resp["x-amzn-ErrorType"] == "UnknownOperationException"


def test_it_rejects_an_unknown_log_type(lam, make_function, finish_with):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", LogType="Everything", Payload=b"{}")
    assert (status_of(e), error_code(e)) == (400, "ValidationException")
    assert finish_with["calls"] == []


def test_an_unexpected_failure_of_the_invoke_door_answers_in_the_api_shape(
    lam, make_function, monkeypatch
):
    make_function("hello")

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(dispatch, "invoke_sync", broken)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", Payload=b"{}")
    assert (status_of(e), error_code(e)) == (500, "ServiceException")
