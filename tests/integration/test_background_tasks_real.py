"""Background work on a real stack.

The web queues an SNS http delivery's task itself (tests/unit/
test_task_registry.py): boto3's Subscribe -> uvicorn ->
messaging.deliver_http queued on commit -> the Celery worker POSTs the
SubscriptionConfirmation to a loopback endpoint in this process.

This stack's requeue job only takes rows overdue by STRATUS_REQUEUE_AFTER
(600 s here), ten times the wait below: a confirmation that arrives at all
was sent by the task the web queued, not by the requeue job that used to
rescue it a minute later.

The periodic worker sweeps the S3 spool folder (buckets.spool_sweep) every
second here: an old file goes, a young one and an old one that a process
(this test's) still has open stay."""

import os
import queue
import time
from pathlib import Path

import pytest

from tests.integration.helpers import wait_for
from tests.integration.test_sns_http_real import Endpoint
from tests.integration.test_sns_real import boto

pytestmark = pytest.mark.integration

REQUEUE_AFTER = 600
WAIT = 60


@pytest.fixture(scope="module")
def background_stack():
    from tests.stack import Stack

    s = Stack(STRATUS_REQUEUE_AFTER=str(REQUEUE_AFTER), STRATUS_SPOOL_SWEEP_INTERVAL="1").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def test_it_posts_an_http_subscriptions_confirmation_from_the_task_the_web_queued(
    background_stack, endpoint
):
    stack = background_stack
    assert WAIT < REQUEUE_AFTER  # else the requeue job could be what sent it
    sns = boto(stack, "sns")
    topic = sns.create_topic(Name="prompt-hooks")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)["SubscriptionArn"] == (
        "pending confirmation"
    )

    try:
        confirmation = endpoint.next(timeout=WAIT)
    except queue.Empty:
        pytest.fail(f"no confirmation within {WAIT} s; web log:\n{stack.log('web')[-3000:]}")
    assert confirmation["body"]["Type"] == "SubscriptionConfirmation"
    assert confirmation["body"]["TopicArn"] == topic

    # One attempt, by the first task, and the web never failed to queue it.
    seen = []

    def row():
        out = stack.shell(
            "from messaging.models import HttpDelivery as H\n"
            f"r = H.objects.get(message_id={confirmation['body']['MessageId']!r})\n"
            "print('row', r.status, r.attempts)"
        )
        seen.append(out)
        last = [line.split()[1:] for line in out.splitlines() if line.startswith("row ")][-1]
        return last if last[0] != "pending" else None

    assert wait_for(row, timeout=WAIT) == ["delivered", "1"], seen[-1:]
    assert "could not queue the HTTP delivery" not in stack.log("web")


def test_the_periodic_worker_sweeps_what_killed_uploads_left(background_stack):
    spool = background_stack.data_dir / "objects" / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    two_hours_ago = time.time() - 7200

    def leave(name: str) -> Path:
        path = spool / name
        path.write_bytes(b"part of a body")
        os.utime(path, (two_hours_ago, two_hours_ago))
        return path

    young = spool / "upload-young.part"
    young.write_bytes(b"an upload that just began")
    held = leave("upload-held.part")
    with open(held, "ab"):  # an upload in progress, however slow
        left = leave("upload-left.part")  # last: a sweep that took it saw the others
        wait_for(lambda: not left.exists(), timeout=WAIT)
        assert held.exists() and young.exists()
