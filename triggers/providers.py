"""This app's own kinds, listed through the same registry as everyone's."""

from django.urls import reverse

from functions import function_urls
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
    named = registry.named_qualifiers(fn)

    def runs(trigger) -> str:
        return registry.runs(fn, trigger.qualifier, named)

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


@registry.register
def function_urls_of(fn: Function) -> list[registry.TriggerRow]:
    """The function's URLs (CreateFunctionUrlConfig, one per qualifier):
    kept on the Configuration tab, listed here with the calls they made."""
    configs = list(fn.url_configs.order_by("qualifier"))
    keys = [function_urls.trigger_key(c.url_id) for c in configs]
    errors = registry.errors_last_hour(keys)
    fired = registry.last_fired(keys)
    named = registry.named_qualifiers(fn) if configs else set()
    rows = []
    for config, key in zip(configs, keys, strict=True):
        runs = registry.runs(fn, config.qualifier, named)
        origins = config.cors.get("AllowOrigins") or []
        cors = " · CORS " + ", ".join(origins) if origins else ""
        rows.append(registry.TriggerRow(
            kind="Function URL",
            target=f"{fn.name}:{config.qualifier}" if config.qualifier else fn.name,
            enabled=True, last_fired_at=fired[key], errors_last_hour=errors[key],
            description=f"AuthType {config.auth_type}{cors} · {config.invoke_mode} · {runs}",
            url=f"{function_urls.PREFIX}{config.url_id}/",
            detail_url=reverse("fn-detail", args=[fn.id]) + "?tab=configuration",
        ))
    return rows
