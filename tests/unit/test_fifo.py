"""FIFO queues and topics: SQS's and SNS's FIFO rules, with the clock in the
test's hands (messaging.queues / topics) and through a real boto3 client
on the production ASGI application (CreateQueue/SendMessage/ReceiveMessage,
CreateTopic/Subscribe/Publish)."""

import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from functions.models import ApiKey
from invocations import tasks
from invocations.models import Invocation
from messaging import fifo, poller, queues, topics
from messaging.models import Queue, QueueDeduplication, QueueMessage, Topic, TopicMessage
from messaging.validation import MessagingError
from tests.unit.queue_clock import at
from tests.unit.test_sqs_api import code_of


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: sent.append(args[0]))
    return sent


@pytest.fixture
def fq(team):
    return queues.create_queue(team, "jobs.fifo", fifo=True, visibility_timeout_s=30)


def send(queue, body, group="g", at_s=0, **kwargs):
    return queues.send(queue, body, now=at(at_s), group_id=group, **kwargs)


def message_of(e) -> str:
    return e.value.response["Error"]["Message"]


# The rules, clock in hand ------------------------------------------------------


def test_it_numbers_a_fifo_queues_messages_in_order(fq):
    a, b = send(fq, "a", dedup_id="1"), send(fq, "b", dedup_id="2")
    assert b.sequence == a.sequence + 1
    assert fifo.sequence_text(a.sequence) < fifo.sequence_text(b.sequence)
    assert len(fifo.sequence_text(a.sequence)) == 20


def test_it_blocks_a_group_while_one_of_its_messages_is_in_flight(fq):
    a1, a2 = send(fq, "a1", "A", dedup_id="1"), send(fq, "a2", "A", dedup_id="2")
    b1 = send(fq, "b1", "B", dedup_id="3")
    first = queues.claim(fq, 1, at(1))
    assert [m.message_id for m in first] == [a1.message_id]
    # A is in flight: only B's head may go out, and a2 waits behind a1.
    second = queues.claim(fq, 10, at(2))
    assert [m.message_id for m in second] == [b1.message_id]
    assert queues.claim(fq, 10, at(3)) == []
    queues.delete_by_receipt(fq, first[0].receipt_handle)
    assert [m.message_id for m in queues.claim(fq, 10, at(4))] == [a2.message_id]


def test_it_fills_a_receive_from_one_group_before_the_next(fq):
    a1 = send(fq, "a1", "A", dedup_id="1")
    b1 = send(fq, "b1", "B", dedup_id="2")
    a2 = send(fq, "a2", "A", dedup_id="3")
    got = queues.claim(fq, 10, at(1))
    assert [m.message_id for m in got] == [a1.message_id, a2.message_id, b1.message_id]


def test_a_message_back_from_a_lapsed_visibility_timeout_comes_first_again(fq):
    a1, a2 = send(fq, "a1", dedup_id="1"), send(fq, "a2", dedup_id="2")
    assert [m.message_id for m in queues.claim(fq, 1, at(1))] == [a1.message_id]
    got = queues.claim(fq, 10, at(40))
    assert [m.message_id for m in got] == [a1.message_id, a2.message_id]


def test_a_queue_delay_holds_the_group_in_order(team):
    q = queues.create_queue(team, "slow.fifo", fifo=True, delay_s=10)
    send(q, "a", dedup_id="1")
    assert queues.claim(q, 10, at(5)) == []
    assert [m.body for m in queues.claim(q, 10, at(11))] == ["a"]


def test_it_drops_a_duplicate_id_within_five_minutes(fq):
    first = send(fq, "a", dedup_id="same")
    again = send(fq, "other body", dedup_id="same", at_s=299)
    assert again.duplicate and again.message_id == first.message_id and again.sequence == first.sequence
    assert QueueMessage.objects.count() == 1
    # Still a duplicate after the first was received and deleted.
    queues.delete_by_receipt(fq, queues.claim(fq, 1, at(100))[0].receipt_handle)
    assert send(fq, "a", dedup_id="same", at_s=200).duplicate
    later = send(fq, "a", dedup_id="same", at_s=301)
    assert not later.duplicate and later.message_id != first.message_id
    assert QueueMessage.objects.count() == 1


def test_content_based_deduplication_uses_the_bodys_sha256(team):
    q = queues.create_queue(team, "c.fifo", fifo=True, content_based_dedup=True)
    first = send(q, "same body", "A")
    assert first.dedup_id == hashlib.sha256(b"same body").hexdigest()
    assert send(q, "same body", "B").duplicate  # Scope "queue": across groups.
    assert not send(q, "another body", "A").duplicate
    assert send(q, "same body", "A", dedup_id="given").duplicate is False  # A given id wins.


def test_message_group_scope_deduplicates_per_group(team):
    q = queues.create_queue(team, "p.fifo", fifo=True, dedup_scope="messageGroup",
                            throughput_limit="perMessageGroupId")
    send(q, "x", "A", dedup_id="1")
    assert not send(q, "x", "B", dedup_id="1").duplicate
    assert send(q, "x", "A", dedup_id="1").duplicate


@pytest.mark.parametrize("kwargs, field", [
    ({"group_id": None, "dedup_id": "1"}, "group_id"),
    ({"group_id": "g"}, "dedup_id"),
    ({"group_id": "g", "dedup_id": "1", "delay_s": 5}, "delay_s"),
    ({"group_id": "a b", "dedup_id": "1"}, "group_id"),
    ({"group_id": "g", "dedup_id": "x" * 129}, "dedup_id"),
])
def test_it_refuses_fifo_sends_without_what_sqs_requires(fq, kwargs, field):
    with pytest.raises(MessagingError) as e:
        queues.send(fq, "body", **kwargs)
    assert e.value.field == field
    assert not QueueMessage.objects.exists() and not QueueDeduplication.objects.exists()


def test_a_standard_queue_takes_no_group(team):
    q = queues.create_queue(team, "plain")
    with pytest.raises(MessagingError):
        queues.send(q, "x", group_id="g")


def test_fifo_dead_letters_need_a_fifo_dead_letter_queue(team, fq):
    plain = queues.create_queue(team, "plain")
    with pytest.raises(MessagingError, match="same type"):
        queues.create_queue(team, "x.fifo", fifo=True, dead_letter_queue=plain)
    with pytest.raises(MessagingError, match="same type"):
        queues.update_queue(fq, visibility_timeout_s=30, max_receive_count=2, dead_letter_queue=plain)
    fq.refresh_from_db()
    assert fq.dead_letter_queue is None


def test_a_fifo_head_past_max_receives_goes_to_the_dead_letter_queue_and_the_group_goes_on(team):
    dead = queues.create_queue(team, "dead.fifo", fifo=True)
    q = queues.create_queue(team, "w.fifo", fifo=True, max_receive_count=1, dead_letter_queue=dead)
    a1, a2 = send(q, "a1", dedup_id="1"), send(q, "a2", dedup_id="2")
    assert [m.message_id for m in queues.claim(q, 1, at(1))] == [a1.message_id]
    assert [m.message_id for m in queues.claim(q, 1, at(40))] == [a2.message_id]
    moved = QueueMessage.objects.get(message_id=a1.message_id)
    assert moved.queue_id == dead.id and moved.group_id == "g"


# The poller: FIFO batches to functions --------------------------------------------


def test_the_poller_sends_a_group_in_order_with_fifo_attributes(fq, make_function):
    mapping = queues.add_mapping(fq, make_function(timeout_s=3), batch_size=10)
    a1, a2 = send(fq, "a1", "A", dedup_id="1"), send(fq, "a2", "A", dedup_id="2")
    inv = poller.poll_mapping(mapping, at(1))
    records = json.loads(inv.event)["Records"]
    assert [r["body"] for r in records] == ["a1", "a2"]
    attrs = records[0]["attributes"]
    assert attrs["MessageGroupId"] == "A" and attrs["MessageDeduplicationId"] == "1"
    assert attrs["SequenceNumber"] == fifo.sequence_text(a1.sequence)
    # Nothing more of group A while the batch is in flight.
    send(fq, "a3", "A", dedup_id="3")
    assert poller.poll_mapping(mapping, at(2)) is None
    assert a2


def test_a_failed_fifo_item_keeps_the_rest_of_its_group(fq, make_function):
    mapping = queues.add_mapping(fq, make_function(timeout_s=3), batch_size=10, report_failures=True)
    a1, a2, a3 = (send(fq, b, "A", dedup_id=b) for b in ("a1", "a2", "a3"))
    b1 = send(fq, "b1", "B", dedup_id="b1")
    inv = poller.poll_mapping(mapping, at(1))
    # The handler reports only a2: a3 (after it in group A) must stay too.
    Invocation.objects.filter(pk=inv.pk).update(
        status="succeeded", result=json.dumps({"batchItemFailures": [{"itemIdentifier": str(a2.message_id)}]})
    )
    inv.refresh_from_db()
    poller.finish_queue_batch(inv)
    left = set(QueueMessage.objects.values_list("message_id", flat=True))
    assert left == {a2.message_id, a3.message_id}
    assert a1 and b1


# SQS through boto3 -----------------------------------------------------------------------


def fifo_url(sqs, name="orders.fifo", **attributes):
    return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", **attributes})["QueueUrl"]


@pytest.mark.parametrize("name, attributes, words", [
    ("orders.fifo", {}, "Can only include alphanumeric characters"),
    ("orders", {"FifoQueue": "true"}, "must end with .fifo suffix"),
    ("orders.fifo", {"FifoQueue": "yes"}, "FifoQueue"),
    ("orders", {"ContentBasedDeduplication": "true"}, "Unknown Attribute ContentBasedDeduplication"),
    ("o.fifo", {"FifoQueue": "true", "DeduplicationScope": "team"}, "DeduplicationScope"),
    ("o.fifo", {"FifoQueue": "true", "FifoThroughputLimit": "perMessageGroupId"}, "messageGroup"),
])
def test_create_queue_refuses_what_sqs_refuses(sqs, name, attributes, words):
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name, Attributes=attributes)
    assert code_of(e) in ("InvalidParameterValue", "InvalidAttributeName", "InvalidAttributeValue")
    assert words in message_of(e)
    assert not Queue.objects.exists()


def test_create_queue_makes_a_fifo_queue_and_shows_its_attributes(sqs):
    url = fifo_url(sqs, ContentBasedDeduplication="true", DeduplicationScope="messageGroup",
                   FifoThroughputLimit="perMessageGroupId")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    assert attrs["DeduplicationScope"] == "messageGroup"
    assert attrs["FifoThroughputLimit"] == "perMessageGroupId"
    # Same name, same attributes: the same queue; FifoQueue cannot change.
    assert fifo_url(sqs, ContentBasedDeduplication="true", DeduplicationScope="messageGroup",
                    FifoThroughputLimit="perMessageGroupId") == url
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert code_of(e) == "InvalidAttributeValue"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "false"})
    assert Queue.objects.get().content_based_dedup is False


@pytest.mark.parametrize("extra, code, words", [
    ({}, "MissingParameter", "MessageGroupId"),
    ({"MessageGroupId": "g"}, "InvalidParameterValue", "ContentBasedDeduplication"),
    ({"MessageGroupId": "g", "MessageDeduplicationId": "1", "DelaySeconds": 5}, "InvalidParameterValue",
     "DelaySeconds"),
    ({"MessageGroupId": "g" * 129, "MessageDeduplicationId": "1"}, "InvalidParameterValue", "MessageGroupId"),
])
def test_send_message_refuses_what_sqs_refuses_on_fifo(sqs, extra, code, words):
    url = fifo_url(sqs)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", **extra)
    assert code_of(e) == code and words in message_of(e)
    assert not QueueMessage.objects.exists()


def test_send_message_answers_a_duplicate_with_the_first_message(sqs):
    url = fifo_url(sqs)
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    again = sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="d")
    assert again["MessageId"] == first["MessageId"] and again["SequenceNumber"] == first["SequenceNumber"]
    assert QueueMessage.objects.count() == 1


def test_send_message_batch_keeps_entry_order_and_deduplicates_within_it(sqs):
    url = fifo_url(sqs, ContentBasedDeduplication="true")
    out = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one", "MessageGroupId": "g"},
        {"Id": "b", "MessageBody": "two", "MessageGroupId": "g"},
        {"Id": "c", "MessageBody": "one", "MessageGroupId": "g"},
        {"Id": "d", "MessageBody": "three"},
    ])
    ok = {e["Id"]: e for e in out["Successful"]}
    assert ok["c"]["MessageId"] == ok["a"]["MessageId"]
    assert int(ok["a"]["SequenceNumber"]) < int(ok["b"]["SequenceNumber"])
    assert [f["Id"] for f in out["Failed"]] == ["d"] and out["Failed"][0]["Code"] == "MissingParameter"
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                              ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [m["Body"] for m in got] == ["one", "two"]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"one").hexdigest()
    assert got[0]["Attributes"]["SequenceNumber"] == ok["a"]["SequenceNumber"]


def test_a_standard_queue_still_refuses_group_ids(sqs):
    url = sqs.create_queue(QueueName="plain")["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert code_of(e) == "InvalidParameterValue"


def test_redrive_of_a_fifo_queue_needs_a_fifo_dead_letter_queue(sqs, team):
    url = fifo_url(sqs)
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    assert code_of(e) == "InvalidAttributeValue" and "same type" in message_of(e)
    assert Queue.objects.get(name="orders.fifo").dead_letter_queue is None


# SNS FIFO topics through boto3 --------------------------------------------------------------


def test_fifo_topics_fan_out_to_fifo_queues_with_their_ids(sns, sqs, team):
    arn = sns.create_topic(Name="events.fifo", Attributes={"FifoTopic": "true",
                                                            "ContentBasedDeduplication": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    url = fifo_url(sqs)
    q_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q_arn)
    first = sns.publish(TopicArn=arn, Message="m1", MessageGroupId="g")
    again = sns.publish(TopicArn=arn, Message="m1", MessageGroupId="g")
    assert again == {**again, "MessageId": first["MessageId"], "SequenceNumber": first["SequenceNumber"]}
    batch = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "m2", "MessageGroupId": "g", "MessageDeduplicationId": "x"},
        {"Id": "b", "Message": "m3", "MessageGroupId": "g"},
    ])
    assert [e["Id"] for e in batch["Successful"]] == ["a", "b"] and batch["Successful"][0]["SequenceNumber"]
    assert TopicMessage.objects.count() == 3
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    envelopes = [json.loads(m["Body"]) for m in got]
    assert [e["Message"] for e in envelopes] == ["m1", "m2", "m3"]
    assert envelopes[0]["SequenceNumber"] == first["SequenceNumber"]
    assert got[1]["Attributes"]["MessageGroupId"] == "g"
    assert got[1]["Attributes"]["MessageDeduplicationId"] == "x"


@pytest.mark.parametrize("kwargs, words", [
    ({"Name": "events.fifo"}, "FifoTopic=true"),
    ({"Name": "events", "Attributes": {"ContentBasedDeduplication": "true"}}, "FIFO topics"),
])
def test_create_topic_refuses_what_sns_refuses(sns, kwargs, words):
    with pytest.raises(ClientError) as e:
        sns.create_topic(**kwargs)
    assert code_of(e) == "InvalidParameter" and words in message_of(e)
    assert not Topic.objects.exists()


def test_fifo_topics_take_fifo_queues_only(sns, sqs, make_function, team):
    arn = sns.create_topic(Name="t.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    plain_arn = sns.create_topic(Name="plain")["TopicArn"]
    queue = queues.create_queue(team, "plain-q")
    fq = queues.create_queue(team, "q.fifo", fifo=True)
    fn = make_function()
    cases = [
        (arn, "sqs", queue.arn, "Please use FIFO SQS queue"),
        (arn, "lambda", fn.arn, "FIFO topics deliver to SQS FIFO queues only"),
        (plain_arn, "sqs", fq.arn, "FIFO SQS Queues can not be subscribed to standard SNS topics"),
    ]
    for topic_arn, protocol, endpoint, words in cases:
        with pytest.raises(ClientError) as e:
            sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)
        assert code_of(e) == "InvalidParameter" and words in message_of(e)
    assert not Topic.objects.get(name="t.fifo").subscriptions.exists()


@pytest.mark.parametrize("extra, words", [
    ({}, "MessageGroupId parameter is required"),
    ({"MessageGroupId": "g"}, "ContentBasedDeduplication"),
])
def test_publish_to_a_fifo_topic_needs_its_ids(sns, extra, words):
    arn = sns.create_topic(Name="t.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=arn, Message="x", **extra)
    assert code_of(e) == "InvalidParameter" and words in message_of(e)
    assert not TopicMessage.objects.exists()


def test_topics_publish_refuses_a_fifo_topic_without_a_group(team):
    topic = Topic.objects.create(team=team, name="t.fifo", fifo=True, content_based_dedup=True)
    with pytest.raises(MessagingError):
        topics.publish(topic, "x")
    assert topics.publish(topic, "x", group_id="g").sequence == 1


# The console ------------------------------------------------------------------------------


def test_the_console_creates_fifo_queues_and_sends_with_a_group(client, users, team):
    from django.urls import reverse

    client.force_login(users["member"])
    base = {"team": team.pk, "visibility_timeout_s": "30", "max_receive_count": "5"}
    r = client.post(reverse("msg-queue-list"), {**base, "name": "work.fifo"})
    assert "letters, digits, hyphens or underscores" in r.content.decode()  # Not ticked FIFO.
    r = client.post(reverse("msg-queue-list"), {**base, "name": "work.fifo", "fifo": "on",
                                                "content_based_dedup": "on"})
    assert r.status_code == 302
    q = Queue.objects.get(name="work.fifo")
    assert q.fifo and q.content_based_dedup
    send_url = reverse("msg-queue-send", args=[q.id])
    r = client.post(send_url, {"body": "x", "delay_s": "0"})
    assert "message group id" in r.content.decode() and not QueueMessage.objects.exists()
    assert client.post(send_url, {"body": "x", "delay_s": "0", "group_id": "g"}).status_code == 302
    r = client.post(send_url, {"body": "x", "delay_s": "0", "group_id": "g"}, follow=True)
    assert "duplicate" in r.content.decode() and QueueMessage.objects.count() == 1
    page = client.get(reverse("msg-queue-detail", args=[q.id])).content.decode()
    assert "FIFO" in page and "content-based deduplication" in page
    assert "FIFO" in client.get(reverse("msg-queue-list")).content.decode()


def test_the_console_publishes_to_a_fifo_topic_with_a_group(client, users, team):
    from django.urls import reverse

    client.force_login(users["member"])
    r = client.post(reverse("msg-topic-list"), {"team": team.pk, "name": "t.fifo", "fifo": "on"})
    assert r.status_code == 302
    topic = Topic.objects.get(name="t.fifo")
    assert topic.fifo and not topic.content_based_dedup
    url = reverse("msg-topic-publish", args=[topic.id])
    r = client.post(url, {"message": "m", "group_id": "g"})
    assert "deduplication id" in r.content.decode() and not TopicMessage.objects.exists()
    assert client.post(url, {"message": "m", "group_id": "g", "dedup_id": "1"}).status_code == 302
    assert TopicMessage.objects.get().group_id == "g"
    assert "FIFO" in client.get(reverse("msg-topic-detail", args=[topic.id])).content.decode()


# Other doors ---------------------------------------------------------------------------


def test_s3_refuses_fifo_queues_and_topics_as_event_destinations(team, fq):
    from awsapi.protocols import ServiceError
    from buckets import notifications
    from buckets.models import Bucket

    bucket = Bucket.objects.create(team=team, name="drops")
    topic = topics.create_topic(team, "t.fifo", fifo_topic=True)
    for member, arn_member, arn in (
        ("QueueConfigurations", "QueueArn", fq.arn),
        ("TopicConfigurations", "TopicArn", topic.arn),
    ):
        with pytest.raises(ServiceError) as e:
            notifications.put_configuration(
                bucket, {member: [{arn_member: arn, "Events": ["s3:ObjectCreated:*"]}]}
            )
        assert e.value.code == "InvalidArgument"
        assert "FIFO" in json.dumps(e.value.fields)
    assert not bucket.notifications.exists()
    assert not QueueMessage.objects.exists()


def test_async_destinations_offer_no_fifo_queue_and_log_a_refusal(team, fq, caplog):
    from messaging import destinations

    queues.create_queue(team, "plain")
    assert [label for _, label in destinations.QUEUE.choices(team, None)] == ["Queue plain"]
    destinations.QUEUE.deliver(fq, "{}", "req-1", "normal")  # Refused, logged, not raised.
    assert "refused the record" in caplog.text and not QueueMessage.objects.exists()


def test_the_json_api_sends_to_a_fifo_queue_with_a_group(client, users, team, fq):
    from tests.unit.test_messaging_api import call

    key = ApiKey.issue(users["member"], team)
    path = f"/api/queues/{fq.name}/messages"
    r = call(client, key, path, {"MessageBody": "work", "MessageDeduplicationId": "1"})
    assert r.status_code == 400 and "message group id" in r.content.decode()
    r = call(client, key, path, {"MessageBody": "work", "MessageGroupId": "g", "MessageDeduplicationId": "1"})
    assert r.status_code == 200, r.content
    msg = QueueMessage.objects.get()
    assert r.json() == {"MessageId": str(msg.message_id), "SequenceNumber": fifo.sequence_text(msg.sequence)}


@pytest.fixture
def real_redis(redis_url, settings):
    """ReceiveRequestAttemptId's memo in a real redis-server of the tests' own."""
    import redis

    from invocations import redis_link

    settings.REDIS_URL = redis_url
    redis_link._clients.clear()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    redis_link._clients.clear()


def test_a_retried_receive_attempt_gets_the_same_messages_and_receipts(sqs, real_redis):
    url = fifo_url(sqs, ContentBasedDeduplication="true")
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"],
                                ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [m["Body"] for m in first] == ["one", "two"]
    # The answer was lost; the retry gets what it held, not the group's next message.
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"],
                                ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in again] == [
        (m["MessageId"], m["ReceiptHandle"]) for m in first
    ]
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in again] == ["1", "1"]
    # Another attempt is another receive: the group is in flight.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-2")
    # Once one of them is deleted, a retry is an ordinary receive.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-1")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [m["Body"] for m in third] == ["three"]
    # The memo lasts the 5 minutes SQS gives a retry, and no longer.
    [key] = real_redis.keys("*sqs-attempt*")
    assert 0 < real_redis.ttl(key) <= 300


def test_a_retried_attempt_after_a_visibility_change_is_a_new_receive(sqs, real_redis):
    url = fifo_url(sqs, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    [first] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="a")["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    [second] = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="a",
                                   AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"


def test_without_redis_a_retried_attempt_is_an_ordinary_receive(sqs):
    url = fifo_url(sqs, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    assert len(sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="a")["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="a")
