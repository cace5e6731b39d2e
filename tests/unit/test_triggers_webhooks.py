"""Webhooks: secret URL, optional HMAC signature, 202 and an async invocation."""

import json

import pytest

from invocations import tasks as inv_tasks
from invocations.models import Invocation
from triggers.models import Webhook
from triggers.webhooks import signature_for, signature_ok

BODY = b'{"action": "opened"}'


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(inv_tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def hook(make_function):
    hook = Webhook(function=make_function(), priority="low")
    hook.set_secret("topsecret")
    hook.save()
    return hook


def _post(client, hook, signature=None, body=BODY):
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature else {}
    return client.post(f"/hooks/{hook.token}/", data=body, content_type="application/json", **headers)


def test_it_checks_signatures_in_constant_time_form():
    good = signature_for("k", b"body")
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert signature_ok("k", b"body", good)
    assert not signature_ok("k", b"body2", good)
    assert not signature_ok("k", b"body", None)
    assert not signature_ok("k", b"body", good.upper())


def test_it_accepts_a_good_signature(client, hook):
    r = _post(client, hook, signature_for("topsecret", BODY))
    assert r.status_code == 202
    inv = Invocation.objects.get()
    assert r.json() == {"requestId": str(inv.request_id)}
    assert (inv.source, inv.invocation_type, inv.priority) == ("webhook", "Event", "low")
    assert inv.trigger == hook.key
    event = json.loads(inv.event)
    assert event["version"] == "2.0" and event["body"] == BODY.decode()
    assert event["headers"]["x-hub-signature-256"].startswith("sha256=")
    hook.refresh_from_db()
    assert hook.last_fired_at is not None


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_it_refuses_a_bad_or_missing_signature(client, hook, signature):
    r = _post(client, hook, signature)
    assert r.status_code == 401
    assert "X-Hub-Signature-256" in r.json()["message"]
    assert not Invocation.objects.exists()


def test_it_needs_no_signature_without_a_secret(client, make_function):
    hook = Webhook.objects.create(function=make_function(name="open"))
    assert _post(client, hook).status_code == 202


def test_it_answers_404_when_disabled_or_unknown(client, hook):
    Webhook.objects.filter(pk=hook.pk).update(enabled=False)
    assert _post(client, hook, signature_for("topsecret", BODY)).status_code == 404
    assert client.post("/hooks/not-a-token/").json() == {"message": "Not Found"}
    assert not Invocation.objects.exists()


def test_it_refuses_events_over_1_mb(client, make_function):
    hook = Webhook.objects.create(function=make_function(name="big"))
    assert _post(client, hook, body=b"x" * (1024 * 1024 + 1)).status_code == 413
