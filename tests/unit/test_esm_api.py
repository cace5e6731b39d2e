"""The Lambda API's event source mapping operations with a boto3 `lambda`
client (tests.unit.aws_clients: botocore serialises, signs and parses;
the production ASGI app answers): shapes, defaults, limits per source
kind, states and Lambda's errors, with nothing stored on a refusal."""

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from mappings import sources
from mappings.models import EventSourceMapping, ShardCheckpoint
from messaging import queues, topics
from tests.unit.aws_clients import code_of, message_of

pytestmark = pytest.mark.django_db


def status(e) -> int:
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


class FakeStreams:
    """A stream kind standing in for the kinesis/tables apps' registrations
    (those apps live on other branches): streams named in `names` exist."""

    def __init__(self, kind: str, service: str):
        self.kind, self.service, self.names = kind, service, set()

    def matches(self, arn: str) -> bool:
        return arn.startswith(f"arn:aws:{self.service}:")

    def exists(self, team, arn: str) -> bool:
        return arn in self.names


@pytest.fixture
def streams():
    saved = list(sources._sources)
    kinesis, dynamodb = FakeStreams("kinesis", "kinesis"), FakeStreams("dynamodb", "dynamodb")
    sources.register(kinesis)
    sources.register(dynamodb)
    yield kinesis, dynamodb
    sources._sources[:] = saved


@pytest.fixture
def fn(make_function):
    return make_function("reader", timeout_s=10)


@pytest.fixture
def queue(team):
    return queues.create_queue(team, "jobs", visibility_timeout_s=30)


def kinesis_arn(team, name="clicks"):
    return f"arn:aws:kinesis:us-east-1:{team.account_id}:stream/{name}"


def ddb_arn(team, table="orders"):
    return f"arn:aws:dynamodb:us-east-1:{team.account_id}:table/{table}/stream/2026-11-30T00:00:00.000"


# Create / Get --------------------------------------------------------------


def test_create_an_sqs_mapping_with_lambdas_defaults_and_shape(lam, fn, queue, team):
    resp = lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName="reader")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["State"] == "Creating"
    assert resp["BatchSize"] == 10 and resp["MaximumBatchingWindowInSeconds"] == 0
    assert resp["EventSourceArn"] == queue.arn
    assert resp["FunctionArn"] == f"arn:aws:lambda:us-east-1:{team.account_id}:function:reader"
    assert resp["EventSourceMappingArn"] == (
        f"arn:aws:lambda:us-east-1:{team.account_id}:event-source-mapping:{resp['UUID']}"
    )
    assert resp["FunctionResponseTypes"] == []
    assert isinstance(resp["LastModified"], datetime)
    assert "StartingPosition" not in resp and "ParallelizationFactor" not in resp
    got = lam.get_event_source_mapping(UUID=resp["UUID"])
    assert got["State"] == "Enabled" and got["StateTransitionReason"] == "USER_INITIATED"
    row = EventSourceMapping.objects.get(pk=resp["UUID"])
    assert (row.kind, row.function, row.enabled) == ("sqs", fn, True)


def test_create_with_every_sqs_setting(lam, fn, queue):
    criteria = {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]}
    resp = lam.create_event_source_mapping(
        EventSourceArn=queue.arn, FunctionName=fn.name, BatchSize=50, MaximumBatchingWindowInSeconds=5,
        FilterCriteria=criteria, FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 3}, Enabled=False,
    )
    got = lam.get_event_source_mapping(UUID=resp["UUID"])
    assert got["State"] == "Disabled"
    assert got["BatchSize"] == 50 and got["MaximumBatchingWindowInSeconds"] == 5
    assert got["FilterCriteria"] == criteria
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert got["ScalingConfig"] == {"MaximumConcurrency": 3}


def test_create_a_stream_mapping(lam, fn, team, streams, queue):
    kinesis, dynamodb = streams
    kinesis.names.add(kinesis_arn(team))
    at = datetime(2026, 11, 1, tzinfo=UTC)
    resp = lam.create_event_source_mapping(
        EventSourceArn=kinesis_arn(team), FunctionName=fn.name, StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=at, ParallelizationFactor=4, MaximumRetryAttempts=3,
        MaximumRecordAgeInSeconds=3600, BisectBatchOnFunctionError=True, TumblingWindowInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": queue.arn}},
    )
    got = lam.get_event_source_mapping(UUID=resp["UUID"])
    assert got["BatchSize"] == 100  # the streams' default
    assert got["StartingPosition"] == "AT_TIMESTAMP" and got["StartingPositionTimestamp"] == at
    assert (got["ParallelizationFactor"], got["MaximumRetryAttempts"]) == (4, 3)
    assert (got["MaximumRecordAgeInSeconds"], got["TumblingWindowInSeconds"]) == (3600, 60)
    assert got["BisectBatchOnFunctionError"] is True
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": queue.arn}}
    dynamodb.names.add(ddb_arn(team))
    resp = lam.create_event_source_mapping(
        EventSourceArn=ddb_arn(team), FunctionName=fn.name, StartingPosition="TRIM_HORIZON"
    )
    got = lam.get_event_source_mapping(UUID=resp["UUID"])
    assert got["MaximumRetryAttempts"] == -1 and got["MaximumRecordAgeInSeconds"] == -1
    assert got["DestinationConfig"] == {"OnFailure": {}}
    assert EventSourceMapping.objects.get(pk=resp["UUID"]).kind == "dynamodb"


@pytest.mark.parametrize("extra, words", [
    ({"StartingPosition": "LATEST"}, "Unsupported parameter for SQS event sources: StartingPosition"),
    ({"ParallelizationFactor": 2}, "ParallelizationFactor"),
    ({"BatchSize": 11}, "Maximum batch window in seconds must be greater than 0"),
    ({"FilterCriteria": {"Filters": [{"Pattern": "{nope"}]}}, "Invalid filter pattern definition."),
    ({"FilterCriteria": {"Filters": [{"Pattern": '{"a": ["x"]}'}] * 6}}, "At most 5 filters"),
    ({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:x"}}},
     "DestinationConfig"),
    ({"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1"}, "KMSKeyArn is not supported"),
])
def test_sqs_refusals_store_nothing(lam, fn, queue, extra, words):
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name, **extra)
    assert (status(e), code_of(e)) == (400, "InvalidParameterValueException")
    assert words in message_of(e)
    assert not EventSourceMapping.objects.exists()


@pytest.mark.parametrize("extra, words", [
    ({}, "StartingPosition is required"),
    ({"StartingPosition": "LATEST", "ScalingConfig": {"MaximumConcurrency": 5}}, "ScalingConfig"),
    ({"StartingPosition": "AT_TIMESTAMP"}, "StartingPositionTimestamp must be provided"),
    ({"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30}, "MaximumRecordAgeInSeconds must be -1"),
    ({"StartingPosition": "LATEST", "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:"
      "us-east-1:123456789012:function:x"}}}, "an SQS queue or an SNS topic"),
    ({"StartingPosition": "LATEST", "DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:"
      "us-east-1:123456789012:x"}}}, "OnSuccess"),
])
def test_stream_refusals_store_nothing(lam, fn, team, streams, extra, words):
    streams[0].names.add(kinesis_arn(team))
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=kinesis_arn(team), FunctionName=fn.name, **extra)
    assert code_of(e) == "InvalidParameterValueException"
    assert words in message_of(e)
    assert not EventSourceMapping.objects.exists()


def test_an_on_failure_topic_of_the_team_is_taken(lam, fn, team, streams):
    streams[0].names.add(kinesis_arn(team))
    topic = topics.create_topic(team, "failures")
    resp = lam.create_event_source_mapping(
        EventSourceArn=kinesis_arn(team), FunctionName=fn.name, StartingPosition="LATEST",
        DestinationConfig={"OnFailure": {"Destination": topic.arn}},
    )
    assert resp["DestinationConfig"]["OnFailure"]["Destination"] == topic.arn


def test_a_missing_or_unknown_source_is_invalid(lam, fn, team, streams):
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(
            EventSourceArn=f"arn:aws:sqs:us-east-1:{team.account_id}:nope", FunctionName=fn.name
        )
    assert code_of(e) == "InvalidParameterValueException"
    assert "The specified queue does not exist" in message_of(e)
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(
            EventSourceArn=kinesis_arn(team, "gone"), FunctionName=fn.name, StartingPosition="LATEST"
        )
    assert message_of(e) == f"Stream not found: {kinesis_arn(team, 'gone')}"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(
            EventSourceArn="arn:aws:mq:us-east-1:123456789012:broker:b", FunctionName=fn.name
        )
    assert "Unrecognized event source" in message_of(e)
    assert not EventSourceMapping.objects.exists()


def test_a_second_mapping_of_the_same_function_and_source_conflicts(lam, fn, queue):
    first = lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name)
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name, BatchSize=5)
    assert (status(e), code_of(e)) == (409, "ResourceConflictException")
    assert first["UUID"] in message_of(e)
    assert EventSourceMapping.objects.count() == 1


def test_a_short_visibility_timeout_is_refused(lam, make_function, team):
    make_function("slow", timeout_s=60)
    queue = queues.create_queue(team, "quick", visibility_timeout_s=30)
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName="slow")
    assert message_of(e) == "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"


def test_an_unknown_function_or_mapping_is_not_found(lam, queue, fn):
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName="ghost")
    assert (status(e), code_of(e)) == (404, "ResourceNotFoundException")
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping):
        with pytest.raises(ClientError) as e:
            call(UUID="00000000-0000-0000-0000-000000000000")
        assert (status(e), code_of(e)) == (404, "ResourceNotFoundException")
        assert message_of(e) == "The resource you requested does not exist."


def test_another_teams_mapping_is_not_found(lam, stranger_lam, fn, queue):
    uuid = lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name)["UUID"]
    with pytest.raises(ClientError) as e:
        stranger_lam.get_event_source_mapping(UUID=uuid)
    assert code_of(e) == "ResourceNotFoundException"
    assert stranger_lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_a_reader_may_list_but_not_create(reader_lam, lam, fn, queue):
    lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name)
    assert len(reader_lam.list_event_source_mappings()["EventSourceMappings"]) == 1
    with pytest.raises(ClientError):
        reader_lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name)
    assert EventSourceMapping.objects.count() == 1


def test_out_of_model_range_is_a_validation_error(lam, fn, queue):
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name, BatchSize=10001)
    assert code_of(e) == "ValidationException"
    assert "batchSize" in message_of(e)
    assert not EventSourceMapping.objects.exists()


# List ----------------------------------------------------------------------


def test_list_filters_and_pages(lam, make_function, team):
    names = [f"f{i}" for i in range(3)]
    for name in names:
        make_function(name)
    made = []
    for i in range(3):
        q = queues.create_queue(team, f"q{i}")
        for name in names[: i + 1]:
            made.append(lam.create_event_source_mapping(EventSourceArn=q.arn, FunctionName=name)["UUID"])
    everything = lam.list_event_source_mappings()["EventSourceMappings"]
    assert [m["UUID"] for m in everything] == made
    q2 = queues.create_queue(team, "unused")
    assert lam.list_event_source_mappings(EventSourceArn=q2.arn)["EventSourceMappings"] == []
    by_fn = lam.list_event_source_mappings(FunctionName="f2")["EventSourceMappings"]
    assert len(by_fn) == 1
    arn = by_fn[0]["FunctionArn"]
    assert len(lam.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]) == 1
    seen, marker = [], None
    while True:
        page = lam.list_event_source_mappings(MaxItems=4, **({"Marker": marker} if marker else {}))
        seen += [m["UUID"] for m in page["EventSourceMappings"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == made
    paginated = [m["UUID"] for p in lam.get_paginator("list_event_source_mappings").paginate(
        PaginationConfig={"PageSize": 2}) for m in p["EventSourceMappings"]]
    assert paginated == made


@pytest.mark.parametrize("max_items, words", [
    (0, "greater than or equal to 1"), (10001, "less than or equal to 10000"),
])
def test_max_items_out_of_range_is_a_validation_error(lam, max_items, words):
    with pytest.raises(ClientError) as e:
        lam.list_event_source_mappings(MaxItems=max_items)
    assert code_of(e) == "ValidationException"
    assert f"'{max_items}' at 'maxItems'" in message_of(e) and words in message_of(e)


def test_a_bad_marker_is_invalid(lam):
    with pytest.raises(ClientError) as e:
        lam.list_event_source_mappings(Marker="nonsense")
    assert code_of(e) == "InvalidParameterValueException"


# Update / Delete ---------------------------------------------------------------


def test_update_changes_only_what_is_given_and_reports_transitions(lam, fn, queue):
    uuid = lam.create_event_source_mapping(
        EventSourceArn=queue.arn, FunctionName=fn.name, BatchSize=5,
        FilterCriteria={"Filters": [{"Pattern": '{"body": ["x"]}'}]},
    )["UUID"]
    resp = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["State"] == "Disabling" and resp["BatchSize"] == 5
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    resp = lam.update_event_source_mapping(
        UUID=uuid, BatchSize=7, FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 2},
    )
    assert resp["State"] == "Updating"
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled" and got["BatchSize"] == 7
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": ["x"]}'}]}
    assert got["ScalingConfig"] == {"MaximumConcurrency": 2}
    lam.update_event_source_mapping(UUID=uuid, FilterCriteria={}, ScalingConfig={}, FunctionResponseTypes=[])
    got = lam.get_event_source_mapping(UUID=uuid)
    assert "FilterCriteria" not in got and "ScalingConfig" not in got
    assert got["FunctionResponseTypes"] == []


def test_a_refused_update_changes_nothing(lam, fn, queue):
    uuid = lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name)["UUID"]
    before = lam.get_event_source_mapping(UUID=uuid)
    for bad in ({"BatchSize": 100}, {"FilterCriteria": {"Filters": [{"Pattern": '{"a": []}'}]}},
                {"ScalingConfig": {"MaximumConcurrency": 1}}):
        with pytest.raises(ClientError) as e:
            lam.update_event_source_mapping(UUID=uuid, Enabled=False, **bad)
        assert code_of(e) in ("InvalidParameterValueException", "ValidationException")
    after = lam.get_event_source_mapping(UUID=uuid)
    for key in ("BatchSize", "State", "LastModified", "FunctionResponseTypes"):
        assert after[key] == before[key]


def test_update_moves_the_mapping_to_another_function(lam, fn, make_function, queue):
    make_function("other", timeout_s=10)
    uuid = lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name)["UUID"]
    resp = lam.update_event_source_mapping(UUID=uuid, FunctionName="other")
    assert resp["FunctionArn"].endswith(":function:other")
    lam.create_event_source_mapping(EventSourceArn=queue.arn, FunctionName=fn.name)
    with pytest.raises(ClientError) as e:
        lam.update_event_source_mapping(UUID=uuid, FunctionName=fn.name)
    assert code_of(e) == "ResourceConflictException"


def test_delete_answers_deleting_and_removes_the_mapping_and_checkpoints(lam, fn, team, streams):
    streams[0].names.add(kinesis_arn(team))
    uuid = lam.create_event_source_mapping(
        EventSourceArn=kinesis_arn(team), FunctionName=fn.name, StartingPosition="LATEST"
    )["UUID"]
    ShardCheckpoint.objects.create(mapping_id=uuid, shard_id="shardId-000000000000", sequence_number=5)
    resp = lam.delete_event_source_mapping(UUID=uuid)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["State"] == "Deleting" and resp["UUID"] == uuid
    assert not EventSourceMapping.objects.exists() and not ShardCheckpoint.objects.exists()
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=uuid)
    assert code_of(e) == "ResourceNotFoundException"


# Execution policies ------------------------------------------------------------


def test_resources_name_the_mapping_arn(team):
    from types import SimpleNamespace

    from mappings.lambda_esm_api import resources

    context = SimpleNamespace(team=team)
    uuid = "11111111-2222-3333-4444-555555555555"
    assert resources(context, "GetEventSourceMapping", {"UUID": uuid}) == [(
        "lambda:GetEventSourceMapping",
        f"arn:aws:lambda:us-east-1:{team.account_id}:event-source-mapping:{uuid}",
    )]
    assert resources(context, "CreateEventSourceMapping", {"FunctionName": "x"}) == [
        ("lambda:CreateEventSourceMapping", "*")
    ]


def test_extend_adds_operations_before_or_after_the_service_registers(monkeypatch):
    from awsapi import services

    monkeypatch.setattr(services, "_services", {})
    monkeypatch.setattr(services, "_extensions", {})
    services.extend("svc", {"Early": lambda c, p: {}}, reads={"Early"},
                    resources=lambda c, op, p: [("svc:Early", "arn:early")])
    services.register("svc", {"Base": lambda c, p: {}}, resources=lambda c, op, p: [("svc:Base", "*")])
    services.extend("svc", {"Late": lambda c, p: {}})
    service = services.get("svc")
    assert set(service.handlers) == {"Base", "Early", "Late"}
    assert service.reads == {"Early"} and service.is_write("Late")
    assert service.resources(None, "Early", {}) == [("svc:Early", "arn:early")]
    assert service.resources(None, "Base", {}) == [("svc:Base", "*")]
    # Registering again (the owner's ready() twice) keeps the additions.
    services.register("svc", {"Base": lambda c, p: {}})
    assert set(services.get("svc").handlers) == {"Base", "Early", "Late"}


def test_the_lambda_service_serves_the_mapping_operations():
    from awsapi import services
    from mappings.lambda_esm_api import HANDLERS

    lam = services.get("lambda")
    assert set(HANDLERS) <= set(lam.handlers)
    assert lam.check_input is not None
    assert {"ListFunctions", "ListEventSourceMappings", "GetEventSourceMapping"} <= lam.reads
