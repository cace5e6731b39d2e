"""The Triggers tab as a whole: the list from every registered provider and
the add forms (this app's and the sections other apps register). The tab's
views and other apps' form views answer with it."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe

from functions.access import can_write
from triggers import registry
from triggers.forms import RouteForm, ScheduleForm, WebhookForm


def render_tab(request: HttpRequest, fn, *, refused: bool = False, **extra) -> HttpResponse:
    """The whole tab; `extra` reaches the tab and every form section (a bound
    form with its errors, `open_form`, `notice`). A refused form gets 200
    with htmx, which swaps only 2xx answers, and 400 as a plain POST."""
    writer = can_write(request.user, fn.team)
    ctx = {
        "fn": fn,
        "rows": registry.rows_for(fn),
        "can_write": writer,
        "route_form": RouteForm(function=fn),
        "schedule_form": ScheduleForm(function=fn),
        "webhook_form": WebhookForm(function=fn),
        "sections": [],
    }
    ctx.update(extra)
    if writer:
        ctx["sections"] = [
            mark_safe(render_to_string(name, section_ctx, request=request))
            for name, section_ctx in registry.form_sections(fn, request, extra)
        ]
    template = "triggers/tab.html" if request.htmx else "triggers/page.html"
    status = 400 if refused and not request.htmx else 200
    response = render(request, template, ctx, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response




def added(request: HttpRequest, fn, notice: str) -> HttpResponse:
    """A form section's answer once its trigger is saved: the tab again to
    htmx (the new row in the list, the forms cleared), else `notice` as a
    message and a redirect back to the tab."""
    if request.htmx:
        return render_tab(request, fn, notice=notice)
    messages.success(request, notice)
    return registry.back_to_tab(fn)
