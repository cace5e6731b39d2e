"""The runs page, and "Invoke again" from any invocation. Thin: the query is
runs.query's, access is functions.access's."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from functions.access import check_write, writable_teams
from invocations import dispatch
from invocations.done import Done
from invocations.models import Invocation
from runs import query, trigger_names
from runs.forms import RunsFilterForm

# Past a sync call's own bounds (queue wait, start, timeout, margin), how
# long its page still waits for the record the recorder writes in batches.
RECORD_MARGIN_S = 30


def _cursor(request: HttpRequest, name: str) -> query.Cursor | None:
    text = request.GET.get(name)
    return query.Cursor.decode(text) if text else None


def _query_without_cursors(request: HttpRequest) -> str:
    params = request.GET.copy()
    for name in ("older", "newer"):
        params.pop(name, None)
    return params.urlencode()


@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    """/runs/: the filter form and one page of runs, newest first. To htmx
    (the form and the pager target #runs-table) only the table."""
    functions = list(query.visible_functions(request.user))
    form = RunsFilterForm(request.GET, functions=functions)
    page, problems, trigger_choices = query.Page(), [], []
    if form.is_valid():
        filters = form.filters()
        try:
            page = query.page(request.user, filters, older=_cursor(request, "older"),
                              newer=_cursor(request, "newer"))
        except query.BadCursor as e:
            problems.append(f"{e} Start again from the newest runs.")
        if filters.function_id:
            chosen = next(fn for fn in functions if str(fn.id) == str(filters.function_id))
            trigger_choices = trigger_names.names_for(chosen)
    else:
        problems = [
            f"{form.fields[name].label or name.capitalize()}: {error}" if name in form.fields else error
            for name, errors in form.errors.items() for error in errors
        ]
    writable = set(writable_teams(request.user).values_list("id", flat=True))
    for inv in page.rows:
        inv.can_invoke = inv.function.team_id in writable
    ctx = {
        "form": form,
        "page": page,
        "problems": problems,
        "filter_query": _query_without_cursors(request),
        "trigger_choices": trigger_choices,
        "log_window": query.LOG_SEARCH_WINDOW,
    }
    template = "runs/list.html"
    if request.htmx and request.htmx.target == "runs-table":
        template += "#table"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _own_invocation(user, request_id) -> Invocation:
    """The invocation, if its function is in one of the user's teams (not
    staff's view of all: only members invoke); 404 otherwise."""
    inv = Invocation.objects.select_related("function__team", "function__code").filter(
        request_id=request_id, function__team__membership__user=user
    ).first()
    if inv is None:
        raise Http404("No such invocation.")
    return inv


@login_required
@require_POST
def invoke_again(request: HttpRequest, request_id) -> HttpResponse:
    """Invoke the invocation's function with its event once more, the way
    it was invoked: an Event invocation asynchronously, any other
    synchronously as the Test tab does; then show the new invocation.
    403 for a read-only member, 404 for a stranger."""
    inv = _own_invocation(request.user, request_id)
    fn = inv.function
    check_write(request.user, fn.team)
    if inv.invocation_type == "Event":
        new = dispatch.submit_async(fn, inv.event, source="console")
        messages.success(request, f"Invoked {fn.name} again (asynchronously) with the same event.")
        return redirect("inv-detail", new.request_id)
    started = dispatch.start_sync(fn, inv.event, source="console")
    if isinstance(started, Done):
        reason = (started.error or {}).get("errorMessage") or started.status
        messages.error(request, f"{fn.name} was not invoked again: {reason}")
        return redirect("inv-detail", inv.request_id)
    # A sync call's record is written once it has finished (invocations.
    # recorder): until then its page waits for it (pending_detail).
    until = timezone.now() + timedelta(seconds=(
        settings.STRATUS_SYNC_QUEUE_WAIT + dispatch.START_BOUND_S + fn.timeout_s
        + dispatch.DONE_MARGIN_S + RECORD_MARGIN_S
    ))
    return redirect(
        reverse("inv-detail", args=[started])
        + f"?function={fn.id}&again={inv.request_id}&until={int(until.timestamp())}"
    )
