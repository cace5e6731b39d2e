"""Events that never ran because their alias was deleted, on the real
stack (uvicorn, Redis, Celery workers with the stream pollers, Docker),
driven by boto3: an SNS subscription and a Kinesis event source mapping
name an alias, the alias is deleted, and what they deliver afterwards is
recorded as a call that never ran. The console's invocation page (read
with requests, as the browser gets it) says why and shows no executed
version, billed duration or REPORT line; the dead letters show the
qualifier. Outcome asserts only (no timing)."""

import pytest

from tests.integration.helpers import aws_clients, create, login, settle, wait_for

pytestmark = pytest.mark.integration

SOURCE = '''
def handler(event, context):
    print("ran", context.function_version)
    return {"ran": context.function_version}
'''


@pytest.fixture(scope="module")
def clients(stack):
    return aws_clients(stack, "lambda", "sns", "kinesis")


@pytest.fixture(scope="module")
def console(stack):
    return login(stack)


@pytest.fixture(scope="module")
def fn(clients):
    lam = clients["lambda"]
    made = create(lam, "neverran", SOURCE)
    wait_for(lambda: lam.get_function(FunctionName="neverran")["Configuration"]["State"] == "Active")
    lam.publish_version(FunctionName="neverran", CodeSha256=made["CodeSha256"])
    return made


def rows(stack, where: str) -> list[dict]:
    return stack.rows(
        f"Invocation.objects.filter(function__name='neverran', {where}).order_by('created_at')"
        ".values('request_id', 'status', 'attempts', 'started_at', 'qualifier', 'error', 'source')"
    )


def page_of(stack, console, request_id) -> str:
    resp = console.get(f"{stack.url}/invocations/{request_id}/", timeout=60)
    assert resp.status_code == 200, resp.text[:2000]
    return resp.text


def assert_shown_as_never_ran(page: str, alias: str) -> None:
    assert f"Never ran: alias &#x27;{alias}&#x27; of function neverran does not exist" in page
    outcome = page[page.index('class="outcome"'):page.index("<h3>Logs</h3>")]
    assert "REPORT RequestId" not in outcome and "None ms" not in outcome
    assert '<dd class="executed-version"><span class="muted">—</span></dd>' in outcome
    assert "did not run" in outcome and ">warm<" not in outcome and ">cold<" not in outcome


def test_an_sns_event_for_a_deleted_alias_is_shown_as_never_ran(stack, clients, console, fn):
    lam, sns = clients["lambda"], clients["sns"]
    alias = lam.create_alias(FunctionName="neverran", Name="live", FunctionVersion="1")
    topic = sns.create_topic(Name="neverran-news")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=alias["AliasArn"])
    lam.delete_alias(FunctionName="neverran", Name="live")

    sns.publish(TopicArn=topic, Message="hello")
    (row,) = settle(lambda: rows(stack, "source='topic'"), lambda found: len(found) == 1)
    got = (row["status"], row["attempts"], row["started_at"], row["qualifier"])
    assert got == ("failed", 0, None, "live")
    assert row["error"]["errorType"] == "ResourceNotFoundException"
    assert_shown_as_never_ran(page_of(stack, console, row["request_id"]), "live")

    # The dead letters name the qualifier and why, not "Retries exhausted".
    dead = console.get(f"{stack.url}/dead-letters/", timeout=60).text
    # The row holding this event's id (the shared stack has other dead letters).
    at = dead.index(str(row["request_id"])[:8])
    line = dead[dead.rindex('<tr id="dl-', 0, at):]
    line = line[:line.index("</tr>")]
    assert "<code>live</code>" in line and "Retries exhausted" not in line
    assert "Never ran: alias &#x27;live&#x27; of function neverran does not exist" in line


def test_a_kinesis_batch_for_a_deleted_alias_leaves_a_never_ran_row(stack, clients, console, fn):
    lam, kinesis = clients["lambda"], clients["kinesis"]
    lam.create_alias(FunctionName="neverran", Name="blue", FunctionVersion="1")
    kinesis.create_stream(StreamName="neverran-orders", ShardCount=1)
    summary = kinesis.describe_stream_summary(StreamName="neverran-orders")
    arn = summary["StreamDescriptionSummary"]["StreamARN"]
    mapping = lam.create_event_source_mapping(
        FunctionName="neverran:blue", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=10,
    )
    try:
        assert mapping["FunctionArn"].endswith(":function:neverran:blue")
        lam.delete_alias(FunctionName="neverran", Name="blue")
        kinesis.put_record(StreamName="neverran-orders", Data=b"order-1", PartitionKey="k")

        trigger = f"trigger='event-source-mapping:{mapping['UUID']}'"
        found = settle(lambda: rows(stack, trigger), lambda got: len(got) >= 1)
        assert found, "the batch left no invocation row"
        row = found[0]
        assert (row["status"], row["attempts"], row["started_at"], row["qualifier"], row["source"]) == (
            "failed", 0, None, "blue", "kinesis")
        assert row["error"]["errorMessage"].endswith(":function:neverran:blue")
        assert_shown_as_never_ran(page_of(stack, console, row["request_id"]), "blue")
        # Retried before invocation: never run in its place, no row that ran.
        assert all(r["started_at"] is None for r in rows(stack, trigger))
        state = lam.get_event_source_mapping(UUID=mapping["UUID"])
        assert state["LastProcessingResult"].startswith("PROBLEM")
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
