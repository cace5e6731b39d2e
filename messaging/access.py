"""Who may see and change topics and queues, as functions.access does for
functions: 404 to a stranger, 403 to a read-only member on a change."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from functions.access import role_in
from functions.models import Team
from messaging.models import Queue, Topic


def writable_teams(user):
    # One filter() call, so role and user apply to the same membership row.
    return Team.objects.filter(
        membership__user=user, membership__role__in=["owner", "member"]
    ).order_by("name")


def _check_write(user, team, write: bool) -> None:
    if write and role_in(user, team) == "readonly":
        raise PermissionDenied("Your role in this team is read-only.")


def get_topic_for_user(user, topic_id, *, write: bool = False) -> Topic:
    try:
        topic = Topic.objects.select_related("team").get(id=topic_id, team__membership__user=user)
    except (Topic.DoesNotExist, ValueError, TypeError):
        raise Http404("No such topic.") from None
    _check_write(user, topic.team, write)
    return topic


def get_queue_for_user(user, queue_id, *, write: bool = False) -> Queue:
    try:
        queue = Queue.objects.select_related("team", "dead_letter_queue").get(
            id=queue_id, team__membership__user=user
        )
    except (Queue.DoesNotExist, ValueError, TypeError):
        raise Http404("No such queue.") from None
    _check_write(user, queue.team, write)
    return queue
