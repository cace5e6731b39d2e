"""Topic webhooks: POST /hooks/topics/<token>/ publishes the body; the
topic page's create/rotate/disable controls answer 404/403/405 like the
other topic views."""

import json
import uuid

import pytest
from django.urls import resolve, reverse

from invocations import tasks
from invocations.models import Invocation
from messaging import topics, webhooks
from messaging.models import Topic, TopicMessage
from triggers.webhooks import signature_for

BODY = b'{"order": 42}'


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def topic(team, make_function):
    topic = topics.create_topic(team, "orders")
    topics.subscribe(topic, make_function())
    return topic


@pytest.fixture
def secret(topic):
    return topic.issue_webhook(with_secret=True)


def _post(client, token, body=BODY, signature=None, **headers):
    if signature:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post(f"/hooks/topics/{token}/", data=body, content_type="text/plain", **headers)


def test_it_routes_topic_hooks_apart_from_function_hooks(topic, secret):
    assert resolve(f"/hooks/topics/{topic.webhook_token}/").url_name == "msg-topic-hook"
    assert resolve("/hooks/some-function-token/").url_name == "trg-hook"
    assert len(topic.webhook_token) >= 32


def test_it_publishes_the_body_with_a_good_signature(client, topic, secret):
    r = _post(client, topic.webhook_token, signature=signature_for(secret, BODY),
              HTTP_X_STRATUS_SUBJECT="New order")
    assert r.status_code == 202
    msg = TopicMessage.objects.get()
    assert r.json() == {"MessageId": str(msg.message_id)}
    assert (msg.message, msg.subject, msg.deliveries) == (BODY.decode(), "New order", 1)
    inv = Invocation.objects.get()
    assert inv.source == "topic"
    sns = json.loads(inv.event)["Records"][0]["Sns"]
    assert sns["Message"] == BODY.decode() and sns["Subject"] == "New order"


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_it_refuses_a_bad_or_missing_signature(client, topic, secret, signature):
    r = _post(client, topic.webhook_token, signature=signature)
    assert r.status_code == 401
    assert r["Content-Type"] == "application/json"
    assert "X-Hub-Signature-256" in r.json()["message"]
    assert not TopicMessage.objects.exists() and not Invocation.objects.exists()


def test_it_refuses_a_signature_made_with_the_old_secret(client, topic, secret):
    new_secret = topic.issue_webhook(with_secret=True)
    assert new_secret != secret
    assert _post(client, topic.webhook_token, signature=signature_for(secret, BODY)).status_code == 401
    assert _post(client, topic.webhook_token, signature=signature_for(new_secret, BODY)).status_code == 202


def test_it_needs_no_signature_without_a_secret(client, topic):
    assert topic.issue_webhook(with_secret=False) == ""
    assert _post(client, topic.webhook_token).status_code == 202


def test_it_sends_header_attributes(client, topic):
    topic.issue_webhook(with_secret=False)
    r = _post(client, topic.webhook_token, HTTP_X_STRATUS_ATTR_COLOR="red",
              HTTP_X_STRATUS_ATTR_ORDER_KIND="rush")
    assert r.status_code == 202
    assert TopicMessage.objects.get().attributes == {
        "color": {"Type": "String", "Value": "red"},
        "order-kind": {"Type": "String", "Value": "rush"},
    }


def test_it_applies_filter_policies_to_header_attributes(client, topic, make_function):
    topics.subscribe(topic, make_function(name="reds"), policy={"color": ["red"]})
    topic.issue_webhook(with_secret=False)
    _post(client, topic.webhook_token, HTTP_X_STRATUS_ATTR_COLOR="blue")
    assert TopicMessage.objects.get().deliveries == 1


def test_it_refuses_too_many_attributes_and_saves_nothing(client, topic):
    topic.issue_webhook(with_secret=False)
    headers = {f"HTTP_X_STRATUS_ATTR_A{i}": "v" for i in range(11)}
    r = _post(client, topic.webhook_token, **headers)
    assert r.status_code == 400 and "at most 10" in r.json()["message"]
    assert not TopicMessage.objects.exists()


def test_it_refuses_an_empty_or_binary_body(client, topic):
    topic.issue_webhook(with_secret=False)
    assert _post(client, topic.webhook_token, body=b"").status_code == 400
    assert _post(client, topic.webhook_token, body=b"\xff\xfe").status_code == 400
    assert not TopicMessage.objects.exists()


def test_it_answers_404_to_unknown_and_disabled_tokens(client, topic, secret):
    token = topic.webhook_token
    assert _post(client, "not-a-token").json() == {"message": "Not Found"}
    topic.disable_webhook()
    r = _post(client, token, signature=signature_for(secret, BODY))
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}
    assert not TopicMessage.objects.exists()


def test_it_answers_404_to_the_old_url_after_a_rotation(client, topic, secret):
    old = topic.webhook_token
    topic.issue_webhook(with_secret=False)
    assert _post(client, old).status_code == 404
    assert _post(client, topic.webhook_token).status_code == 202


def test_it_refuses_messages_over_256_kb(client, topic):
    topic.issue_webhook(with_secret=False)
    r = _post(client, topic.webhook_token, body=b"x" * (256 * 1024 + 1))
    assert r.status_code == 413 and "256 KB" in r.json()["message"]
    # At the limit the body fits, but not with an attribute on top.
    r = _post(client, topic.webhook_token, body=b"x" * (256 * 1024), HTTP_X_STRATUS_ATTR_K="v")
    assert r.status_code == 413
    assert not TopicMessage.objects.exists()
    assert _post(client, topic.webhook_token, body=b"x" * (256 * 1024)).status_code == 202


def test_it_is_csrf_exempt_and_post_only(topic):
    from django.test import Client

    topic.issue_webhook(with_secret=False)
    strict = Client(enforce_csrf_checks=True)
    assert _post(strict, topic.webhook_token).status_code == 202
    r = strict.get(f"/hooks/topics/{topic.webhook_token}/")
    assert r.status_code == 405 and r["Allow"] == "POST"


def test_it_reads_utf8_headers():
    class Fake:
        headers = {"X-Stratus-Attr-Name": "Zo\u00c3\u00ab", "X-Other": "x"}

    assert webhooks.header_attributes(Fake()) == {"name": "Zo\u00eb"}


# The topic page's controls ----------------------------------------------------


def control_urls(topic):
    return [
        reverse("msg-topic-webhook", args=[topic.id]),
        reverse("msg-topic-webhook-disable", args=[topic.id]),
    ]


def test_it_creates_a_webhook_and_shows_the_secret_once(client, users, topic):
    client.force_login(users["member"])
    r = client.post(reverse("msg-topic-webhook", args=[topic.id]), {"with_secret": "on"})
    assert r.status_code == 200
    topic.refresh_from_db()
    page = r.content.decode()
    assert f"/hooks/topics/{topic.webhook_token}/" in page
    assert topic.webhook_secret and topic.webhook_secret in page
    assert topic.webhook_secret not in topic.webhook_secret_encrypted
    again = client.get(reverse("msg-topic-detail", args=[topic.id])).content.decode()
    assert f"/hooks/topics/{topic.webhook_token}/" in again
    assert topic.webhook_secret not in again


def test_it_rotates_and_disables_the_webhook(client, users, topic):
    client.force_login(users["owner"])
    url, disable_url = control_urls(topic)
    client.post(url, {"with_secret": "on"})
    first = Topic.objects.get(pk=topic.pk).webhook_token
    r = client.post(url, {})
    assert r.status_code == 200 and "Rotated" in r.content.decode()
    topic.refresh_from_db()
    assert topic.webhook_token != first and topic.webhook_secret == ""
    r = client.post(disable_url)
    assert r.status_code == 302 and r["Location"] == reverse("msg-topic-detail", args=[topic.id])
    topic.refresh_from_db()
    assert topic.webhook_token is None and topic.webhook_secret_encrypted == ""


def test_it_hides_the_controls_from_strangers(client, users, topic, secret):
    client.force_login(users["outsider"])
    for url in control_urls(topic) + [reverse("msg-topic-webhook", args=[uuid.uuid4()])]:
        assert client.post(url).status_code == 404, url
    assert Topic.objects.get(pk=topic.pk).webhook_token == topic.webhook_token


def test_it_forbids_read_only_members_and_hides_the_url_from_them(client, users, topic, secret):
    client.force_login(users["reader"])
    for url in control_urls(topic):
        assert client.post(url).status_code == 403, url
    assert Topic.objects.get(pk=topic.pk).webhook_token == topic.webhook_token
    page = client.get(reverse("msg-topic-detail", args=[topic.id])).content.decode()
    assert topic.webhook_token not in page and "has a webhook URL" in page


def test_it_answers_405_to_wrong_methods_on_the_controls(client, users, topic):
    client.force_login(users["member"])
    for url in control_urls(topic):
        assert client.get(url).status_code == 405, url
    assert Topic.objects.get(pk=topic.pk).webhook_token is None


def test_it_sends_anonymous_users_to_log_in(client, topic):
    r = client.post(reverse("msg-topic-webhook", args=[topic.id]))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    assert Topic.objects.get(pk=topic.pk).webhook_token is None
