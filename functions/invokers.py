"""Who may invoke a team's functions through the Lambda API, kept per web
process beside functions.lookup: Invoke is the one call made many times a
second and must not ask the database each time.

Invoking is a change (lambda:InvokeFunction is its own IAM permission,
outside AWS's AWSLambda_ReadOnlyAccess policy, and the console's Test tab
is for members and owners), so a read-only member's key may not. Answers
are dropped when any process saves or deletes a membership
(functions.changes, "membership") and live at most TTL_S in case that news
was lost."""

import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from functions import changes
from functions.access import can_write
from functions.models import Membership

TTL_S = 10.0
_cache: dict[tuple, tuple[float, bool]] = {}


def cached(user_id: int, team_id: int) -> bool | None:
    """The kept answer, or None (call may_invoke() from a thread)."""
    hit = _cache.get((user_id, team_id))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def may_invoke(user, team) -> bool:
    """True unless `user` is read-only in `team` (database; kept TTL_S)."""
    found = cached(user.pk, team.pk)
    if found is not None:
        return found
    allowed = can_write(user, team)
    _cache[(user.pk, team.pk)] = (time.monotonic() + TTL_S, allowed)
    return allowed


def refusal(key) -> str | None:
    """Why an API key (a person's) may not invoke its team's functions, or
    None: AccessDeniedException's message."""
    if may_invoke(key.user, key.team):
        return None
    return (f"{key.user.username} is read-only in the team {key.team.name}: invoking a function "
            "(lambda:InvokeFunction) is for members and owners.")


@changes.on_change
def _dropped(what: str | None) -> None:
    if what in (None, "membership"):
        _cache.clear()


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def _changed(sender, instance: Membership, **kwargs) -> None:
    changes.announce("membership")
