"""The door's write transactions hold SQLite's one write lock for writes
alone: what can be read before is read before. These check the statements
each hot operation runs, and that the optimistic PutObject still removes
exactly the file it replaced when another writer came first."""

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buckets import objects, storage
from buckets.models import Bucket, Object
from messaging import queues, topics
from messaging.models import QueueMessage, Topic, TopicMessage


def _blob(data: bytes, tmp: Path) -> str:
    spooled = storage.spool_dir()
    spooled.mkdir(parents=True, exist_ok=True)
    path = spooled / f"test-{data.hex()}.part"
    path.write_bytes(data)
    return storage.place(path)


def _statements(ctx) -> list[str]:
    return [q["sql"].split()[0] for q in ctx.captured_queries]


def test_publish_without_subscribers_is_one_insert(team):
    topic = Topic.objects.create(team=team, name="news")
    with CaptureQueriesContext(connection) as ctx:
        msg = topics.publish(topic, "hello")
    assert _statements(ctx) == ["SELECT", "INSERT"]  # subscriptions looked for, then the row
    assert TopicMessage.objects.get(message_id=msg.message_id).message == "hello"


def test_a_receive_with_nothing_expired_deletes_nothing(team):
    queue = queues.create_queue(team, "jobs")
    queues.send(queue, "one")
    with CaptureQueriesContext(connection) as ctx:
        got = queues.claim(queue, 1, timezone.now())
    assert [m.body for m in got] == ["one"]
    assert "DELETE" not in _statements(ctx)
    assert _statements(ctx).count("UPDATE") == 1


def test_a_receive_still_expires_old_messages(team):
    queue = queues.create_queue(team, "jobs", retention_s=60)
    queues.send(queue, "old", now=timezone.now() - timezone.timedelta(seconds=120))
    queues.send(queue, "new")
    got = queues.claim(queue, 10, timezone.now())
    assert [m.body for m in got] == ["new"]
    assert not QueueMessage.objects.filter(body="old").exists()


def test_delete_by_receipt_needs_the_same_queue(team):
    queue, other = queues.create_queue(team, "jobs"), queues.create_queue(team, "other")
    queues.send(queue, "one")
    [msg] = queues.claim(queue, 1, timezone.now())
    assert queues.delete_by_receipt(other, msg.receipt_handle) == 0
    assert queues.delete_by_receipt(queue, "x" * 64) == 0
    assert queues.delete_by_receipt(queue, msg.receipt_handle) == 1
    assert not QueueMessage.objects.filter(pk=msg.pk).exists()


@pytest.mark.django_db(transaction=True)  # on_commit removes the replaced files
def test_put_replaces_the_version_that_won_meanwhile(team, tmp_path, monkeypatch):
    bucket = Bucket.objects.create(team=team, name="data")
    headers = objects.Headers()
    first = objects.store(bucket, "k", _blob(b"v1", tmp_path), size=2, etag='"1"', headers=headers)
    first_blob = first.blob
    mine = _blob(b"v3", tmp_path)
    real_check = objects._check_conditions
    theirs = {}

    def another_writer_first(current, *args):
        # Between this PutObject's read and its write transaction, another
        # PutObject of the same key commits.
        if not theirs:
            monkeypatch.setattr(objects, "_check_conditions", real_check)
            theirs["obj"] = objects.store(bucket, "k", _blob(b"v2", tmp_path), size=2, etag='"2"',
                                          headers=headers)
        return real_check(current, *args)

    monkeypatch.setattr(objects, "_check_conditions", another_writer_first)
    objects.store(bucket, "k", mine, size=2, etag='"3"', headers=headers)
    row = Object.objects.get(bucket=bucket, key="k")
    assert (row.blob, row.etag) == (mine, '"3"')
    assert storage.path_of(mine).read_bytes() == b"v3"
    # Each writer removed exactly the file it replaced: v1's by theirs, v2's by mine.
    assert not storage.path_of(first_blob).exists()
    assert not storage.path_of(theirs["obj"].blob).exists()


def test_if_none_match_refuses_before_any_write(team, tmp_path):
    bucket = Bucket.objects.create(team=team, name="data")
    objects.store(bucket, "k", _blob(b"v1", tmp_path), size=2, etag='"1"', headers=objects.Headers())
    blob = _blob(b"v2", tmp_path)
    with CaptureQueriesContext(connection) as ctx, pytest.raises(Exception) as e:
        objects.store(bucket, "k", blob, size=2, etag='"2"', headers=objects.Headers(), if_none_match="*")
    assert getattr(e.value, "code", None) == "PreconditionFailed"
    assert set(_statements(ctx)) == {"SELECT"}
    assert not storage.path_of(blob).exists()
