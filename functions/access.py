"""Who may see and change what. Every view, API call and websocket goes
through these: a stranger gets 404 (we do not confirm the function exists),
a read-only member gets 403 on changes."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404

from functions import changes
from functions.models import ApiKey, Function, Membership, Team

# A user's role in a team, per (user id, team id), for the AWS door's
# write check on every write request. Dropped when any membership, API key
# or user is saved or deleted, in every process (functions.changes), so a
# role taken away applies to the next request; "" for no membership.
_roles = changes.Copies("access")
for _model in (Membership, ApiKey, get_user_model()):
    changes.announce_saves(_model, "access")


def teams_for(user):
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(membership__user=user)


def role_in(user, team) -> str | None:
    m = Membership.objects.filter(user=user, team=team).only("role").first()
    return m.role if m else None


def get_team_object_for_user(queryset, object_id, user, *, write: bool = False, what: str):
    """The object of `queryset` (a model with a `team`) with this id in one of
    the user's teams: 404 otherwise, also for an id that is not an id;
    403 when `write` and the user is read-only in that team."""
    try:
        obj = queryset.get(id=object_id, team__membership__user=user)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"No such {what}.") from None
    if write:
        check_write(user, obj.team)
    return obj


def get_named_team_object_for_user(queryset, account_id: str, name: str, user, *, write: bool = False,
                                   what: str):
    """The object of `queryset` (a model with a `team` and a `name` unique in
    it) named by its team's account id and its name, in one of the user's
    teams: 404 otherwise (we do not confirm it exists); 403 when `write` and
    the user is read-only in that team. For things a URL names as AWS does,
    by account and name (buckets, tables)."""
    obj = queryset.filter(team__account_id=account_id, name=name, team__membership__user=user).first()
    if obj is None:
        raise Http404(f"No such {what}.")
    if write:
        check_write(user, obj.team)
    return obj


def get_function_for_user(user, function_id, *, write: bool = False) -> Function:
    return get_team_object_for_user(
        Function.objects.select_related("team", "code"), function_id, user, write=write, what="function"
    )


def can_write(user, team) -> bool:
    return role_in(user, team) != "readonly"


def cached_can_write(user, team) -> bool | None:
    """can_write from this process's copy of the role, without the
    database; None when there is no copy (call copied_can_write then)."""
    role = _roles.get((user.pk, team.pk))
    return None if role is None else role != "readonly"


def copied_can_write(user, team) -> bool:
    """can_write, the role read once and kept (see _roles)."""
    allowed = cached_can_write(user, team)
    if allowed is None:
        role = role_in(user, team) or ""
        _roles.put((user.pk, team.pk), role)
        allowed = role != "readonly"
    return allowed


def check_write(user, team) -> None:
    if not can_write(user, team):
        raise PermissionDenied("Your role in this team is read-only.")


def writable_teams(user):
    # One filter() call, so role and user apply to the same membership row.
    return Team.objects.filter(
        membership__user=user, membership__role__in=["owner", "member"]
    ).order_by("name")


def default_team(user) -> Team | None:
    return teams_for(user).order_by("id").first()
