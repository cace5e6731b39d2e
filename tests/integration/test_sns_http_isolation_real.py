"""Slow SNS HTTP endpoints delay no one else (issue: one team's hanging
endpoints held every Celery worker). Deliveries run on their own queue and
thread-pool worker (`deliveries`, bin/serve), so on the real stack, with 8
subscriptions whose endpoint holds every Notification open:

- all 8 first attempts are in flight at once (a prefork worker of 4
  processes held at most 4),
- a healthy endpoint on another topic receives its Notification while all 8
  still hold their first attempt (none timed out, none retried),
- a sync and an async Lambda invoke succeed meanwhile.

Asserted by outcome (requests in flight at the hanging server), not by
time. A stack of its own: the read timeout is long (120 s), so a hanging
attempt cannot end on its own before the test releases it."""

import json
import queue
import threading

import pytest

from tests.integration.helpers import create, invoke_json, running, wait_for
from tests.integration.test_messaging_real import logs_of
from tests.integration.test_sns_http_real import Endpoint
from tests.integration.test_sns_real import PRINTER, boto
from tests.loopback import QuietHandler, serve, stop
from tests.stack import Stack

pytestmark = pytest.mark.integration

HANGING = 8


@pytest.fixture(scope="module")
def stack():
    with running(Stack(STRATUS_SNS_HTTP_READ_TIMEOUT="120")) as s:
        yield s


class HangingServer:
    """Loopback endpoints /hook/<n>: a SubscriptionConfirmation is answered
    at once (its token goes on `tokens`); a Notification is held open until
    `release` is set. Counts Notifications received and still in flight."""

    def __init__(self):
        self.tokens: queue.Queue = queue.Queue()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.received = 0
        server = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = json.loads(self.read_body())
                if body["Type"] == "Notification":
                    with server.lock:
                        server.in_flight += 1
                        server.received += 1
                    server.release.wait(300)
                    with server.lock:
                        server.in_flight -= 1
                else:
                    server.tokens.put((body["Type"], body.get("Token")))
                self.answer(caller_may_be_gone=True)  # the delivery may have given up on us

        self.server = serve(Handler, daemon_threads=True)

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook/{n}"

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.in_flight, self.received

    def close(self):
        self.release.set()
        stop(self.server)


@pytest.fixture
def hanging():
    h = HangingServer()
    yield h
    h.close()


@pytest.fixture
def healthy():
    e = Endpoint()
    yield e
    e.close()


def confirmed(sns, topic: str, url: str, token_of) -> str:
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    kind, token = token_of()
    assert kind == "SubscriptionConfirmation"
    return sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"]


def test_hanging_endpoints_delay_neither_other_topics_nor_invocations(stack, hanging, healthy):
    sns = boto(stack, "sns")
    lam = stack.lambda_client()
    create(lam, "unblocked", PRINTER, Timeout=10)
    # Warm: the invokes below measure queueing, not a cold start.
    answer, body = invoke_json(lam, "unblocked", {"warm": True})
    assert answer["StatusCode"] == 200 and body == {"ok": True}

    slow = sns.create_topic(Name="slow-team")["TopicArn"]
    for n in range(HANGING):
        confirmed(sns, slow, hanging.url(n), lambda: hanging.tokens.get(timeout=90))
    fast = sns.create_topic(Name="fast-team")["TopicArn"]
    confirmed(sns, fast, healthy.url,
              lambda: (lambda b: (b["Type"], b["Token"]))(healthy.next()["body"]))

    sns.publish(TopicArn=slow, Message="to endpoints that never answer")
    # Every hanging endpoint holds an attempt at once: none waits behind another.
    assert wait_for(lambda: hanging.counts() == (HANGING, HANGING), timeout=90)

    sent = sns.publish(TopicArn=fast, Message="for the healthy team")
    note = healthy.next(timeout=90)
    assert note["body"]["MessageId"] == sent["MessageId"]
    # ...while all 8 still hold their first attempt (no timeout, no retry).
    assert hanging.counts() == (HANGING, HANGING)

    answer, body = invoke_json(lam, "unblocked", {"sync": True})
    assert answer["StatusCode"] == 200 and body == {"ok": True}
    lam.invoke(FunctionName="unblocked", InvocationType="Event", Payload=b'{"async": "marker-7"}')
    assert wait_for(lambda: [r for r in logs_of(stack, "unblocked")
                             if r["status"] == "succeeded" and "marker-7" in (r["logs"] or "")],
                    timeout=90)
    assert hanging.counts() == (HANGING, HANGING)

    # Released, each hanging endpoint's message is delivered on its first attempt.
    hanging.release.set()
    query = ("__import__('messaging.models').models.HttpDelivery.objects"
             f".filter(topic_arn={slow!r}, message_type='Notification').values('status', 'attempts')")
    rows = wait_for(lambda: (lambda r: r if all(x["status"] == "delivered" for x in r) else None)(
        stack.rows(query)), timeout=60)
    assert rows == [{"status": "delivered", "attempts": 1}] * HANGING
    sns.delete_topic(TopicArn=slow)
    sns.delete_topic(TopicArn=fast)
