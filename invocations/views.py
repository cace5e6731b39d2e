"""The console's invocation page and the dead letters."""

import json
import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from functions.access import can_write, get_function_for_user, role_in, teams_for
from invocations import delivery
from invocations.models import DeadLetter, Invocation


def get_invocation_for_user(user, request_id) -> Invocation:
    """404 unless the invocation's function belongs to one of the user's
    teams, or the user is staff (who sees every team's runs, as on /runs/)."""
    rows = Invocation.objects.select_related("function__team")
    if not user.is_staff:
        rows = rows.filter(function__team__membership__user=user)
    try:
        return rows.get(request_id=request_id)
    except (Invocation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such invocation.") from None


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


@login_required
@require_GET
def detail(request: HttpRequest, request_id) -> HttpResponse:
    """The invocation's page. With ?function=<id> (runs.views.invoke_again
    sends there) a sync call not recorded yet gets a waiting page, which
    polls until the record is stored and then loads it (HX-Redirect)."""
    try:
        inv = get_invocation_for_user(request.user, request_id)
    except Http404:
        if "function" not in request.GET:
            raise
        return _pending(request, request_id)
    if "function" in request.GET:
        # Recorded meanwhile: its own plain address.
        if not request.htmx:
            return redirect(request.path)
        response = HttpResponse("")
        response["HX-Redirect"] = request.path
        return response
    return render(request, "invocations/detail.html", {
        "inv": inv,
        "fn": inv.function,
        "event_pretty": _pretty(inv.event),
        "attempts": list(inv.attempt_set.all()),
        "dead_letter": DeadLetter.objects.filter(invocation=inv).first(),
        # Invoking again is for members who may write (not staff as such).
        "can_invoke": role_in(request.user, inv.function.team) in ("owner", "member"),
    })


# htmx stops polling on this status.
STOP_POLLING = 286


def _pending(request: HttpRequest, request_id) -> HttpResponse:
    """A sync call of a function the user can see, whose record is not
    stored yet. Polled by its own page every second until `until` (unix
    seconds, past the call's bounds); 404 for a function not theirs."""
    fn = get_function_for_user(request.user, request.GET.get("function"))
    try:
        until = int(request.GET.get("until", "0"))
    except ValueError:
        until = 0
    if request.htmx:
        if time.time() < until:
            return HttpResponse(status=204)
        return HttpResponse(
            '<p class="error">No record of this invocation was stored. It may have been refused '
            'or lost; look for it on the runs page.</p>', status=STOP_POLLING,
        )
    inv = Invocation(request_id=request_id, function=fn, status="running")
    return render(request, "invocations/pending.html", {
        "inv": inv, "fn": fn, "poll_url": request.get_full_path(), "again": request.GET.get("again", ""),
    })


# Dead letters ------------------------------------------------------------------

DEAD_LETTERS_PAGE = 50


def _dead_letters_for(user):
    return DeadLetter.objects.filter(function__team__in=teams_for(user)).select_related(
        "function", "invocation__function", "redrive_invocation"
    )


@login_required
@require_GET
def dead_letters(request: HttpRequest) -> HttpResponse:
    page = Paginator(_dead_letters_for(request.user), DEAD_LETTERS_PAGE).get_page(request.GET.get("page"))
    template = "invocations/dead_letters.html"
    if request.htmx:
        template += "#rows"
    return render(request, template, {"page": page})


@login_required
@require_POST
def dead_letter_redrive(request: HttpRequest, dead_letter_id) -> HttpResponse:
    try:
        dead = _dead_letters_for(request.user).get(pk=dead_letter_id)
    except (DeadLetter.DoesNotExist, ValueError):
        raise Http404("No such dead letter.") from None
    if not can_write(request.user, dead.function.team):
        raise PermissionDenied("Your role in this team is read-only.")
    inv = delivery.redrive(dead)
    if inv is None:
        messages.error(request, "This event was redriven already.")
    else:
        messages.success(request, f"Redrove the event to {dead.function.name} as a new invocation.")
    return redirect("dl-list")
