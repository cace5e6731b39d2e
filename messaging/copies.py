"""Queues and topics by name, kept in this process's memory for the AWS
door's hot operations (SendMessage, ReceiveMessage, DeleteMessage,
ChangeMessageVisibility and their batches, Publish): looking the row up was
a query on every request. A save or delete of any queue or topic drops the
copies of every process (functions.changes, announced after the commit);
they also expire after `functions.changes.Copies.ttl_s`.

The rows are shared between threads: read them, never change them (the
operations that change a queue or topic read a fresh row)."""

from __future__ import annotations

from functions import changes
from functions.models import Team
from messaging.models import Queue, Topic

_queues = changes.Copies("queue")
_topics = changes.Copies("topic")
changes.announce_saves(Queue, "queue")
changes.announce_saves(Topic, "topic")


def queue(team: Team, name: str) -> Queue | None:
    """The team's queue `name` (with its team and dead-letter queue), or None."""
    key = (team.pk, name)
    found = _queues.get(key)
    if found is None:
        found = Queue.objects.select_related("team", "dead_letter_queue__team").filter(
            team=team, name=name
        ).first()
        if found is not None:
            _queues.put(key, found)
    return found


def topic(team: Team, name: str) -> Topic | None:
    """The team's topic `name` (with its team), or None."""
    key = (team.pk, name)
    found = _topics.get(key)
    if found is None:
        found = Topic.objects.select_related("team").filter(team=team, name=name).first()
        if found is not None:
            _topics.put(key, found)
    return found
