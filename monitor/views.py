"""The charts' pages and their JSON: the dashboard (the installation for
staff, the user's teams otherwise, or one team) and the function's Monitor
tab (rendered by functions.views with `tab_context`).

The numbers come from metrics.series (the metrics contract); these views
only choose the window and who may see what. The page embeds the series
(json_script) and static/js/charts.js draws it with uPlot, re-reading the
JSON endpoint when a tick arrives over the websocket (monitor.consumers)."""

from datetime import UTC, datetime

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from functions.access import get_function_for_user, teams_for
from functions.models import Function, Team
from metrics.series import series as metrics_series
from monitor import ranges


def _now() -> datetime:
    return datetime.now(UTC)


def charts_data(*, teams, function_id=None, r: ranges.Range) -> dict:
    """What the page embeds and the JSON endpoints answer:
    {"range": name, "step_s": s, "since": unix s, "until": unix s,
    "series": metrics.series.series(...) (arrays per step, "totals"),
    "peak_concurrency": the highest step's concurrency (int)}."""
    since, until = ranges.window(r, _now())
    data = metrics_series(teams=teams, function_id=function_id, since=since, until=until, step_s=r.step_s)
    return {
        "range": r.name,
        "step_s": r.step_s,
        "since": int(since.timestamp()),
        "until": int(until.timestamp()),
        "series": data,
        "peak_concurrency": max((c or 0 for c in data.get("concurrency", [])), default=0),
    }


def _bad_range(message: str) -> JsonResponse:
    # The console's JSON errors use AWS's shape (awsapi.errors).
    return JsonResponse({"__type": "ValidationException", "message": message}, status=400)


def _json(payload: dict) -> JsonResponse:
    response = JsonResponse(payload)
    # Live numbers: never from a cache.
    response["Cache-Control"] = "no-store"
    return response


# The function's Monitor tab ------------------------------------------------------


def tab_context(request: HttpRequest, fn: Function) -> dict:
    """The Monitor tab's context for functions.views: the range from
    `?range=`; an unknown one shows the default range with the error
    (`range_error`) and `status` 400."""
    ctx: dict = {"status": 200}
    try:
        r = ranges.parse(request.GET.get("range"))
    except ranges.RangeError as e:
        r = ranges.RANGES[ranges.DEFAULT]
        ctx.update(range_error=str(e), status=400)
    ctx.update(
        range=r,
        ranges=ranges.RANGES.values(),
        charts=charts_data(teams=[fn.team], function_id=fn.id, r=r),
        data_url=reverse("mon-fn-data", args=[fn.id]),
        ws_url=f"/ws/metrics/functions/{fn.id}/",
    )
    return ctx


@login_required
@require_GET
def function_data(request: HttpRequest, function_id) -> JsonResponse:
    """GET /functions/<id>/metrics.json?range=1h|24h|7d: charts_data for
    one function; 404 when it is not in one of the user's teams, 400
    ValidationException for an unknown range."""
    fn = get_function_for_user(request.user, function_id)
    try:
        r = ranges.parse(request.GET.get("range"))
    except ranges.RangeError as e:
        return _bad_range(str(e))
    return _json(charts_data(teams=[fn.team], function_id=fn.id, r=r))


# The dashboard -------------------------------------------------------------------

# The functions table reads one series per function: bounded.
MAX_TABLE_FUNCTIONS = 200


def function_rows(teams, r: ranges.Range) -> list[dict]:
    """One row per function of `teams` (None: every function), busiest
    first: {"fn", "totals" (series() totals for the range), "error_rate"
    (% of invocations, or None)}; at most MAX_TABLE_FUNCTIONS functions,
    by name."""
    since, until = ranges.window(r, _now())
    functions = Function.objects.select_related("team").order_by("name")
    if teams is not None:
        functions = functions.filter(team__in=teams)
    rows = []
    for fn in functions[:MAX_TABLE_FUNCTIONS]:
        totals = metrics_series(
            teams=[fn.team_id], function_id=fn.id, since=since, until=until, step_s=r.step_s
        )["totals"]
        calls = totals["invocations"]
        rate = round(100 * totals["errors"] / calls, 1) if calls else None
        rows.append({"fn": fn, "totals": totals, "error_rate": rate})
    rows.sort(key=lambda row: (-row["totals"]["invocations"], -row["totals"]["throttles"], row["fn"].name))
    return rows


def _scope(request: HttpRequest) -> tuple[list[Team] | None, Team | None, str]:
    """(teams to sum or None for the installation, the one team chosen or
    None, websocket path or "").
    `?team=<account id>` picks one team: one of the user's, any for staff
    (404 otherwise). Without it staff see the installation, everyone else
    their own teams."""
    user = request.user
    account_id = request.GET.get("team", "")
    if account_id:
        visible = Team.objects.all() if user.is_staff else teams_for(user)
        team = visible.filter(account_id=account_id).first()
        if team is None:
            raise Http404("No such team.")
        return [team], team, f"/ws/metrics/teams/{team.account_id}/"
    if user.is_staff:
        # None: the installation (series() then takes its own concurrency).
        return None, None, "/ws/metrics/all/"
    teams = list(teams_for(user))
    # In no team: nothing will ever tick (the socket would be refused).
    return teams, None, "/ws/metrics/teams/" if teams else ""


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """GET /dashboard/?range=1h|24h|7d&team=<account id>: the charts for
    the installation (staff) or the user's teams; an unknown range shows
    the default one with the error, status 400."""
    teams, team, ws_url = _scope(request)
    status, range_error = 200, None
    try:
        r = ranges.parse(request.GET.get("range"))
    except ranges.RangeError as e:
        r, status, range_error = ranges.RANGES[ranges.DEFAULT], 400, str(e)
    choices = Team.objects.all() if request.user.is_staff else teams_for(request.user)
    data_url = reverse("mon-dashboard-data") + (f"?team={team.account_id}" if team else "")
    ctx = {
        "range": r,
        "ranges": ranges.RANGES.values(),
        "range_error": range_error,
        "charts": charts_data(teams=teams, r=r),
        "data_url": data_url,
        "ws_url": ws_url,
        "team": team,
        "team_choices": choices.order_by("name"),
        "installation": team is None and request.user.is_staff,
    }
    ctx["rows"] = function_rows(teams, r)
    ctx["functions_url"] = reverse("mon-dashboard-functions") + (f"?team={team.account_id}" if team else "")
    return render(request, "monitor/dashboard.html", ctx, status=status)


@login_required
@require_GET
def dashboard_functions(request: HttpRequest) -> HttpResponse:
    """GET /dashboard/functions/?range=&team=: the dashboard's functions
    table alone (htmx re-reads it after the charts moved); 400 for an
    unknown range, 404 for a team the user may not see."""
    teams, _team, _ws = _scope(request)
    try:
        r = ranges.parse(request.GET.get("range"))
    except ranges.RangeError as e:
        return HttpResponse(e, status=400, content_type="text/plain; charset=utf-8")
    ctx = {"rows": function_rows(teams, r), "range": r}
    return render(request, "monitor/_functions.html", ctx)


@login_required
@require_GET
def dashboard_data(request: HttpRequest) -> JsonResponse:
    """GET /dashboard/metrics.json?range=&team=: the dashboard's
    charts_data; 400 ValidationException for an unknown range, 404 for a
    team the user may not see."""
    teams, _team, _ws = _scope(request)
    try:
        r = ranges.parse(request.GET.get("range"))
    except ranges.RangeError as e:
        return _bad_range(str(e))
    return _json(charts_data(teams=teams, r=r))
