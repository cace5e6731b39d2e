"""The topic and queue pages: 404 to strangers, 403 to read-only members,
405 on wrong methods, and the happy paths; bad forms save nothing."""

import uuid

import pytest
from django.urls import reverse

from invocations import hooks, tasks
from invocations.models import Invocation
from messaging import poller, queues, topics
from mappings.models import EventSourceMapping
from messaging.models import Queue, QueueMessage, Subscription, Topic, TopicMessage
from messaging.triggers import trigger_rows

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def topic(team):
    return topics.create_topic(team, "orders")


@pytest.fixture
def queue(team):
    return queues.create_queue(team, "jobs")


def topic_posts(topic, sub):
    return [
        reverse("msg-topic-publish", args=[topic.id]),
        reverse("msg-subscription-add", args=[topic.id]),
        reverse("msg-subscription-toggle", args=[topic.id, sub.id]),
        reverse("msg-subscription-delete", args=[topic.id, sub.id]),
        reverse("msg-topic-delete", args=[topic.id]),
    ]


def queue_posts(queue, mapping):
    return [
        reverse(name, args=[queue.id])
        for name in ("msg-queue-settings", "msg-queue-send", "msg-queue-redrive", "msg-queue-purge",
                     "msg-queue-delete", "msg-mapping-add")
    ] + [
        reverse("msg-mapping-toggle", args=[queue.id, mapping.id]),
        reverse("msg-mapping-delete", args=[queue.id, mapping.id]),
    ]


def test_it_registers_the_batch_hook():
    assert poller.finish_queue_batch in hooks._finished


def test_it_hides_topics_and_queues_from_strangers(client, users, topic, queue, fn):
    sub = topics.subscribe(topic, fn)
    mapping = queues.add_mapping(queue, fn)
    client.force_login(users["outsider"])
    assert client.get(reverse("msg-topic-detail", args=[topic.id])).status_code == 404
    assert client.get(reverse("msg-queue-detail", args=[queue.id])).status_code == 404
    assert client.get(reverse("msg-topic-detail", args=[uuid.uuid4()])).status_code == 404
    for url in topic_posts(topic, sub) + queue_posts(queue, mapping):
        assert client.post(url).status_code == 404, url
    assert "orders" not in client.get(reverse("msg-topic-list")).content.decode()
    assert "jobs" not in client.get(reverse("msg-queue-list")).content.decode()


def test_it_forbids_changes_to_read_only_members(client, users, topic, queue, fn):
    sub = topics.subscribe(topic, fn)
    mapping = queues.add_mapping(queue, fn)
    client.force_login(users["reader"])
    assert client.get(reverse("msg-topic-detail", args=[topic.id])).status_code == 200
    assert client.get(reverse("msg-queue-detail", args=[queue.id])).status_code == 200
    for url in topic_posts(topic, sub) + queue_posts(queue, mapping):
        assert client.post(url).status_code == 403, url
    assert client.post(reverse("msg-topic-list"), {"name": "x"}).status_code == 403
    assert client.post(reverse("msg-queue-list"), {"name": "x"}).status_code == 403
    assert Topic.objects.count() == 1 and Subscription.objects.get().enabled


def test_it_answers_405_to_wrong_methods(client, users, topic, queue, fn):
    sub = topics.subscribe(topic, fn)
    mapping = queues.add_mapping(queue, fn)
    client.force_login(users["member"])
    for url in topic_posts(topic, sub) + queue_posts(queue, mapping):
        assert client.get(url).status_code == 405, url
    assert client.post(reverse("msg-topic-detail", args=[topic.id])).status_code == 405
    assert client.delete(reverse("msg-topic-list")).status_code == 405
    assert client.put(reverse("msg-queue-list")).status_code == 405


def test_it_sends_anonymous_users_to_log_in(client, topic):
    r = client.get(reverse("msg-topic-detail", args=[topic.id]))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


# Topics ---------------------------------------------------------------------


def test_it_creates_a_topic(client, users, team):
    client.force_login(users["member"])
    r = client.post(reverse("msg-topic-list"), {"team": team.pk, "name": "news"})
    topic = Topic.objects.get(name="news")
    assert r.status_code == 302 and r["Location"] == reverse("msg-topic-detail", args=[topic.id])
    r = client.post(reverse("msg-topic-list"), {"team": team.pk, "name": "news"})
    assert "already exists" in r.content.decode()
    r = client.post(reverse("msg-topic-list"), {"team": team.pk, "name": "bad name"})
    assert "letters, digits" in r.content.decode()
    assert Topic.objects.count() == 1
    assert "news" in client.get(reverse("msg-topic-list")).content.decode()


def test_it_subscribes_a_function_and_validates_the_form(client, users, topic, fn):
    client.force_login(users["member"])
    url = reverse("msg-subscription-add", args=[topic.id])
    r = client.post(url, {"function": "", "priority": "normal"})
    assert "Choose the function" in r.content.decode()
    r = client.post(url, {"function": fn.id, "priority": "normal", "filter_policy": "{bad"})
    assert "not valid JSON" in r.content.decode()
    assert not Subscription.objects.exists()
    r = client.post(url, {"function": fn.id, "priority": "low", "filter_policy": '{"c": ["red"]}'})
    assert r.status_code == 302
    sub = Subscription.objects.get()
    assert sub.filter_policy == {"c": ["red"]} and sub.priority == "low"


def test_it_publishes_from_the_console(client, users, topic, fn):
    topics.subscribe(topic, fn)
    client.force_login(users["member"])
    url = reverse("msg-topic-publish", args=[topic.id])
    r = client.post(url, {"message": "hi", "subject": "S", "attributes": "color=red\nsize=2"})
    assert r.status_code == 302
    msg = TopicMessage.objects.get()
    assert msg.attributes["size"] == {"Type": "Number", "Value": "2"}
    assert msg.deliveries == 1 and Invocation.objects.filter(source="topic").count() == 1
    r = client.post(url, {"message": "hi", "attributes": "no equals sign"})
    assert "key=value" in r.content.decode()
    assert TopicMessage.objects.count() == 1
    page = client.get(reverse("msg-topic-detail", args=[topic.id])).content.decode()
    assert str(msg.message_id) in page
    part = client.get(reverse("msg-topic-detail", args=[topic.id]), **HX).content.decode()
    assert str(msg.message_id) in part and "<html" not in part


def test_it_toggles_and_deletes_a_subscription(client, users, topic, fn):
    sub = topics.subscribe(topic, fn)
    client.force_login(users["member"])
    r = client.post(reverse("msg-subscription-toggle", args=[topic.id, sub.id]))
    assert r["Location"] == reverse("msg-topic-detail", args=[topic.id])
    sub.refresh_from_db()
    assert not sub.enabled
    # From the function's Triggers tab, with htmx: the tab reloads its list.
    r = client.post(reverse("msg-subscription-toggle", args=[topic.id, sub.id]), **HX)
    assert r.status_code == 200 and r["HX-Trigger"] == "triggers-changed"
    r = client.post(trigger_rows(fn)[0]["delete_url"])
    assert r["Location"] == reverse("fn-detail", args=[fn.id]) + "?tab=triggers"
    assert not Subscription.objects.exists()
    assert Topic.objects.get().subscriptions_deleted == 1


def test_it_shows_and_removes_a_queue_subscription_on_the_topic_page(client, users, topic, queue):
    sub = topics.subscribe_queue(topic, queue, raw=True)
    client.force_login(users["member"])
    page = client.get(reverse("msg-topic-detail", args=[topic.id])).content.decode()
    assert reverse("msg-queue-detail", args=[queue.id]) in page and "(raw)" in page
    client.post(reverse("msg-subscription-delete", args=[topic.id, sub.id]))
    assert not Subscription.objects.exists()


def test_it_refuses_an_offsite_next(client, users, topic, fn):
    sub = topics.subscribe(topic, fn)
    client.force_login(users["member"])
    r = client.post(reverse("msg-subscription-toggle", args=[topic.id, sub.id]),
                    {"next": "https://evil.example/"})
    assert r["Location"] == reverse("msg-topic-detail", args=[topic.id])


# Queues ---------------------------------------------------------------------


def test_it_creates_a_queue_and_validates_it(client, users, team, queue):
    client.force_login(users["member"])
    url = reverse("msg-queue-list")
    base = {"team": team.pk, "name": "work", "visibility_timeout_s": "30", "max_receive_count": "5"}
    r = client.post(url, {**base, "max_receive_count": "0"})
    assert "from 1 to 1000" in r.content.decode()
    r = client.post(url, {**base, "visibility_timeout_s": "soon"})
    assert "whole number" in r.content.decode()
    assert Queue.objects.count() == 1
    r = client.post(url, {**base, "dead_letter_queue": queue.pk})
    assert r.status_code == 302
    assert Queue.objects.get(name="work").dead_letter_queue == queue


def test_it_refuses_a_queue_as_its_own_dlq_in_the_form(client, users, queue):
    client.force_login(users["member"])
    r = client.post(reverse("msg-queue-settings", args=[queue.id]), {
        "visibility_timeout_s": "60", "max_receive_count": "3", "dead_letter_queue": queue.pk,
    })
    assert "its own dead-letter queue" in r.content.decode()
    queue.refresh_from_db()
    assert queue.dead_letter_queue is None and queue.visibility_timeout_s == 30


def test_it_saves_queue_settings(client, users, team, queue):
    dead = queues.create_queue(team, "dead")
    client.force_login(users["member"])
    r = client.post(reverse("msg-queue-settings", args=[queue.id]), {
        "visibility_timeout_s": "60", "max_receive_count": "3", "dead_letter_queue": dead.pk,
    })
    assert r.status_code == 302
    queue.refresh_from_db()
    assert (queue.visibility_timeout_s, queue.max_receive_count, queue.dead_letter_queue) == (60, 3, dead)


def test_it_sends_from_the_console_and_shows_counts(client, users, queue):
    client.force_login(users["member"])
    url = reverse("msg-queue-send", args=[queue.id])
    assert client.post(url, {"body": "now", "attributes": "k=v", "delay_s": "0"}).status_code == 302
    assert client.post(url, {"body": "later", "delay_s": "600"}).status_code == 302
    r = client.post(url, {"body": "x", "delay_s": "901"})
    assert "from 0 to 900" in r.content.decode()
    assert QueueMessage.objects.count() == 2
    assert QueueMessage.objects.get(body="now").sender_id == "member"
    part = client.get(reverse("msg-queue-detail", args=[queue.id]), **HX).content.decode()
    assert 'id="count-visible">1<' in part and 'id="count-delayed">1<' in part
    assert "<html" not in part


def test_it_adds_a_mapping_and_validates_it(client, users, queue, fn):
    client.force_login(users["member"])
    url = reverse("msg-mapping-add", args=[queue.id])
    base = {"function": fn.id, "batch_size": "10", "batching_window_s": "0", "priority": "normal"}
    r = client.post(url, {**base, "batch_size": "11"})
    assert "from 1 to 10" in r.content.decode()
    r = client.post(url, {**base, "function": ""})
    assert "Choose the function" in r.content.decode()
    assert not EventSourceMapping.objects.exists()
    assert client.post(url, {**base, "batch_size": "4"}).status_code == 302
    assert EventSourceMapping.objects.get().batch_size == 4


def test_it_redrives_and_purges(client, users, team, queue):
    from datetime import timedelta

    from django.utils import timezone

    dead = queues.create_queue(team, "dead")
    queues.update_queue(queue, visibility_timeout_s=30, max_receive_count=1, dead_letter_queue=dead)
    queue.refresh_from_db()
    msg = queues.send(queue, "poison")
    now = timezone.now()
    queues.claim(queue, 1, now)
    queues.claim(queue, 1, now + timedelta(seconds=31))
    msg.refresh_from_db()
    assert msg.queue == dead
    client.force_login(users["member"])
    page = client.get(reverse("msg-queue-detail", args=[queue.id])).content.decode()
    assert "Dead letters" in page and "Redrive to source" in page
    client.post(reverse("msg-queue-redrive", args=[queue.id]))
    msg.refresh_from_db()
    assert msg.queue == queue
    client.post(reverse("msg-queue-purge", args=[queue.id]))
    assert not QueueMessage.objects.exists()


def test_it_lists_trigger_rows_for_a_function(topic, queue, fn, make_function):
    sub = topics.subscribe(topic, fn)
    mapping = queues.add_mapping(queue, fn)
    Invocation.objects.create(function=fn, status="failed", trigger=sub.trigger)
    Invocation.objects.create(function=fn, status="succeeded", trigger=sub.trigger)
    rows = trigger_rows(fn)
    assert [(r["kind"], r["target"], r["errors_last_hour"]) for r in rows] == [
        ("topic", "orders", 1), ("SQS queue", "jobs", 0),
    ]
    assert rows[1]["detail_url"] == reverse("msg-queue-detail", args=[queue.id])
    assert rows[1]["toggle_url"] == reverse("msg-fn-mapping-toggle", args=[fn.id, mapping.id])
    assert set(rows[0]) >= {"kind", "target", "enabled", "last_fired_at", "errors_last_hour",
                            "toggle_url", "delete_url", "detail_url"}
    assert trigger_rows(make_function("other")) == []


def test_it_offers_its_rows_to_the_triggers_registry(topic, fn):
    registry = pytest.importorskip("triggers.registry")
    from messaging.triggers import registry_rows

    assert registry_rows in registry._providers
    topics.subscribe(topic, fn)
    (row,) = registry_rows(fn)
    assert row.kind == "Topic subscription" and row.target == "orders" and row.enabled
