"""This app's own kinds, listed through the same registry as everyone's."""

from django.urls import reverse

from functions.models import Function
from triggers import registry
from triggers.models import HttpRoute, Schedule, Webhook


def _urls(fn: Function, kind: str, trigger) -> dict:
    return {
        "toggle_url": reverse("trg-toggle", args=[fn.id, kind, trigger.id]),
        "delete_url": reverse("trg-delete", args=[fn.id, kind, trigger.id]),
    }


@registry.register
def own_triggers(fn: Function) -> list[registry.TriggerRow]:
    routes = list(HttpRoute.objects.filter(function=fn))
    schedules = list(Schedule.objects.filter(function=fn))
    hooks = list(Webhook.objects.filter(function=fn))
    errors = registry.errors_last_hour([t.key for t in [*routes, *schedules, *hooks]])
    # What a trigger may name now: one that names something gone says so.
    named = {
        *fn.aliases.values_list("name", flat=True), *map(str, fn.versions.values_list("version", flat=True)),
    }

    def runs(trigger) -> str:
        if not trigger.qualifier:
            return "runs unqualified ($LATEST)"
        gone = "" if trigger.qualifier in named else " (no such version or alias: its calls fail)"
        return f"runs {fn.name}:{trigger.qualifier}{gone}"

    rows = []
    for route in routes:
        auth = f"API key {route.api_key_hint}…" if route.auth == "api_key" else "no auth"
        cors = f" · CORS {route.cors_allow_origins.strip()}" if route.has_cors else ""
        rows.append(registry.TriggerRow(
            kind="HTTP route", target=route.route_key, enabled=route.enabled,
            last_fired_at=route.last_fired_at, errors_last_hour=errors[route.key],
            description=f"{auth}{cors} · priority {route.priority} · {runs(route)}",
            url="/http" + route.path, **_urls(fn, "routes", route),
        ))
    for schedule in schedules:
        nxt = schedule.next_fire_at
        when = f"next {nxt:%Y-%m-%d %H:%M:%S} UTC" if nxt else "not scheduled"
        rows.append(registry.TriggerRow(
            kind="Schedule", target=schedule.expression, enabled=schedule.enabled,
            last_fired_at=schedule.last_fired_at, errors_last_hour=errors[schedule.key],
            description=(
                f"{schedule.timezone} · {when} · priority {schedule.priority} · {runs(schedule)}"
            ),
            **_urls(fn, "schedules", schedule),
        ))
    for hook in hooks:
        signed = "HMAC signed (X-Hub-Signature-256)" if hook.encrypted_secret else "unsigned"
        rows.append(registry.TriggerRow(
            kind="Webhook", target="POST to the secret URL", enabled=hook.enabled,
            last_fired_at=hook.last_fired_at, errors_last_hour=errors[hook.key],
            description=f"{signed} · priority {hook.priority} · {runs(hook)}",
            url=reverse("trg-hook", args=[hook.token]), **_urls(fn, "webhooks", hook),
        ))
    return rows
