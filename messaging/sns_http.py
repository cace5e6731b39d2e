"""SNS's `http` / `https` protocol, to loopback endpoints only: the
endpoint check, the SubscriptionConfirmation message, and delivering
messages with SNS's retry policy, off the request path.

- **Endpoints** (`check_endpoint`): the URL's scheme is the protocol and
  its host is `localhost`, an IPv4 address in 127.0.0.0/8 or `::1`
  (written literally: no other name is resolved). Stratus never sends
  traffic off the machine.
- **Delivery** is a stored `HttpDelivery` row (the signed JSON body),
  written in the transaction that publishes or subscribes, and a Celery
  task `messaging.deliver_http` queued on commit, on the `deliveries`
  queue: a thread-pool worker of its own (bin/serve), so an endpoint that
  is slow to answer holds one thread for up to the read timeout
  (STRATUS_SNS_HTTP_READ_TIMEOUT, 15 s) and never an invocation worker or
  another endpoint's delivery. The task claims the row
  (a conditional UPDATE: two tasks for one row deliver it once) and POSTs
  the body with SNS's headers (`x-amz-sns-message-type`,
  `x-amz-sns-message-id`, `x-amz-sns-topic-arn`,
  `x-amz-sns-subscription-arn`, `Content-Type: text/plain; charset=UTF-8`).
- **Retries**, SNS's default HTTP/S delivery policy: the first attempt,
  then STRATUS_SNS_HTTP_RETRIES (3) more, STRATUS_SNS_HTTP_RETRY_DELAY
  (20 s) apart, after a connection error, a timeout, a 5xx or a 429. Any
  other answer outside 2xx is final (SNS treats 4xx as a permanent client
  error); redirects are not followed (the next hop might not be loopback).
- **Nothing lost**: a row whose task never ran (broker down, worker killed
  mid-attempt) is queued again by `requeue_lost` (beat, on the periodic
  queue) once it is STRATUS_REQUEUE_AFTER seconds overdue; delivery is
  at-least-once, as SNS's is.
- **https**: certificates are checked as STRATUS_SNS_HTTPS_VERIFY says
  ("true": the system's CAs; a path: that CA bundle or a self-signed
  endpoint's own certificate; "false": not checked)."""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from messaging import sns_signing
from messaging.models import HttpDelivery, Subscription
from messaging.validation import MessagingError

log = logging.getLogger(__name__)

PROTOCOLS = ("http", "https")
# SNS's confirmation tokens are valid for three days.
TOKEN_LIFETIME = timedelta(days=3)
CONNECT_TIMEOUT_S = 5.0
USER_AGENT = "Amazon Simple Notification Service Agent"
BATCH = 200


def check_endpoint(protocol: str, endpoint) -> str:
    """The endpoint URL for an `http`/`https` subscription, or
    MessagingError saying why it is refused."""
    if not isinstance(endpoint, str) or not endpoint:
        raise MessagingError("Endpoint is required: a URL such as http://127.0.0.1:8080/sns", "endpoint")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise MessagingError(f"{endpoint} is not a URL", "endpoint") from None
    if parts.scheme.lower() != protocol:
        raise MessagingError(f"Endpoint must match the specified protocol: {protocol}:// URL expected",
                             "endpoint")
    if not host:
        raise MessagingError(f"{endpoint} has no host", "endpoint")
    if not is_loopback(host):
        raise MessagingError(
            f"Stratus delivers HTTP/S messages to loopback endpoints only (localhost, 127.0.0.0/8, "
            f"[::1]); {host} is not one", "endpoint",
        )
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in endpoint):
        raise MessagingError("Endpoint must not contain spaces or control characters", "endpoint")
    return endpoint


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A confirmation token: 128 hex digits, like SNS's long hex tokens."""
    return secrets.token_hex(64)


# Messages ------------------------------------------------------------------------------


def confirmation_message(sub: Subscription, *, message_id: str, now) -> dict:
    """The SubscriptionConfirmation SNS POSTs to a new HTTP/S endpoint
    (AWS: "HTTP/HTTPS subscription confirmation JSON format"), signed."""
    topic = sub.topic
    base = sns_signing.base_url(sub.base_url)
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": sub.token,
        "TopicArn": topic.arn,
        "Message": (
            f"You have chosen to subscribe to the topic {topic.arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        ),
        "SubscribeURL": sns_signing.subscribe_url(base, topic.arn, sub.token),
        "Timestamp": sns_signing.iso_ms(now),
        "SignatureVersion": topic.signature_version,
    }
    message["Signature"] = sns_signing.sign(message, topic.signature_version)
    message["SigningCertURL"] = sns_signing.signing_cert_url(base)
    return message


def unsubscribe_confirmation(sub: Subscription, now=None) -> HttpDelivery:
    """Store the UnsubscribeConfirmation SNS POSTs to an endpoint that was
    unsubscribed: its SubscribeURL (a new token, valid 3 days) restores the
    subscription. Called in the transaction that removes `sub`."""
    now = now or timezone.now()
    topic = sub.topic
    base = sns_signing.base_url(sub.base_url)
    token = new_token()
    message = {
        "Type": "UnsubscribeConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic.arn,
        "Message": (
            f"You have chosen to deactivate subscription {sub.arn}.\n"
            "To cancel this operation and restore the subscription, visit the SubscribeURL included in "
            "this message."
        ),
        "SubscribeURL": sns_signing.subscribe_url(base, topic.arn, token),
        "Timestamp": sns_signing.iso_ms(now),
        "SignatureVersion": topic.signature_version,
    }
    message["Signature"] = sns_signing.sign(message, topic.signature_version)
    message["SigningCertURL"] = sns_signing.signing_cert_url(base)
    restore = {
        "id": str(sub.id), "url": sub.url, "filter_policy": sub.filter_policy,
        "filter_policy_scope": sub.filter_policy_scope, "raw_message_delivery": sub.raw_message_delivery,
        "base_url": sub.base_url,
    }
    return store(sub, message, token=token, restore=restore)


# Delivering ----------------------------------------------------------------------------


def store(sub: Subscription, message: dict, **extra) -> HttpDelivery:
    """Store one message for `sub`'s endpoint and queue its task when the
    caller's transaction commits."""
    row = HttpDelivery.objects.create(
        subscription=sub, url=sub.url, message_type=message["Type"], message_id=message["MessageId"],
        topic_arn=message["TopicArn"], subscription_arn=sub.arn,
        body=json.dumps(message, ensure_ascii=False), **extra,
    )
    ident = row.id
    transaction.on_commit(lambda: queue(ident))
    return row


def store_raw(sub: Subscription, *, message_id: str, text: str) -> HttpDelivery:
    """RawMessageDelivery: the message itself is the POST's body, unsigned,
    with SNS's headers and `x-amz-sns-rawdelivery: true`."""
    row = HttpDelivery.objects.create(
        subscription=sub, url=sub.url, message_type="Notification", message_id=message_id,
        topic_arn=sub.topic.arn, subscription_arn=sub.arn, body=text, raw=True,
    )
    ident = row.id
    transaction.on_commit(lambda: queue(ident))
    return row


def send_confirmation(sub: Subscription, now=None) -> HttpDelivery:
    now = now or timezone.now()
    return store(sub, confirmation_message(sub, message_id=str(uuid.uuid4()), now=now))


def queue(ident, countdown: float | None = None) -> None:
    """Queue the row's task. A broker that is down does not fail the
    caller: the row is stored and requeue_lost queues it later."""
    try:
        # By name: messaging.tasks imports this module.
        current_app.tasks["messaging.deliver_http"].apply_async((str(ident),), countdown=countdown)
    except Exception as e:  # noqa: BLE001 - kombu raises several kinds
        log.warning("could not queue the HTTP delivery %s (%r); the reconciler will", ident, e)


def attempt(ident: str) -> str | None:
    """One delivery attempt of the row `ident`, if it is due and this call
    wins the claim; returns the row's status afterwards (None: not ours)."""
    now = timezone.now()
    row = HttpDelivery.objects.filter(id=ident, status="pending").first()
    if row is None or row.next_attempt_at > now + timedelta(seconds=1):
        return None  # Done already, or not due yet (its own task comes later).
    claimed = HttpDelivery.objects.filter(
        id=row.id, status="pending", attempts=row.attempts, next_attempt_at=row.next_attempt_at
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=claim_lease_s()))
    if claimed != 1:
        return None
    attempts = row.attempts + 1
    if not _still_wanted(row):
        return _finish(row, "failed", "The subscription was removed (or disabled) before delivery.")
    error, retry = _post(row)
    if error is None:
        return _finish(row, "delivered", "")
    if retry and attempts <= settings.STRATUS_SNS_HTTP_RETRIES:
        delay = settings.STRATUS_SNS_HTTP_RETRY_DELAY
        HttpDelivery.objects.filter(id=row.id, status="pending", attempts=attempts).update(
            next_attempt_at=timezone.now() + timedelta(seconds=delay), last_error=error
        )
        queue(row.id, countdown=delay)
        return "pending"
    log.warning("SNS delivery %s to %s failed for good after %d attempts: %s",
                row.id, row.url, attempts, error)
    return _finish(row, "failed", error)


def read_timeout_s() -> float:
    """Seconds an attempt waits for the endpoint's answer:
    STRATUS_SNS_HTTP_READ_TIMEOUT (SNS waits 15 s)."""
    return settings.STRATUS_SNS_HTTP_READ_TIMEOUT


def claim_lease_s() -> float:
    """A claimed attempt is treated as lost after this long: the request's
    timeouts, with room to spare."""
    return CONNECT_TIMEOUT_S + read_timeout_s() + 10


def _still_wanted(row: HttpDelivery) -> bool:
    """A notification goes to a confirmed, enabled subscription only; a
    confirmation to a subscription that still exists; an
    UnsubscribeConfirmation always (its subscription is gone)."""
    if row.message_type == "UnsubscribeConfirmation":
        return True
    found = Subscription.objects.filter(id=row.subscription_id)
    if row.message_type == "Notification":
        found = found.filter(pending=False, enabled=True)
    return row.subscription_id is not None and found.exists()


def _finish(row: HttpDelivery, status: str, error: str) -> str:
    HttpDelivery.objects.filter(id=row.id, status="pending").update(
        status=status, last_error=error, finished_at=timezone.now()
    )
    return status


def _verify_setting():
    value = settings.STRATUS_SNS_HTTPS_VERIFY
    if value.lower() in ("true", "1", "yes", ""):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    return value  # a CA bundle or certificate file


def _post(row: HttpDelivery) -> tuple[str | None, bool]:
    """(error or None, whether to retry)."""
    host = urlsplit(row.url).hostname or ""
    if not is_loopback(host):  # Checked at Subscribe; checked again before any traffic.
        return f"{host} is not a loopback host", False
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": USER_AGENT,
        "x-amz-sns-message-type": row.message_type,
        "x-amz-sns-message-id": row.message_id,
        "x-amz-sns-topic-arn": row.topic_arn,
    }
    if row.message_type != "SubscriptionConfirmation":
        headers["x-amz-sns-subscription-arn"] = row.subscription_arn
    if row.raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    session = requests.Session()
    session.trust_env = False  # No proxy from the environment: loopback stays loopback.
    try:
        answer = session.post(
            row.url, data=row.body.encode("utf-8"), headers=headers, allow_redirects=False,
            timeout=(CONNECT_TIMEOUT_S, read_timeout_s()), verify=_verify_setting(),
        )
    except requests.RequestException as e:
        return f"{type(e).__name__}: {e}"[:1000], True
    finally:
        session.close()
    if 200 <= answer.status_code < 300:
        return None, False
    retry = answer.status_code >= 500 or answer.status_code == 429
    return f"The endpoint answered HTTP {answer.status_code}.", retry


def requeue_lost() -> int:
    """Queue again the pending rows whose task was lost: due for longer
    than STRATUS_REQUEUE_AFTER. The row's due time moves to now first (a
    conditional UPDATE), so a row is queued once per period, and one
    requeued by two reconcilers is still claimed by one task."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.STRATUS_REQUEUE_AFTER)
    lost = list(
        HttpDelivery.objects.filter(status="pending", next_attempt_at__lt=cutoff)
        .values_list("id", "next_attempt_at")[:BATCH]
    )
    count = 0
    for ident, due in lost:
        if HttpDelivery.objects.filter(id=ident, status="pending", next_attempt_at=due).update(
            next_attempt_at=now
        ) == 1:
            queue(ident)
            count += 1
    return count
