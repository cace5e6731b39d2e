"""An SNS delivery to an HTTP endpoint survives the deliveries worker being killed in
the middle of it: the message is a stored row before its task exists, and
the reconciler (messaging.requeue_http_deliveries) queues it again once
its attempt is overdue, so the endpoint gets it after the worker is back.
A stack of its own: this test kills its deliveries worker."""

import json
import queue
import threading

import pytest

from tests.integration.helpers import running, wait_for
from tests.integration.test_sns_real import boto
from tests.loopback import QuietHandler, serve, stop
from tests.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


@pytest.fixture(scope="module")
def stack():
    with running(Stack()) as s:
        yield s


def test_a_delivery_cut_by_a_killed_worker_is_delivered_after_it_returns(stack):
    arrived: queue.Queue = queue.Queue()
    release = threading.Event()
    calls = []

    class Handler(QuietHandler):
        def do_POST(self):
            body = json.loads(self.read_body())
            calls.append(body)
            arrived.put(body)
            if len(calls) == 1:
                release.wait(60)  # hold the first attempt open while its worker dies
            self.answer(caller_may_be_gone=True)  # the worker that asked may be gone

    server = serve(Handler)
    try:
        sns = boto(stack, "sns")
        topic = sns.create_topic(Name="cut-short")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http",
                      Endpoint=f"http://127.0.0.1:{server.server_port}/in")
        first = arrived.get(timeout=90)
        stack.kill("deliveries")  # mid-request: the attempt never finishes
        release.set()
        stack.revive("deliveries")
        again = arrived.get(timeout=180)
        assert again == first and again["Type"] == "SubscriptionConfirmation"
        query = ("__import__('messaging.models').models.HttpDelivery.objects"
                 ".values('status', 'attempts')")
        rows = wait_for(lambda: stack.rows(query) if stack.rows(query)[0]["status"] == "delivered" else None,
                        timeout=30)
        assert rows == [{"status": "delivered", "attempts": 2}]
    finally:
        release.set()
        stop(server)
