"""Who may see and change topics and queues, as functions.access does for
functions: 404 to a stranger, 403 to a read-only member on a change."""

from django.http import Http404

from functions.access import check_write, writable_teams
from messaging.models import Queue, Topic

__all__ = ["get_queue_for_user", "get_topic_for_user", "writable_teams"]


def get_topic_for_user(user, topic_id, *, write: bool = False) -> Topic:
    try:
        topic = Topic.objects.select_related("team").get(id=topic_id, team__membership__user=user)
    except (Topic.DoesNotExist, ValueError, TypeError):
        raise Http404("No such topic.") from None
    if write:
        check_write(user, topic.team)
    return topic


def get_queue_for_user(user, queue_id, *, write: bool = False) -> Queue:
    try:
        queue = Queue.objects.select_related("team", "dead_letter_queue").get(
            id=queue_id, team__membership__user=user
        )
    except (Queue.DoesNotExist, ValueError, TypeError):
        raise Http404("No such queue.") from None
    if write:
        check_write(user, queue.team)
    return queue
