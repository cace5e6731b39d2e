"""The JSON publish/send API, signed with SigV4 by botocore."""

import json

import pytest

from functions.models import ApiKey, Membership, Team
from invocations import tasks
from messaging import queues, topics
from messaging.models import QueueMessage, TopicMessage
from tests.unit.test_sigv4 import sign


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def key(users, team):
    return ApiKey.issue(users["member"], team)


def call(client, key, path, payload, raw: bytes | None = None):
    api_key, secret = key
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = sign("POST", path, body, api_key.access_key_id, secret,
                   headers={"Content-Type": "application/json"})
    headers.pop("Content-Type")
    return client.generic("POST", path, data=body, content_type="application/json", headers=headers)


def test_it_publishes_with_a_signed_request(client, key, team, make_function):
    topic = topics.create_topic(team, "orders")
    topics.subscribe(topic, make_function())
    r = call(client, key, "/api/topics/orders/publish", {
        "Message": "hi", "Subject": "S",
        "MessageAttributes": {"color": {"DataType": "String", "StringValue": "red"}},
    })
    assert r.status_code == 200, r.content
    msg = TopicMessage.objects.get()
    assert r.json() == {"MessageId": str(msg.message_id)}
    assert msg.attributes == {"color": {"Type": "String", "Value": "red"}}
    assert msg.deliveries == 1


def test_it_sends_with_a_signed_request(client, key, team):
    queues.create_queue(team, "jobs")
    r = call(client, key, "/api/queues/jobs/messages", {
        "MessageBody": "work", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1"}},
        "DelaySeconds": 5,
    })
    assert r.status_code == 200, r.content
    msg = QueueMessage.objects.get()
    assert r.json() == {"MessageId": str(msg.message_id)}
    assert msg.sender_id == key[0].access_key_id and msg.visible_at > msg.sent_at


def test_it_refuses_unsigned_and_badly_signed_requests(client, key, team):
    queues.create_queue(team, "jobs")
    r = client.post("/api/queues/jobs/messages", {"MessageBody": "x"}, content_type="application/json")
    assert r.status_code == 403 and r["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    r = call(client, (key[0], "wrong-secret"), "/api/queues/jobs/messages", {"MessageBody": "x"})
    assert r.status_code == 403 and r["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert not QueueMessage.objects.exists()


def test_it_scopes_names_to_the_keys_team(client, users, team):
    queues.create_queue(team, "jobs")
    other = Team.objects.create(name="beta")
    Membership.objects.create(team=other, user=users["outsider"], role="owner")
    stranger = ApiKey.issue(users["outsider"], other)
    r = call(client, stranger, "/api/queues/jobs/messages", {"MessageBody": "x"})
    assert r.status_code == 404 and r["x-amzn-ErrorType"] == "ResourceNotFoundException"
    r = call(client, stranger, "/api/topics/nope/publish", {"Message": "x"})
    assert r.status_code == 404


def test_it_refuses_read_only_keys(client, users, team):
    queues.create_queue(team, "jobs")
    r = call(client, ApiKey.issue(users["reader"], team), "/api/queues/jobs/messages", {"MessageBody": "x"})
    assert r.status_code == 403 and r["x-amzn-ErrorType"] == "AccessDeniedException"


def test_it_explains_bad_input(client, key, team):
    queues.create_queue(team, "jobs")
    topics.create_topic(team, "orders")
    r = call(client, key, "/api/queues/jobs/messages", {"MessageBody": "x", "DelaySeconds": 1000})
    assert r.status_code == 400 and "from 0 to 900" in r.json()["message"]
    r = call(client, key, "/api/topics/orders/publish", {"Subject": "no message"})
    assert r.status_code == 400 and "non-empty" in r.json()["message"]
    r = call(client, key, "/api/topics/orders/publish", None, raw=b"{not json")
    assert r.status_code == 400 and r["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert not QueueMessage.objects.exists() and not TopicMessage.objects.exists()


def test_it_answers_405_to_get(client, key):
    assert client.get("/api/queues/jobs/messages").status_code == 405
