"""Who may see and change topics and queues, as functions.access does for
functions: 404 to a stranger, 403 to a read-only member on a change."""

from functions.access import get_team_object_for_user, writable_teams
from messaging.models import Queue, Topic

__all__ = ["get_queue_for_user", "get_topic_for_user", "writable_teams"]


def get_topic_for_user(user, topic_id, *, write: bool = False) -> Topic:
    return get_team_object_for_user(
        Topic.objects.select_related("team"), topic_id, user, write=write, what="topic"
    )


def get_queue_for_user(user, queue_id, *, write: bool = False) -> Queue:
    return get_team_object_for_user(
        Queue.objects.select_related("team", "dead_letter_queue"), queue_id, user,
        write=write, what="queue",
    )
