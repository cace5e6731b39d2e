"""Versions and aliases named by what runs a function from a stored target,
on the real stack: boto3's lambda/sqs/s3 clients through the AWS front
door, the console's Versions tab (requests, as the browser posts it) to
publish versions and keep aliases, the SQS poller, the /http/ routes and
S3 notifications, Celery and Docker.

The function answers the environment variable WHICH, which differs per
version ("one" in version 1, "two" in version 2 and "latest" in $LATEST),
so what ran is read from the answer as well as from
Invocation.function_version."""

import json

import pytest
import requests

from tests.integration.helpers import aws_clients, create, login, wait_for

pytestmark = pytest.mark.integration

WHICH = '''
import os

def handler(event, context):
    which = os.environ["WHICH"]
    print("WHICH " + which)
    if "rawPath" in event:
        return {"statusCode": 200, "body": which}
    return which
'''


@pytest.fixture(scope="module")
def clients(stack):
    return aws_clients(stack, "lambda", "sqs", "s3")


@pytest.fixture(scope="module")
def console(stack):
    return login(stack)


def post(stack, console, path: str, data: dict):
    url = f"{stack.url}{path}"
    resp = console.post(url, data=data, headers={
        "X-CSRFToken": console.cookies["csrftoken"], "Referer": url, "HX-Request": "true",
    })
    assert resp.status_code == 200, resp.text[:2000]
    return resp


@pytest.fixture(scope="module")
def fn(stack, clients, console):
    """Function `qual` with versions 1 (WHICH=one) and 2 (WHICH=two),
    $LATEST answering "latest", and alias `live` -> version 1, made through
    the console's Versions tab."""
    lam = clients["lambda"]
    create(lam, "qual", WHICH, Environment={"Variables": {"WHICH": "one"}})
    wait_for(lambda: lam.get_function(FunctionName="qual")["Configuration"]["State"] == "Active")
    fn_id = stack.rows("Function.objects.filter(name='qual').values_list('id', flat=True)")[0]
    base = f"/functions/{fn_id}"
    assert "Published version 1." in post(stack, console, f"{base}/versions/", {"description": "one"}).text
    lam.update_function_configuration(FunctionName="qual", Environment={"Variables": {"WHICH": "two"}})
    assert "Published version 2." in post(stack, console, f"{base}/versions/", {"description": "two"}).text
    lam.update_function_configuration(FunctionName="qual", Environment={"Variables": {"WHICH": "latest"}})
    made = post(stack, console, f"{base}/aliases/", {
        "new-alias-name": "live", "new-alias-function_version": "1",
    })
    assert "Created the alias live." in made.text
    return {"id": fn_id, "base": base}


def invocations(stack, **where) -> list:
    query = ", ".join(f"{k}={v!r}" for k, v in where.items())
    return stack.rows(
        f"Invocation.objects.filter(function__name='qual', {query}).order_by('created_at')"
        ".values('status', 'function_version', 'result', 'error', 'source')"
    )


def finished(stack, **where) -> list:
    return wait_for(lambda: [
        r for r in invocations(stack, **where) if r["status"] not in ("queued", "running")
    ], timeout=120)


# Event source mappings --------------------------------------------------------


def queue(clients, name: str) -> tuple[str, str]:
    sqs = clients["sqs"]
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "20"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_a_mapping_names_an_alias_and_answers_with_the_qualified_arn(stack, clients, fn):
    lam = clients["lambda"]
    _, arn = queue(clients, "qual-api")
    made = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="qual:live", Enabled=False)
    assert made["FunctionArn"].endswith(":function:qual:live")
    listed = lam.list_event_source_mappings(FunctionName="qual:live")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [made["UUID"]]
    assert lam.list_event_source_mappings(FunctionName="qual:2")["EventSourceMappings"] == []
    assert lam.get_event_source_mapping(UUID=made["UUID"])["FunctionArn"] == made["FunctionArn"]
    moved = lam.update_event_source_mapping(UUID=made["UUID"], FunctionName=made["FunctionArn"][:-5] + ":2")
    assert moved["FunctionArn"].endswith(":function:qual:2")

    with pytest.raises(lam.exceptions.ResourceNotFoundException) as missing:
        lam.create_event_source_mapping(EventSourceArn=queue(clients, "qual-x")[1], FunctionName="qual:nope")
    assert "qual:nope" in str(missing.value)
    lam.delete_event_source_mapping(UUID=made["UUID"])


def test_an_sqs_mapping_on_an_alias_runs_the_aliased_version(stack, clients, fn):
    lam, sqs = clients["lambda"], clients["sqs"]
    url, arn = queue(clients, "qual-orders")
    made = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="qual:live", BatchSize=1)
    try:
        sqs.send_message(QueueUrl=url, MessageBody="hi")
        (ran,) = finished(stack, trigger=f"event-source-mapping:{made['UUID']}")
        got = (ran["status"], ran["function_version"], json.loads(ran["result"]))
        assert got == ("succeeded", "1", "one")
    finally:
        lam.delete_event_source_mapping(UUID=made["UUID"])


# HTTP routes ------------------------------------------------------------------


def first_routed(stack, path: str) -> requests.Response:
    """The first answer to GET `path` once the web has loaded the new route."""
    def routed():
        resp = requests.get(f"{stack.url}{path}", timeout=60)
        return [resp] if resp.status_code != 404 else None

    return wait_for(routed)[0]


def test_a_route_on_a_missing_alias_answers_502_and_runs_nothing(stack, console, fn):
    base = fn["base"]
    post(stack, console, f"{base}/aliases/", {"new-alias-name": "brief", "new-alias-function_version": "2"})
    post(stack, console, f"{base}/triggers/routes/", {
        "method": "GET", "path": "/qual/brief", "auth": "none", "priority": "normal", "qualifier": "brief",
    })
    post(stack, console, f"{base}/aliases/brief/delete/", {})
    before = len(invocations(stack, source="http"))
    # Once the web has the new route (a moment), the alias is looked up at
    # the call: gone, so 502, never $LATEST's "latest".
    resp = first_routed(stack, "/http/qual/brief")
    assert resp.status_code == 502, resp.text
    assert resp.json() == {
        "message": f"Function not found: arn:aws:lambda:us-east-1:{_account(stack)}:function:qual:brief"
    }
    assert len(invocations(stack, source="http")) == before


def test_a_route_on_a_version_runs_that_version(stack, console, fn):
    post(stack, console, f"{fn['base']}/triggers/routes/", {
        "method": "GET", "path": "/qual/v2", "auth": "none", "priority": "normal", "qualifier": "2",
    })
    resp = first_routed(stack, "/http/qual/v2")
    assert (resp.status_code, resp.text) == (200, "two")
    ran = wait_for(lambda: invocations(stack, source="http", function_version="2"), timeout=60)
    assert ran[-1]["status"] == "succeeded"


# S3 notifications ---------------------------------------------------------------


def _account(stack) -> str:
    return stack.rows("Function.objects.filter(name='qual').values_list('team__account_id', flat=True)")[0]


def _notify(clients, bucket: str, function_arn: str) -> None:
    clients["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]},
        ],
    })


def test_an_s3_notification_refuses_a_missing_version_and_fails_an_event_for_a_deleted_alias(
    stack, clients, console, fn
):
    s3 = clients["s3"]
    s3.create_bucket(Bucket="qual-gone")
    arn = f"arn:aws:lambda:us-east-1:{_account(stack)}:function:qual"
    with pytest.raises(s3.exceptions.ClientError) as refused:
        _notify(clients, "qual-gone", arn + ":9")
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"

    alias = {"new-alias-name": "soon", "new-alias-function_version": "1"}
    post(stack, console, f"{fn['base']}/aliases/", alias)
    _notify(clients, "qual-gone", arn + ":soon")
    got = s3.get_bucket_notification_configuration(Bucket="qual-gone")
    assert got["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == arn + ":soon"
    post(stack, console, f"{fn['base']}/aliases/soon/delete/", {})
    s3.put_object(Bucket="qual-gone", Key="a.txt", Body=b"x")
    (failed,) = finished(stack, source="bucket")
    assert failed["status"] == "failed" and failed["result"] is None
    assert failed["error"]["errorType"] == "ResourceNotFoundException"
    assert failed["error"]["errorMessage"] == f"Function not found: {arn}:soon"
    # Kept for redrive, as any async event that could not be delivered.
    assert stack.rows("DeadLetter.objects.filter(function__name='qual').values_list('condition', flat=True)")


def test_an_s3_notification_on_a_version_runs_that_version(stack, clients, fn):
    s3 = clients["s3"]
    s3.create_bucket(Bucket="qual-v2")
    _notify(clients, "qual-v2", f"arn:aws:lambda:us-east-1:{_account(stack)}:function:qual:2")
    s3.put_object(Bucket="qual-v2", Key="b.txt", Body=b"y")
    ran = wait_for(lambda: [
        r for r in invocations(stack, source="bucket", status="succeeded") if r["function_version"] == "2"
    ], timeout=120)
    assert json.loads(ran[-1]["result"]) == "two"
