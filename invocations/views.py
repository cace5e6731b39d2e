"""The console's invocation page."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from invocations.models import Invocation


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
    })
