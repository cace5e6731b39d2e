"""The environments views: the installation's page (/environments/) and
the context of a function's Environments tab (functions.views). Both show
tables of invocations.env_state's views that invocations.env_live keeps
live over the websockets of invocations.env_consumers."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from functions.models import Team
from invocations import env_state


def _title(scope: str, team_names: dict[str, str]) -> str:
    if scope == env_state.POOL:
        return "Pre-warmed pool, shared by every team: a first call takes one and specialises it"
    if scope == env_state.UNOWNED:
        return "Environments of functions deleted since (reaped at the next round)"
    if scope.startswith("fn-"):
        return "This function's environments"
    return f"Team {team_names.get(scope, scope)}"


def _context(scopes: list[str], ws_url: str, event_scopes: list[str] | None = None) -> dict:
    team_ids = [int(s.split("-", 1)[1]) for s in scopes if s.startswith("team-")]
    names = {env_state.team_scope(t.id): t.name for t in Team.objects.filter(id__in=team_ids)}
    snaps = env_state.snapshots(scopes)
    return {
        "sections": [{"scope": s, "title": _title(s, names), "envs": snaps[s]} for s in scopes],
        "events": env_state.recent_events(event_scopes or scopes),
        "states": env_state.STATES,
        "ws_url": ws_url,
    }


@login_required
@require_GET
def environments(request: HttpRequest) -> HttpResponse:
    """Every execution environment the user may see: staff all of them,
    others the shared pool and their teams' functions' ones."""
    ctx = _context(env_state.user_scopes(request.user), "/ws/environments/")
    return render(request, "invocations/environments.html", ctx)


def tab_context(fn) -> dict:
    """The function's Environments tab: its environments, and the shared
    pool a first call of it would take one from."""
    scopes = [env_state.fn_scope(fn.id), env_state.POOL]
    # The function's page loads htmx's ws extension on <body> already.
    return {**_context(scopes, f"/ws/environments/functions/{fn.id}/"), "ws_ext_loaded": True}
