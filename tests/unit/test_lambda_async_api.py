"""Put/Update/Get/DeleteFunctionEventInvokeConfig, Put/Get/Delete
FunctionConcurrency and InvokeAsync through a real boto3 client against
the production ASGI application (see test_lambda_api)."""

import pytest
from botocore.exceptions import ClientError

from functions.models import ApiKey, Function
from invocations.models import EventInvokeConfig
from tests.unit import asgi_client
from tests.unit.test_lambda_api import error_code, status_of


@pytest.fixture
def reader(reader_lam):
    return reader_lam


@pytest.fixture
def stranger(stranger_lam):
    return stranger_lam


@pytest.fixture
def fns(make_function):
    return make_function("hello"), make_function("sink")


# Event invoke config ---------------------------------------------------------------


def test_it_puts_and_gets_an_event_invoke_config(lam, fns):
    fn, sink = fns
    resp = lam.put_function_event_invoke_config(
        FunctionName="hello", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=600,
        DestinationConfig={"OnFailure": {"Destination": sink.arn}},
    )
    assert resp["FunctionArn"] == f"{fn.arn}:$LATEST"
    assert (resp["MaximumRetryAttempts"], resp["MaximumEventAgeInSeconds"]) == (1, 600)
    assert resp["DestinationConfig"] == {"OnFailure": {"Destination": sink.arn}}
    assert resp["LastModified"].year >= 2024
    got = lam.get_function_event_invoke_config(FunctionName=fn.arn)
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": sink.arn}}


def test_put_replaces_and_update_changes_only_what_it_names(lam, fns):
    _, sink = fns
    lam.put_function_event_invoke_config(
        FunctionName="hello", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": sink.arn}},
    )
    updated = lam.update_function_event_invoke_config(FunctionName="hello", MaximumEventAgeInSeconds=60)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 60)
    assert updated["DestinationConfig"] == {"OnSuccess": {"Destination": sink.arn}}
    replaced = lam.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=1)
    assert (replaced["MaximumRetryAttempts"], replaced["MaximumEventAgeInSeconds"]) == (1, 21600)
    assert replaced["DestinationConfig"] == {}


@pytest.mark.parametrize("kwargs,code,message", [
    ({"MaximumRetryAttempts": 3}, "ValidationException",
     "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
     "Member must have value less than or equal to 2"),
    ({"MaximumEventAgeInSeconds": 30}, "ValidationException",
     "Value '30' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
     "Member must have value greater than or equal to 60"),
    ({"MaximumRetryAttempts": True}, "ValidationException", "Member must be a whole number"),
    ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}}},
     "InvalidParameterValueException", "belongs to another account"),
])
def test_it_refuses_bad_values_and_stores_nothing(lam, fns, kwargs, code, message):
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="hello", **kwargs)
    assert (status_of(e), error_code(e)) == (400, code)
    assert message in e.value.response["Error"]["Message"]
    assert not EventInvokeConfig.objects.exists()


def test_it_refuses_an_unknown_destination(lam, fns, team):
    missing = f"arn:aws:lambda:us-east-1:{team.account_id}:function:nope"
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(
            FunctionName="hello", DestinationConfig={"OnFailure": {"Destination": missing}}
        )
    assert error_code(e) == "InvalidParameterValueException"
    assert "does not exist in team alpha" in str(e.value)


def test_get_and_delete_without_a_config_are_not_found(lam, fns):
    for call in (lam.get_function_event_invoke_config, lam.delete_function_event_invoke_config):
        with pytest.raises(ClientError) as e:
            call(FunctionName="hello")
        assert (status_of(e), error_code(e)) == (404, "ResourceNotFoundException")
        assert "doesn't have an EventInvokeConfig" in str(e.value)


def test_it_deletes_a_config(lam, fns):
    lam.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=0)
    resp = lam.delete_function_event_invoke_config(FunctionName="hello")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not EventInvokeConfig.objects.exists()


def test_a_read_only_member_reads_but_cannot_change(lam, reader, fns):
    lam.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=0)
    assert reader.get_function_event_invoke_config(FunctionName="hello")["MaximumRetryAttempts"] == 0
    with pytest.raises(ClientError) as e:
        reader.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=2)
    assert (status_of(e), error_code(e)) == (403, "AccessDeniedException")
    with pytest.raises(ClientError) as e:
        reader.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=1)
    assert error_code(e) == "AccessDeniedException"


def test_another_teams_function_is_not_found(stranger, fns):
    for call, kwargs in [
        (stranger.get_function_event_invoke_config, {}),
        (stranger.put_function_concurrency, {"ReservedConcurrentExecutions": 1}),
        (stranger.get_function_concurrency, {}),
    ]:
        with pytest.raises(ClientError) as e:
            call(FunctionName="hello", **kwargs)
        assert (status_of(e), error_code(e)) == (404, "ResourceNotFoundException")


# Function concurrency ------------------------------------------------------------


def test_it_puts_gets_and_deletes_reserved_concurrency(lam, fns):
    fn, _ = fns
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="hello")
    resp = lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=3)
    assert resp["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName="hello")["ReservedConcurrentExecutions"] == 3
    revision = fn.revision
    fn.refresh_from_db()
    assert fn.reserved_concurrency == 3 and fn.revision == revision
    assert lam.delete_function_concurrency(FunctionName="hello")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert Function.objects.get(pk=fn.pk).reserved_concurrency is None


def test_it_refuses_a_reserved_concurrency_out_of_range(lam, fns):
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=-1)
    assert (status_of(e), error_code(e)) == (400, "ValidationException")
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=10**6)
    assert (status_of(e), error_code(e)) == (400, "InvalidParameterValueException")
    assert Function.objects.get(name="hello").reserved_concurrency is None


def test_an_unknown_path_under_the_later_dates_answers_in_the_api_shape(db):
    resp = asgi_client.call("GET", "/2019-09-25/functions/hello/nothing-here")
    assert resp.status_code == 404
    assert resp["x-amzn-ErrorType"] == "UnknownOperationException"


# Bad input, sent raw ---------------------------------------------------------------


@pytest.fixture
def raw(users, team):
    from tests.unit.test_lambda_api import signed

    key = ApiKey.issue(users["member"], team)
    return lambda method, path, body: signed(key, method, path, body)


@pytest.mark.parametrize("body", [
    b'{"ReservedConcurrentExecutions": "5"}', b'{"ReservedConcurrentExecutions": 1e400}',
    b'{"ReservedConcurrentExecutions": true}', b'{"ReservedConcurrentExecutions": 2.5}',
    b'{"ReservedConcurrentExecutions": null}', b"{}", b'{"ReservedConcurrentExecutions": {}}',
])
def test_put_concurrency_wants_a_whole_number(raw, fns, body):
    resp = raw("PUT", "/2017-10-31/functions/hello/concurrency", body)
    assert (resp.status_code, resp["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert Function.objects.get(name="hello").reserved_concurrency is None


@pytest.mark.parametrize("body", [
    b'{"MaximumRetryAttempts": 1e400}', b'{"MaximumRetryAttempts": "1"}',
    b'{"MaximumEventAgeInSeconds": false}', b'{"DestinationConfig": []}',
    b'{"DestinationConfig": {"OnFailure": "arn:aws:lambda:us-east-1:123456789012:function:x"}}',
    b'{"DestinationConfig": {"OnFailure": {"Destination": 5}}}',
    b'{"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:1:function:x\\n"}}}',
])
@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_event_invoke_config_checks_types_and_stores_nothing(raw, fns, body, method):
    resp = raw(method, "/2019-09-25/functions/hello/event-invoke-config", body)
    assert (resp.status_code, resp["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert not EventInvokeConfig.objects.exists()
