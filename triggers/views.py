"""The Triggers tab: thin views; access through functions.access (404 to a
stranger, 403 to a read-only member on every change)."""

from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from functions.access import can_write, get_function_for_user
from triggers import registry
from triggers.tab import render_tab
from triggers.forms import RouteForm, ScheduleForm, WebhookForm
from triggers.models import HttpRoute, Schedule, Webhook
from triggers.schedule import ExpressionError, never_fires, zone
from triggers.schedule import parse as parse_expression

KINDS = {"routes": HttpRoute, "schedules": Schedule, "webhooks": Webhook}


@login_required
@require_GET
def tab(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id)
    return render_tab(request, fn)


@login_required
@require_GET
def trigger_list(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id)
    ctx = {
        "fn": fn,
        "rows": registry.rows_for(fn),
        "can_write": can_write(request.user, fn.team),
    }
    return render(request, "triggers/tab.html#list", ctx)


def _refused(request: HttpRequest, fn, **extra) -> HttpResponse:
    return render_tab(request, fn, refused=True, **extra)


def _done(request: HttpRequest, fn, notice: str, **extra) -> HttpResponse:
    # Rendered, not redirected, even without htmx: a new API key is shown
    # this once and never stored in the clear.
    return render_tab(request, fn, notice=notice, **extra)


@login_required
@require_POST
def route_add(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = RouteForm(request.POST, function=fn)
    if form.is_valid():
        route = form.build(fn)
        api_key = route.issue_api_key() if route.auth == "api_key" else None
        try:
            with transaction.atomic():
                route.save()
        except IntegrityError:
            # Another request took the same method and path since clean().
            form.add_error("path", f"{route.route_key} was just taken by another route; choose another.")
        else:
            return _done(request, fn, f"Added the route {route.route_key}.", new_api_key=api_key)
    return _refused(request, fn, route_form=form, open_form="route")


@login_required
@require_POST
def schedule_add(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = ScheduleForm(request.POST, function=fn)
    if form.is_valid():
        data = form.cleaned_data
        schedule = Schedule(
            function=fn, expression=data["expression"], timezone=data["timezone"],
            priority=data["priority"], qualifier=data.get("qualifier") or "",
        )
        schedule.next_fire_at = schedule.compute_next()
        schedule.save()
        return _done(request, fn, f"Added the schedule {schedule.expression}.")
    return _refused(request, fn, schedule_form=form, open_form="schedule")


@login_required
@require_GET
def schedule_preview(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id)
    text = request.GET.get("expression", "").strip()
    tz_name = request.GET.get("timezone", "UTC") or "UTC"
    ctx: dict = {"fn": fn, "expression": text, "tz_name": tz_name, "times": [], "error": ""}
    if text:
        try:
            ctx["times"] = parse_expression(text).preview(timezone.now(), zone(tz_name))
            if not ctx["times"]:
                ctx["error"] = never_fires(text)
        except ExpressionError as e:
            ctx["error"] = str(e)
    return render(request, "triggers/tab.html#preview", ctx)


@login_required
@require_POST
def webhook_add(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = WebhookForm(request.POST, function=fn)
    if form.is_valid():
        hook = Webhook(
            function=fn, priority=form.cleaned_data["priority"],
            qualifier=form.cleaned_data.get("qualifier") or "",
        )
        hook.set_secret(form.cleaned_data["secret"])
        hook.save()
        return _done(request, fn, "Added a webhook.", new_webhook=hook)
    return _refused(request, fn, webhook_form=form, open_form="webhook")


def _get_trigger(fn, kind: str, trigger_id):
    model = KINDS.get(kind)
    if model is None:
        raise Http404("No such kind of trigger.")
    try:
        return model.objects.select_related("function__team").get(id=trigger_id, function=fn)
    except model.DoesNotExist:
        raise Http404("No such trigger.") from None


@login_required
@require_POST
def toggle(request: HttpRequest, function_id, kind: str, trigger_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    trigger = _get_trigger(fn, kind, trigger_id)
    if isinstance(trigger, Schedule):
        trigger.set_enabled(not trigger.enabled)
    else:
        trigger.enabled = not trigger.enabled
        trigger.save(update_fields=["enabled"])
    return registry.changed(request, fn)


@login_required
@require_POST
def delete(request: HttpRequest, function_id, kind: str, trigger_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    _get_trigger(fn, kind, trigger_id).delete()
    return registry.changed(request, fn)
