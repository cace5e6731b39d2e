"""Event invoke configs per qualifier ($LATEST, a version, an alias):
the API through a real boto3 client against the production ASGI app, and
async delivery following the config of the qualifier a call was made with."""

import json

import pytest
from botocore.exceptions import ClientError

from functions import qualifiers, versions
from invocations import delivery, dispatch, runner
from invocations.models import EventInvokeConfig, Invocation
from tests.unit.test_delivery import queued_tasks, run_until_final, worker  # noqa: F401 - fixtures
from tests.unit.test_lambda_api import error_code


@pytest.fixture
def published(make_function):
    fn = make_function("hello")
    sink = make_function("sink")
    version, _ = versions.publish(fn)
    versions.create_alias(fn, name="live", function_version=str(version.version))
    return fn, sink


def test_each_qualifier_has_its_own_config(lam, published):
    fn, sink = published
    lam.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=2)
    live = lam.put_function_event_invoke_config(
        FunctionName="hello", Qualifier="live", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": sink.arn}},
    )
    assert live["FunctionArn"] == f"{fn.arn}:live"
    by_name = lam.put_function_event_invoke_config(FunctionName="hello:1", MaximumEventAgeInSeconds=60)
    assert by_name["FunctionArn"] == f"{fn.arn}:1"
    assert lam.get_function_event_invoke_config(FunctionName="hello")["MaximumRetryAttempts"] == 2
    got = lam.get_function_event_invoke_config(FunctionName="hello", Qualifier="live")
    assert got["MaximumRetryAttempts"] == 0
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == sink.arn
    updated = lam.update_function_event_invoke_config(
        FunctionName=f"{fn.arn}:live", MaximumEventAgeInSeconds=120)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 120)
    listed = lam.list_function_event_invoke_configs(FunctionName="hello")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{fn.arn}:$LATEST", f"{fn.arn}:1", f"{fn.arn}:live"]
    lam.delete_function_event_invoke_config(FunctionName="hello", Qualifier="live")
    assert sorted(EventInvokeConfig.objects.values_list("qualifier", flat=True)) == ["$LATEST", "1"]
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="hello", Qualifier="live")
    assert error_code(e) == "ResourceNotFoundException"
    assert f"{fn.arn}:live doesn't have an EventInvokeConfig" in str(e.value)


def test_latest_qualifier_is_the_unqualified_config(lam, published):
    fn, _ = published
    lam.put_function_event_invoke_config(FunctionName="hello", Qualifier="$LATEST", MaximumRetryAttempts=1)
    assert lam.get_function_event_invoke_config(FunctionName="hello")["MaximumRetryAttempts"] == 1
    assert EventInvokeConfig.objects.get().qualifier == "$LATEST"


def test_a_missing_qualifier_is_not_found_and_stores_nothing(lam, published):
    for qualifier in ("7", "nope"):
        with pytest.raises(ClientError) as e:
            lam.put_function_event_invoke_config(
                FunctionName="hello", Qualifier=qualifier, MaximumRetryAttempts=0)
        assert error_code(e) == "ResourceNotFoundException"
    assert not EventInvokeConfig.objects.exists()


def test_list_pages_and_refuses_a_qualified_name(lam, published):
    fn, _ = published
    for qualifier in ("$LATEST", "1", "live"):
        lam.put_function_event_invoke_config(
            FunctionName="hello", Qualifier=qualifier, MaximumRetryAttempts=0)
    first = lam.list_function_event_invoke_configs(FunctionName="hello", MaxItems=2)
    assert len(first["FunctionEventInvokeConfigs"]) == 2 and first["NextMarker"] == "1"
    rest = lam.list_function_event_invoke_configs(FunctionName="hello", Marker=first["NextMarker"])
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [f"{fn.arn}:live"]
    assert "NextMarker" not in rest
    for kwargs in ({"FunctionName": "hello:live"}, {"FunctionName": "hello", "Marker": "bogus"}):
        with pytest.raises(ClientError) as e:
            lam.list_function_event_invoke_configs(**kwargs)
        assert error_code(e) == "InvalidParameterValueException"


def test_an_alias_event_follows_the_alias_config(worker, queued_tasks, make_function):  # noqa: F811
    fn = worker["fn"]
    sink = make_function("sink")
    version, _ = versions.publish(fn)
    versions.create_alias(fn, name="live", function_version=str(version.version))
    # $LATEST would retry twice with no destination; the alias: no retry, a destination.
    EventInvokeConfig.objects.create(
        function=fn, qualifier="live", maximum_retry_attempts=0, on_failure=sink.arn)
    resolved = qualifiers.resolve(fn, "live")
    inv = dispatch.submit_async(resolved, '{"order": 7}', source="api")
    assert inv.qualifier == "live" and inv.function_version == str(version.version)
    assert delivery.invoked_qualifier(inv) == "live"
    inv = run_until_final(Invocation.objects.get(pk=inv.pk), queued_tasks)
    assert inv.status == "failed" and inv.attempts == 1
    record = json.loads(Invocation.objects.get(function=sink).event)
    assert record["requestContext"]["functionArn"] == f"{fn.arn}:live"
    assert record["responseContext"]["executedVersion"] == str(version.version)


def test_a_call_without_its_qualifier_config_gets_the_defaults(worker, queued_tasks, make_function):  # noqa: F811
    fn = worker["fn"]
    version, _ = versions.publish(fn)
    # Only $LATEST has a config: a call of version 1 does not borrow it (Lambda).
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=0)
    inv = dispatch.submit_async(qualifiers.resolve(fn, "1"), "{}", source="api")
    assert inv.origin is None and delivery.invoked_qualifier(inv) == "1"
    runner.run_async(str(inv.request_id))
    inv.refresh_from_db()
    assert inv.status == "queued" and inv.attempts == 1  # retrying, as the default says
    assert delivery.config_of(inv).pk is None and delivery.config_of(inv).maximum_retry_attempts == 2


def test_migration_keeps_old_rows_as_latest(make_function):
    fn = make_function("old")
    EventInvokeConfig.objects.create(function=fn, maximum_retry_attempts=1)
    assert delivery.config_for(fn).maximum_retry_attempts == 1
    assert delivery.config_for(fn, "$LATEST").maximum_retry_attempts == 1


def test_deleting_an_alias_or_version_drops_its_config(lam, published):
    fn, _ = published
    for qualifier in ("$LATEST", "1", "live"):
        lam.put_function_event_invoke_config(
            FunctionName="hello", Qualifier=qualifier, MaximumRetryAttempts=0)
    lam.delete_alias(FunctionName="hello", Name="live")
    assert sorted(EventInvokeConfig.objects.values_list("qualifier", flat=True)) == ["$LATEST", "1"]
    lam.delete_function(FunctionName="hello", Qualifier="1")
    assert list(EventInvokeConfig.objects.values_list("qualifier", flat=True)) == ["$LATEST"]


def test_an_alias_event_is_told_the_alias_arn(published):
    fn, _ = published
    inv = dispatch.submit_async(qualifiers.resolve(fn, "live"), "{}", source="api")
    request = runner._request(inv, runner.function_for(str(fn.id), None, "1"), deadline=0)
    assert request["invokedFunctionArn"] == f"{fn.arn}:live"
    assert request["functionVersion"] == "1"
    plain = dispatch.submit_async(qualifiers.resolve(fn, None), "{}", source="api")
    assert plain.origin is None
    assert runner._request(plain, fn, deadline=0)["invokedFunctionArn"] == fn.arn


def test_an_event_for_a_vanished_alias_falls_back_to_the_function_config(published):
    fn, sink = published
    EventInvokeConfig.objects.create(function=fn, on_failure=sink.arn)
    inv = dispatch.submit_async(qualifiers.resolve(fn, "live"), "{}", source="api")
    assert delivery.config_of(inv).pk is None  # the alias exists, without a config: defaults
    versions.delete_alias(fn, "live")
    assert delivery.config_of(inv).on_failure == sink.arn


def test_a_redrive_goes_to_the_alias_again(published):
    from invocations.models import DeadLetter

    fn, _ = published
    inv = dispatch.submit_async(qualifiers.resolve(fn, "live"), '{"n": 1}', source="api")
    dead = DeadLetter.objects.create(
        invocation=inv, function=fn, event=inv.event, condition="RetriesExhausted")
    again = delivery.redrive(dead)
    assert again.origin == {"dead_letter": str(dead.pk)} and again.qualifier == "live"
    assert again.function_version == "1" and again.status == "queued"


def test_a_reader_lists_and_a_stranger_finds_nothing(lam, reader_lam, stranger_lam, published):
    fn, _ = published
    lam.put_function_event_invoke_config(FunctionName="hello", Qualifier="live", MaximumRetryAttempts=0)
    listed = reader_lam.list_function_event_invoke_configs(FunctionName="hello")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{fn.arn}:live"]
    with pytest.raises(ClientError) as e:
        reader_lam.delete_function_event_invoke_config(FunctionName="hello", Qualifier="live")
    assert error_code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        stranger_lam.list_function_event_invoke_configs(FunctionName="hello")
    assert error_code(e) == "ResourceNotFoundException"
    assert EventInvokeConfig.objects.count() == 1


def test_deleting_the_function_sends_an_alias_event_to_the_alias_destination(
    published, make_function, monkeypatch, django_capture_on_commit_callbacks
):
    from functions import service

    monkeypatch.setattr("invocations.dispatch.queue", lambda *a, **kw: None)
    fn, sink = published
    alias_sink = make_function("alias-sink")
    EventInvokeConfig.objects.create(function=fn, on_failure=sink.arn)
    EventInvokeConfig.objects.create(function=fn, qualifier="live", on_failure=alias_sink.arn)
    dispatch.submit_async(qualifiers.resolve(fn, "live"), '{"via": "alias"}', source="api")
    dispatch.submit_async(qualifiers.resolve(fn, None), '{"via": "none"}', source="api")
    with django_capture_on_commit_callbacks(execute=True):
        deleted = service.delete_function(fn)
    assert (deleted.cancelled, deleted.delivered) == (2, 2)
    (to_alias,) = Invocation.objects.filter(function=alias_sink)
    record = json.loads(to_alias.event)
    assert record["requestPayload"] == {"via": "alias"}
    assert record["requestContext"]["functionArn"] == f"{fn.arn}:live"
    assert record["requestContext"]["condition"] == "FunctionDeleted"
    (to_latest,) = Invocation.objects.filter(function=sink)
    assert json.loads(to_latest.event)["requestPayload"] == {"via": "none"}
