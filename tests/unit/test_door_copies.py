"""The AWS door's in-memory copies (functions.changes.Copies): a key's
role, queues, topics and buckets. What they save must never be seen: a
role taken away, a key deleted, a queue changed or deleted applies to the
very next request, through a real boto3 client and the real door."""

import pytest
from botocore.exceptions import ClientError

from functions import changes
from functions.models import Membership
from messaging import copies
from messaging.models import Queue, QueueMessage


def _code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_a_role_taken_away_applies_to_the_next_write(sqs, users, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")  # the role is now in memory
    membership = Membership.objects.get(user=users["member"], team=team)
    membership.role = "readonly"
    membership.save()
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="two")
    assert _code(e) == "AccessDenied"
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url  # reads still pass
    membership.role = "member"
    membership.save()
    sqs.send_message(QueueUrl=url, MessageBody="three")


def test_a_removed_member_or_deleted_key_is_refused_at_once(sqs, member_key, users, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    member_key[0].delete()
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="two")
    assert _code(e) == "InvalidClientTokenId"


def test_a_changed_queue_is_read_again(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    assert copies.queue(team, "jobs") is copies.queue(team, "jobs")  # kept
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "900"})
    sqs.send_message(QueueUrl=url, MessageBody="two")
    delayed = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in delayed] == ["one"]  # "two" waits for the new delay


def test_a_deleted_queue_is_gone_for_every_operation(sqs, team):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.delete_queue(QueueUrl=url)
    for call in (lambda: sqs.send_message(QueueUrl=url, MessageBody="two"),
                 lambda: sqs.receive_message(QueueUrl=url)):
        with pytest.raises(ClientError) as e:
            call()
        assert _code(e) == "AWS.SimpleQueueService.NonExistentQueue"


@pytest.mark.django_db(transaction=True)  # the foreign key is checked at a real commit
def test_a_queue_deleted_by_another_process_refuses_the_send(sqs, team):
    """Before the news arrives, this process's copy names a queue that is
    gone: the message's foreign key refuses the write, and the answer says
    the queue does not exist (nothing is stored)."""
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    stale = copies.queue(team, "jobs")
    Queue.objects.filter(pk=stale.pk).delete()
    copies._queues.put((team.pk, "jobs"), stale)  # the other process's news not here yet
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="two")
    assert _code(e) == "AWS.SimpleQueueService.NonExistentQueue"
    assert not QueueMessage.objects.filter(body="two").exists()


def test_news_from_another_process_drops_the_copies(team, sqs):
    sqs.create_queue(QueueName="jobs")
    first = copies.queue(team, "jobs")
    changes.received("queue")  # as the done listener hands on another process's announcement
    assert copies.queue(team, "jobs") is not first
    again = copies.queue(team, "jobs")
    changes.received(None)  # reconnected: anything may have changed
    assert copies.queue(team, "jobs") is not again
