"""Publishing: the SNS event shape and fan-out to matching subscribers."""

import json
from datetime import UTC, datetime

import pytest

from invocations import tasks
from invocations import dispatch
from invocations.models import Invocation
from messaging import api, topics
from messaging.models import Subscription, TopicMessage
from messaging.validation import MessagingError


@pytest.fixture
def queued(monkeypatch):
    """Record queued invocation tasks instead of sending them to a broker."""
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append((args[0], kw)))
    return sent


@pytest.fixture
def topic(team):
    return topics.create_topic(team, "orders")


def test_it_builds_the_sns_event_shape(topic, make_function):
    fn = make_function()
    sub = topics.subscribe(topic, fn)
    msg = TopicMessage.objects.create(
        topic=topic, message="hello", subject="Greeting",
        attributes={"color": {"Type": "String", "Value": "red"}},
        published_at=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    record = topics.sns_event(topic, sub, msg)["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == f"{topic.arn}:{sub.id}"
    sns = record["Sns"]
    assert sns["Type"] == "Notification"
    assert sns["MessageId"] == str(msg.message_id)
    assert sns["TopicArn"] == f"arn:aws:sns:us-east-1:{topic.team.account_id}:orders"
    assert sns["Subject"] == "Greeting" and sns["Message"] == "hello"
    assert sns["Timestamp"] == "2024-05-01T12:00:00.123Z"
    assert sns["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
    for key in ("SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl"):
        assert key in sns


def test_it_fans_out_one_async_invocation_per_matching_subscriber(
    topic, make_function, queued, django_capture_on_commit_callbacks
):
    a, b, c = (make_function(name) for name in ("a", "b", "c"))
    sub_a = topics.subscribe(topic, a, priority="high")
    topics.subscribe(topic, b, policy={"color": ["red"]})
    topics.subscribe(topic, c, policy={"color": ["blue"]})
    off = topics.subscribe(topic, make_function("off"))
    Subscription.objects.filter(pk=off.pk).update(enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        message_id = api.publish(topic, "hi", "S", {"color": "red"})

    invs = {inv.function.name: inv for inv in Invocation.objects.select_related("function")}
    assert set(invs) == {"a", "b"}
    assert len(queued) == 2
    inv = invs["a"]
    assert inv.invocation_type == "Event" and inv.source == "topic"
    assert inv.trigger == f"subscription:{sub_a.id}" and inv.priority == "high"
    assert inv.origin["message_id"] == message_id
    event = json.loads(inv.event)
    assert event["Records"][0]["Sns"]["Message"] == "hi"
    msg = TopicMessage.objects.get(message_id=message_id)
    assert msg.deliveries == 2
    sub_a.refresh_from_db()
    assert sub_a.last_fired_at == msg.published_at


def test_it_publishes_nothing_when_a_submit_fails(topic, make_function, monkeypatch):
    topics.subscribe(topic, make_function("a"))
    topics.subscribe(topic, make_function("b"))
    real = dispatch.submit_async
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(dispatch, "submit_async", flaky)
    with pytest.raises(RuntimeError):
        topics.publish(topic, "hi")
    assert not TopicMessage.objects.exists()
    assert not Invocation.objects.exists()


@pytest.mark.parametrize("kwargs, field", [
    ({"message": ""}, "message"),
    ({"message": "x" * (256 * 1024 + 1)}, "message"),
    ({"message": "m", "subject": "x" * 101}, "subject"),
    ({"message": "m", "attributes": {"n": {"DataType": "Number", "StringValue": "x"}}}, "attributes"),
])
def test_it_refuses_bad_messages_and_stores_nothing(topic, kwargs, field):
    with pytest.raises(MessagingError) as e:
        topics.publish(topic, **kwargs)
    assert e.value.field == field
    assert not TopicMessage.objects.exists()


def test_it_refuses_a_function_of_another_team(topic, make_function):
    from functions.models import Team

    fn = make_function()
    other = Team.objects.create(name="beta")
    fn.team = other
    with pytest.raises(MessagingError):
        topics.subscribe(topic, fn)
    with pytest.raises(MessagingError):
        topics.subscribe(topic, None)


def test_it_refuses_bad_and_duplicate_topic_names(team, topic):
    with pytest.raises(MessagingError):
        topics.create_topic(team, "orders")
    with pytest.raises(MessagingError):
        topics.create_topic(team, "has space")


def test_it_finds_topics_and_queues_by_arn(team, topic):
    from functions.models import Team
    from messaging import queues

    queue = queues.create_queue(team, "jobs")
    assert api.find_topic_by_arn(team, topic.arn) == topic
    assert api.find_queue_by_arn(team, queue.arn) == queue
    assert api.find_topic_by_arn(team, queue.arn) is None
    assert api.find_topic_by_arn(team, "arn:aws:sns:us-east-1:000000000000:orders") is None
    assert api.find_topic_by_arn(team, "garbage") is None
    other = Team.objects.create(name="beta")
    assert api.find_topic_by_arn(other, topic.arn) is None
