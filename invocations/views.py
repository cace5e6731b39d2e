"""The console's invocation page and the dead letters."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from functions.access import can_write, teams_for
from invocations import delivery
from invocations.models import DeadLetter, Invocation


def get_invocation_for_user(user, request_id) -> Invocation:
    """404 unless the invocation's function belongs to one of the user's teams."""
    try:
        return Invocation.objects.select_related("function__team").get(
            request_id=request_id, function__team__membership__user=user
        )
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
    inv = get_invocation_for_user(request.user, request_id)
    return render(request, "invocations/detail.html", {
        "inv": inv,
        "fn": inv.function,
        "event_pretty": _pretty(inv.event),
        "attempts": list(inv.attempt_set.all()),
        "dead_letter": DeadLetter.objects.filter(invocation=inv).first(),
    })


# Dead letters ------------------------------------------------------------------

DEAD_LETTERS_PAGE = 50


def _dead_letters_for(user):
    return DeadLetter.objects.filter(function__team__in=teams_for(user)).select_related(
        "function", "invocation", "redrive_invocation"
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
