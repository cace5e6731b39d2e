"""The Triggers tab's "Subscribe to a topic" and "Poll a queue" forms:
they save through the same validation as the topic and queue pages, show
errors in the tab and save nothing, and answer 404/403/405."""

import uuid

import pytest
from django.urls import reverse

from functions.models import Team
from messaging import queues, topics
from mappings.models import EventSourceMapping
from messaging.models import Subscription

HX = {"HTTP_HX_REQUEST": "true"}
SUB = {"priority": "normal", "filter_policy": ""}
MAP = {"batch_size": "10", "batching_window_s": "0", "priority": "normal"}


@pytest.fixture
def fn(make_function):
    return make_function()


@pytest.fixture
def topic(team):
    return topics.create_topic(team, "orders")


@pytest.fixture
def queue(team):
    return queues.create_queue(team, "jobs")


def urls(fn):
    return [reverse("msg-fn-subscribe", args=[fn.id]), reverse("msg-fn-map-queue", args=[fn.id])]


def tab(client, fn) -> str:
    return client.get(reverse("trg-tab", args=[fn.id]), **HX).content.decode()


def test_it_offers_both_forms_in_the_tab(client, users, fn, topic, queue):
    client.force_login(users["member"])
    body = tab(client, fn)
    assert "Subscribe to a topic" in body and "Poll a queue" in body
    assert f'hx-post="{urls(fn)[0]}"' in body and f'hx-post="{urls(fn)[1]}"' in body
    assert f'<option value="{topic.pk}">orders</option>' in body
    assert f'<option value="{queue.pk}">jobs</option>' in body
    assert 'name="batch_size" value="10"' in body
    client.force_login(users["reader"])
    assert "Subscribe to a topic" not in tab(client, fn)


def test_it_links_to_create_a_topic_and_queue_when_there_is_none(client, users, fn):
    client.force_login(users["member"])
    body = tab(client, fn)
    assert f'<a href="{reverse("msg-topic-list")}">Create a topic</a>' in body
    assert f'<a href="{reverse("msg-queue-list")}">Create a queue</a>' in body
    assert 'id="subscribe-form"' not in body and 'id="queue-mapping-form"' not in body


def test_it_subscribes_the_function_with_htmx(client, users, fn, topic):
    client.force_login(users["member"])
    r = client.post(urls(fn)[0], {**SUB, "topic": topic.pk, "priority": "high",
                                  "filter_policy": '{"color": ["red"]}'}, **HX)
    body = r.content.decode()
    assert r.status_code == 200 and "<html" not in body
    assert "Subscribed hello to the topic orders." in body
    assert "Topic subscription" in body  # the list, with the new row
    sub = Subscription.objects.get()
    assert (sub.topic, sub.function, sub.priority) == (topic, fn, "high")
    assert sub.filter_policy == {"color": ["red"]}


def test_it_subscribes_and_goes_back_to_the_tab_without_htmx(client, users, fn, topic):
    client.force_login(users["member"])
    r = client.post(urls(fn)[0], {**SUB, "topic": topic.pk})
    assert r.status_code == 302
    assert r["Location"] == reverse("fn-detail", args=[fn.id]) + "?tab=triggers"
    assert Subscription.objects.get().function == fn


@pytest.mark.parametrize("data, error", [
    ({"topic": ""}, "Choose the topic to subscribe to."),
    ({"filter_policy": "{bad"}, "The filter policy is not valid JSON"),
    ({"filter_policy": '{"n": [{"regex": "a"}]}'}, "Unrecognized match type regex"),
    ({"priority": "urgent"}, "Select a valid choice"),
])
def test_it_shows_subscription_errors_and_saves_nothing(client, users, fn, topic, data, error):
    client.force_login(users["member"])
    post = {**SUB, "topic": topic.pk, **data}
    r = client.post(urls(fn)[0], post, **HX)
    body = r.content.decode()
    assert r.status_code == 200 and error in body
    assert '<details class="add-trigger" open>\n  <summary>Subscribe to a topic' in body
    assert client.post(urls(fn)[0], post).status_code == 400
    assert not Subscription.objects.exists()


def test_it_refuses_another_teams_topic(client, users, fn):
    other = topics.create_topic(Team.objects.create(name="beta"), "theirs")
    client.force_login(users["member"])
    r = client.post(urls(fn)[0], {**SUB, "topic": other.pk}, **HX)
    assert "Select a valid choice" in r.content.decode()
    assert not Subscription.objects.exists()


def test_it_maps_a_queue_with_htmx(client, users, fn, queue):
    client.force_login(users["member"])
    r = client.post(urls(fn)[1], {**MAP, "queue": queue.pk, "batch_size": "4",
                                  "batching_window_s": "20", "priority": "low"}, **HX)
    body = r.content.decode()
    assert r.status_code == 200 and "hello now polls the queue jobs." in body
    mapping = EventSourceMapping.objects.get()
    assert (mapping.event_source_arn, mapping.kind, mapping.function) == (queue.arn, "sqs", fn)
    assert (mapping.batch_size, mapping.batching_window_s, mapping.priority) == (4, 20, "low")


def test_it_maps_a_queue_and_goes_back_to_the_tab_without_htmx(client, users, fn, queue):
    client.force_login(users["member"])
    r = client.post(urls(fn)[1], {**MAP, "queue": queue.pk})
    assert r["Location"] == reverse("fn-detail", args=[fn.id]) + "?tab=triggers"
    assert EventSourceMapping.objects.get().batch_size == 10


@pytest.mark.parametrize("data, error", [
    ({"queue": ""}, "Choose the queue to poll."),
    ({"batch_size": "11"}, "Batch size must be from 1 to 10, not 11."),
    ({"batch_size": "0"}, "Batch size must be from 1 to 10, not 0."),
    ({"batching_window_s": "soon"}, "The batching window must be a whole number from 0 to 300."),
])
def test_it_shows_mapping_errors_and_saves_nothing(client, users, fn, queue, data, error):
    client.force_login(users["member"])
    post = {**MAP, "queue": queue.pk, **data}
    r = client.post(urls(fn)[1], post, **HX)
    body = r.content.decode()
    assert r.status_code == 200 and error in body
    assert '<details class="add-trigger" open>\n  <summary>Poll a queue' in body
    assert client.post(urls(fn)[1], post).status_code == 400
    assert not EventSourceMapping.objects.exists()


def test_it_refuses_a_queue_whose_visibility_timeout_is_too_short(client, users, make_function, queue):
    slow = make_function("slow", timeout_s=60)
    client.force_login(users["member"])
    r = client.post(urls(slow)[1], {**MAP, "queue": queue.pk}, **HX)
    # Lambda's words (CreateEventSourceMapping refuses it the same way).
    words = "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
    assert words in r.content.decode()
    assert not EventSourceMapping.objects.exists()


def test_it_hides_the_function_from_strangers(client, users, fn, topic, queue):
    client.force_login(users["outsider"])
    assert client.post(urls(fn)[0], {**SUB, "topic": topic.pk}).status_code == 404
    assert client.post(urls(fn)[1], {**MAP, "queue": queue.pk}).status_code == 404
    missing = type("F", (), {"id": uuid.uuid4()})
    client.force_login(users["member"])
    assert [client.post(url).status_code for url in urls(missing)] == [404, 404]
    assert not Subscription.objects.exists() and not EventSourceMapping.objects.exists()


def test_it_forbids_read_only_members(client, users, fn, topic, queue):
    client.force_login(users["reader"])
    assert client.post(urls(fn)[0], {**SUB, "topic": topic.pk}).status_code == 403
    assert client.post(urls(fn)[1], {**MAP, "queue": queue.pk}).status_code == 403
    assert not Subscription.objects.exists() and not EventSourceMapping.objects.exists()


def test_it_answers_405_to_get(client, users, fn):
    client.force_login(users["member"])
    assert [client.get(url).status_code for url in urls(fn)] == [405, 405]


def test_it_sends_anonymous_users_to_log_in(client, fn):
    r = client.post(urls(fn)[0])
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
