"""Topics and queues on the real path: console forms and the signed JSON API
-> daphne -> rows -> beat's queue poller / fan-out -> Celery -> Docker."""

import json
import re

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.helpers import create, login, wait_for
from triggers.webhooks import signature_for

pytestmark = pytest.mark.integration

PRINTER = '''
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
'''

BATCHER = '''
def handler(event, context):
    failures = []
    for record in event["Records"]:
        print("GOT", record["body"], record["attributes"]["ApproximateReceiveCount"])
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
'''


@pytest.fixture(scope="module")
def client(stack):
    return stack.lambda_client()


@pytest.fixture(scope="module")
def console(stack):
    return login(stack)


@pytest.fixture(scope="module")
def api(stack):
    key, secret = stack.api_key()

    def post(path: str, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        req = AWSRequest(method="POST", url=stack.url + path, data=body,
                         headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(req)
        resp = requests.post(stack.url + path, data=body, headers=dict(req.headers), timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    return post


def submit(stack, console, path: str, data: dict) -> str:
    """Post a console form; it must succeed (redirect), return where to."""
    resp = console.post(
        stack.url + path,
        data={**data, "csrfmiddlewaretoken": console.cookies["csrftoken"]},
        headers={"Referer": stack.url + path},
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text[-3000:]
    return resp.headers["Location"]


def ids(stack, name: str) -> dict:
    return stack.rows(f"Function.objects.filter(name={name!r}).values('id', 'team_id')")[0]


def logs_of(stack, name: str) -> list[dict]:
    return stack.rows(
        f"Invocation.objects.filter(function__name={name!r}).values('status', 'logs', 'event', 'source')"
    )


def test_it_fans_out_a_topic_message_to_every_matching_subscriber(stack, client, console, api):
    names = ["sub1", "sub2", "sub3", "sub4"]
    for name in names:
        create(client, name, PRINTER)
    team_id = ids(stack, "sub1")["team_id"]
    topic_url = submit(stack, console, "/topics/", {"team": team_id, "name": "news"})
    for name in names:
        policy = '{"color": ["blue"]}' if name == "sub4" else '{"color": ["red", "green"]}'
        submit(stack, console, topic_url + "subscriptions/", {
            "function": ids(stack, name)["id"], "priority": "normal", "filter_policy": policy,
        })

    message_id = api("/api/topics/news/publish", {
        "Message": "hello subscribers", "Subject": "Greeting",
        "MessageAttributes": {"color": {"DataType": "String", "StringValue": "red"}},
    })["MessageId"]

    for name in names[:3]:
        rows = wait_for(lambda n=name: [r for r in logs_of(stack, n) if r["status"] == "succeeded"])
        assert len(rows) == 1 and rows[0]["source"] == "topic"
        line = next(x for x in rows[0]["logs"].splitlines() if x.startswith("EVENT "))
        record = json.loads(line[len("EVENT "):])["Records"][0]
        assert record["EventSource"] == "aws:sns"
        assert record["Sns"]["Message"] == "hello subscribers"
        assert record["Sns"]["MessageId"] == message_id
        assert record["Sns"]["Subject"] == "Greeting"
        assert record["Sns"]["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
        assert record["Sns"]["TopicArn"].endswith(":news")
    # All deliveries are written with the message, so none is still to come.
    assert logs_of(stack, "sub4") == []
    assert stack.rows(
        "TopicMessage.objects.filter(topic__name='news').values_list('deliveries', flat=True)"
    ) == [3]


def test_it_consumes_a_queue_with_partial_failure_redelivery_and_dead_letters(
    stack, client, console, api
):
    create(client, "batcher", BATCHER, Timeout=2)
    team_id = ids(stack, "batcher")["team_id"]
    submit(stack, console, "/queues/", {
        "team": team_id, "name": "dead", "visibility_timeout_s": "30", "max_receive_count": "5",
    })
    dead_id = stack.rows("Queue.objects.filter(name='dead').values_list('id', flat=True)")[0]
    queue_url = submit(stack, console, "/queues/", {
        "team": team_id, "name": "work", "visibility_timeout_s": "2", "max_receive_count": "2",
        "dead_letter_queue": dead_id,
    })
    for body in ["ok-1", "ok-2", "fail-1"]:
        api("/api/queues/work/messages", {"MessageBody": body})
    # Mapped after the sends, so the first batch holds all three.
    # "Report batch item failures" is checked on the form (a browser sends
    # it): the handler's batchItemFailures keep fail-1 in the queue.
    submit(stack, console, queue_url + "mappings/", {
        "function": ids(stack, "batcher")["id"], "batch_size": "10", "batching_window_s": "0",
        "priority": "normal", "report_failures": "on",
    })

    def in_dlq():
        return stack.rows(
            "QueueMessage.objects.filter(queue__name='dead').values('body', 'source_queue__name')"
        )

    assert wait_for(in_dlq, timeout=90) == [{"body": "fail-1", "source_queue__name": "work"}]
    # The successes were deleted; the failure left for the DLQ.
    assert stack.rows("QueueMessage.objects.filter(queue__name='work').values('body')") == []

    runs = logs_of(stack, "batcher")
    assert all(r["source"] == "queue" for r in runs)
    batches = [json.loads(r["event"])["Records"] for r in runs]
    records = next(b for b in batches if len(b) == 3)
    assert sorted(r["body"] for r in records) == ["fail-1", "ok-1", "ok-2"]
    assert {r["eventSource"] for r in records} == {"aws:sqs"}
    assert all(r["eventSourceARN"].endswith(":work") and r["md5OfBody"] for r in records)
    logs = "".join(r["logs"] for r in runs)
    # Redelivered after the visibility timeout, then moved after 2 receives.
    assert "GOT fail-1 1" in logs and "GOT fail-1 2" in logs
    assert "GOT fail-1 3" not in logs


def test_it_publishes_through_a_signed_topic_webhook_only(stack, client, console):
    create(client, "hooksub", PRINTER)
    team_id = ids(stack, "hooksub")["team_id"]
    topic_url = submit(stack, console, "/topics/", {"team": team_id, "name": "hooked"})
    submit(stack, console, topic_url + "subscriptions/", {
        "function": ids(stack, "hooksub")["id"], "priority": "normal", "filter_policy": "",
    })
    page = console.post(
        stack.url + topic_url + "webhook/",
        data={"with_secret": "on", "csrfmiddlewaretoken": console.cookies["csrftoken"]},
        headers={"Referer": stack.url + topic_url},
    )
    assert page.status_code == 200, page.text[-2000:]
    url = re.search(r'<pre id="topic-webhook-url">([^<]+)</pre>', page.text).group(1)
    secret = re.search(r'<pre id="topic-webhook-secret">([^<]+)</pre>', page.text).group(1)
    assert "/hooks/topics/" in url
    body = b'{"order": 7}'

    bad = requests.post(url, data=body, timeout=30, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert bad.status_code == 401 and "X-Hub-Signature-256" in bad.json()["message"]
    good = requests.post(url, data=body, timeout=30, headers={
        "X-Hub-Signature-256": signature_for(secret, body),
        "X-Stratus-Subject": "Order", "X-Stratus-Attr-Kind": "rush",
    })
    assert good.status_code == 202, good.text
    message_id = good.json()["MessageId"]

    rows = wait_for(lambda: [r for r in logs_of(stack, "hooksub") if r["status"] == "succeeded"])
    line = next(x for x in rows[0]["logs"].splitlines() if x.startswith("EVENT "))
    sns = json.loads(line[len("EVENT "):])["Records"][0]["Sns"]
    assert (sns["MessageId"], sns["Message"], sns["Subject"]) == (message_id, body.decode(), "Order")
    assert sns["MessageAttributes"] == {"kind": {"Type": "String", "Value": "rush"}}
    # The bad request published nothing: one message, one delivery, written together.
    assert stack.rows(
        "TopicMessage.objects.filter(topic__name='hooked').values_list('message_id', flat=True)"
    ) == [message_id]
    assert len(logs_of(stack, "hooksub")) == 1
