"""Lambda's REST API on the AWS front door (awsapi.door, functions.lambda_door),
through the production ASGI app with boto3 as the client: what the door
adds to the handlers (unknown operations, signatures, read-only keys, its
own failures and limits, headers) answers in Lambda's shapes."""

import json

import pytest
from botocore.exceptions import ClientError

from awsapi import door, services
from functions import service
from functions.models import Function, Membership
from invocations import dispatch
from invocations.models import EventInvokeConfig, Invocation
from tests.unit import asgi_client
from tests.unit.aws_clients import boto_lambda
from tests.unit.test_lambda_api import ROLE, error_code, status_of, zip_of
from tests.unit.test_sigv4 import sign


@pytest.fixture
def reader(reader_lam):
    return reader_lam


@pytest.fixture
def queued(monkeypatch):
    monkeypatch.setattr(dispatch, "queue", lambda *a, **kw: None)


# Unknown operations ----------------------------------------------------------


def test_an_operation_of_the_model_it_does_not_serve_is_unknown(lam, make_function):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.get_function_code_signing_config(FunctionName="hello")
    assert (status_of(e), error_code(e)) == (404, "UnknownOperationException")
    message = e.value.response["Error"]["Message"]
    assert "GetFunctionCodeSigningConfig" in message and "/functions/hello/code-signing-config" in message
    with pytest.raises(ClientError) as e:
        lam.get_runtime_management_config(FunctionName="hello")
    assert (status_of(e), error_code(e)) == (404, "UnknownOperationException")


def test_a_path_of_no_operation_is_unknown_in_lambdas_shape(member_key):
    key, secret = member_key
    path = "/2015-03-31/nothing-here"
    resp = asgi_client.call("GET", path, b"", sign("GET", path, b"", key.access_key_id, secret))
    assert resp.status_code == 404
    assert resp["x-amzn-ErrorType"] == "UnknownOperationException"
    assert resp.json() == {"Type": "User", "message": "Unknown operation GET /2015-03-31/nothing-here."}
    assert resp["x-amzn-RequestId"] == resp["X-Amz-Request-Id"]


def test_a_signed_unknown_operation_is_authenticated_first(db):
    path = "/2015-03-31/nothing-here"
    resp = asgi_client.call("GET", path, b"", sign("GET", path, b"", "AKIANOSUCHKEY0000000", "x"))
    assert (resp.status_code, resp["x-amzn-ErrorType"]) == (403, "UnrecognizedClientException")


def test_a_name_with_an_encoded_slash_is_no_operation(lam, make_function):
    make_function("hello")
    # botocore percent-encodes "/" in a label; it never reaches a handler.
    with pytest.raises(ClientError) as e:
        lam.get_function_configuration(FunctionName="hel/lo")
    assert (status_of(e), error_code(e)) == (404, "UnknownOperationException")


# Signatures --------------------------------------------------------------------


def test_a_bad_signature_changes_nothing(member_key, make_function):
    fn = make_function("hello")
    key, _ = member_key
    bad = boto_lambda(key.access_key_id, "not-the-secret")
    with pytest.raises(ClientError) as e:
        bad.update_function_configuration(FunctionName="hello", MemorySize=512)
    assert (status_of(e), error_code(e)) == (403, "InvalidSignatureException")
    with pytest.raises(ClientError) as e:
        bad.create_function(FunctionName="other", Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": zip_of()})
    assert error_code(e) == "InvalidSignatureException"
    assert list(Function.objects.values_list("name", "memory_mb")) == [("hello", 128)]
    assert Function.objects.get().revision == fn.revision


def test_a_body_changed_after_signing_is_refused(member_key, make_function):
    make_function("hello")
    key, secret = member_key
    path = "/2017-10-31/functions/hello/concurrency"
    headers = sign("PUT", path, b'{"ReservedConcurrentExecutions": 1}', key.access_key_id, secret)
    resp = asgi_client.call("PUT", path, b'{"ReservedConcurrentExecutions": 9}', headers)
    assert (resp.status_code, resp["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")
    assert resp.json()["Type"] == "User" and resp.json()["message"]
    assert Function.objects.get().reserved_concurrency is None


# Read-only keys ----------------------------------------------------------------


def test_a_read_only_key_reads_but_every_write_is_refused(reader, make_function, queued):
    fn = make_function("hello")
    assert [f["FunctionName"] for f in reader.list_functions()["Functions"]] == ["hello"]
    assert reader.get_function(FunctionName="hello")["Configuration"]["FunctionName"] == "hello"
    assert reader.get_function_configuration(FunctionName="hello")["MemorySize"] == 128
    assert "ReservedConcurrentExecutions" not in reader.get_function_concurrency(FunctionName="hello")
    writes = [
        (reader.update_function_configuration, {"MemorySize": 512}),
        (reader.update_function_code, {"ZipFile": zip_of()}),
        (reader.delete_function, {}),
        (reader.put_function_concurrency, {"ReservedConcurrentExecutions": 1}),
        (reader.delete_function_concurrency, {}),
        (reader.put_function_event_invoke_config, {"MaximumRetryAttempts": 0}),
        (reader.update_function_event_invoke_config, {"MaximumRetryAttempts": 0}),
        (reader.delete_function_event_invoke_config, {}),
        (reader.invoke_async, {"InvokeArgs": b"{}"}),
        # lambda:InvokeFunction is not a read (AWSLambda_ReadOnlyAccess lacks it).
        (reader.invoke, {"Payload": b"{}"}),
        (reader.invoke, {"Payload": b"{}", "InvocationType": "Event"}),
        (reader.invoke, {"Payload": b"{}", "InvocationType": "DryRun"}),
    ]
    for call, kwargs in writes:
        with pytest.raises(ClientError) as e:
            call(FunctionName="hello", **kwargs)
        assert (status_of(e), error_code(e)) == (403, "AccessDeniedException"), call
        assert "read-only" in e.value.response["Error"]["Message"]
    after = Function.objects.get()
    assert (after.memory_mb, after.revision, after.reserved_concurrency) == (128, fn.revision, None)
    assert not EventInvokeConfig.objects.exists() and not Invocation.objects.exists()


def test_a_member_made_read_only_can_no_longer_invoke(lam, users, team, make_function):
    make_function("hello")
    assert lam.invoke(FunctionName="hello", InvocationType="DryRun")["StatusCode"] == 204
    Membership.objects.filter(user=users["member"], team=team).update(role="readonly")
    Membership.objects.get(user=users["member"], team=team).save()  # as the team page saves it
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="hello", InvocationType="DryRun")
    assert (status_of(e), error_code(e)) == (403, "AccessDeniedException")
    assert "lambda:InvokeFunction" in e.value.response["Error"]["Message"]


# The door's own answers, in Lambda's words ---------------------------------------


def test_a_failure_of_ours_is_a_service_exception(lam, make_function, monkeypatch):
    make_function("hello")

    def broken(fn):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "delete_function", broken)
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="hello")
    assert (status_of(e), error_code(e)) == (500, "ServiceException")
    assert "a bug" not in str(e.value)


def test_a_body_over_the_limit_is_request_too_large(lam, monkeypatch):
    monkeypatch.setattr(services.get("lambda"), "max_body", 1000)
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="big", Runtime="python3.11", Role=ROLE,
                            Handler="lambda_function.lambda_handler",
                            Code={"ZipFile": zip_of("x = '" + "y" * 5000 + "'\n")})
    assert (status_of(e), error_code(e)) == (413, "RequestTooLargeException")
    assert not Function.objects.exists()


def test_answers_carry_request_ids_and_no_console_headers(lam, make_function):
    make_function("hello")
    resp = lam.get_function_configuration(FunctionName="hello")
    headers = resp["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-requestid"] == headers["x-amz-request-id"] == resp["ResponseMetadata"]["RequestId"]
    assert headers["content-type"] == "application/json"
    assert "x-frame-options" not in headers


def test_the_door_takes_lambdas_paths_and_leaves_the_rest(db):
    assert door.lambda_path("/2015-03-31/functions")
    assert door.lambda_path("/2014-11-13/functions/x/invoke-async/")
    assert not door.lambda_path("/2015-03-31/stratus-code/abc")
    assert not door.lambda_path("/functions/new/")


# InvokeAsync (2014-11-13) --------------------------------------------------------


def test_invoke_async_queues_the_event(lam, make_function, queued):
    make_function("hello")
    resp = lam.invoke_async(FunctionName="hello", InvokeArgs=b'{"a": 1}')
    assert resp["Status"] == 202
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    inv = Invocation.objects.get()
    assert (inv.status, inv.invocation_type, json.loads(inv.event)) == ("queued", "Event", {"a": 1})


def test_invoke_async_refuses_what_invoke_refuses(lam, make_function, queued):
    make_function("hello")
    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName="hello", InvokeArgs=b"not json")
    assert (status_of(e), error_code(e)) == (400, "InvalidRequestContentException")
    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName="nope", InvokeArgs=b"{}")
    assert (status_of(e), error_code(e)) == (404, "ResourceNotFoundException")
    assert not Invocation.objects.exists()


# A function's own credentials (awsapi.principals) ---------------------------------


def test_a_functions_credentials_are_held_to_its_execution_policy(make_function):
    from awsapi import principals
    from tests.unit.test_function_credentials import allow
    from tests.unit.test_function_credentials import client as boto_client

    fn, target = make_function("worker"), make_function("target")
    lam = boto_client("lambda", principals.issue(fn))
    with pytest.raises(ClientError) as e:
        lam.get_function_configuration(FunctionName="target")
    assert (status_of(e), error_code(e)) == (403, "AccessDeniedException")
    assert f"lambda:GetFunctionConfiguration on resource: {target.arn} because" in str(e.value)
    with pytest.raises(ClientError) as e:
        lam.list_functions()
    assert "lambda:ListFunctions on resource: * because" in str(e.value)
    allow(fn, {"Effect": "Allow", "Action": ["lambda:GetFunctionConfiguration",
                                             "lambda:PutFunctionConcurrency"], "Resource": target.arn})
    assert lam.get_function_configuration(FunctionName="target")["FunctionArn"] == target.arn
    assert lam.put_function_concurrency(FunctionName="target", ReservedConcurrentExecutions=1)[
        "ReservedConcurrentExecutions"] == 1
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="target")
    assert error_code(e) == "AccessDeniedException"
    assert Function.objects.filter(name="target").exists()


# The team's account settings ---------------------------------------------------------


def test_get_account_settings_gives_the_teams_limits_and_usage(lam, make_function, team, settings):
    settings.STRATUS_TEAM_CONCURRENCY = 20
    fn = make_function("hello")
    make_function("other")
    Function.objects.filter(pk=fn.pk).update(reserved_concurrency=5)
    answer = lam.get_account_settings()
    assert answer["AccountLimit"] == {
        "TotalCodeSize": 75 * 1024**3, "CodeSizeUnzipped": 250 * 1024**2, "CodeSizeZipped": 50 * 1024**2,
        "ConcurrentExecutions": 20, "UnreservedConcurrentExecutions": 15,
    }
    assert answer["AccountUsage"] == {"FunctionCount": 2, "TotalCodeSize": 2 * fn.code.size}
    team.concurrency_limit = 7
    team.save()
    assert lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 7


def test_put_function_concurrency_keeps_the_teams_unreserved_minimum(lam, make_function, settings):
    settings.STRATUS_TEAM_CONCURRENCY = 30
    make_function("hello")
    make_function("other")
    lam.put_function_concurrency(FunctionName="other", ReservedConcurrentExecutions=20)
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=8)
    assert (status_of(e), error_code(e)) == (400, "InvalidParameterValueException")
    assert e.value.response["Error"]["Message"].startswith(
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [3]."
    )
    assert Function.objects.get(name="hello").reserved_concurrency is None
    assert lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=7)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 3
