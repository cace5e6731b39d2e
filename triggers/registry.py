"""Every app's triggers in one Triggers tab.

An app that wires events to functions registers, in its AppConfig.ready():

    registry.register(provider)            # provider(fn) -> list[TriggerRow]
    registry.register_form_section("app/_form.html", context_func)
                                           # context_func(fn, request) -> dict

Rows are listed in registration order; form sections are rendered below the
list for members who may write (read-only members see no forms).

A form section's form posts to its app's view, which answers with
`triggers.tab.render_tab()`: the tab again, with the bound form and its errors when
refused, or with a notice when saved (a plain POST may redirect back with
`back_to_tab(fn)` instead).

A row's toggle_url and delete_url take a POST. Inside the tab they are sent
with htmx (`hx-swap="none"`); the view should answer with
`changed_response()` so the tab reloads its list. Without htmx the button is
a plain form POST, and the view should redirect back (`back_to_tab(fn)`);
`changed(request, fn)` answers either way.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

# The htmx event the tab's list listens for (sent in an HX-Trigger header).
CHANGED_EVENT = "triggers-changed"


@dataclass(frozen=True)
class TriggerRow:
    kind: str  # shown as is, e.g. "HTTP route", "Topic subscription"
    target: str  # what fires it, e.g. "GET https://host/http/users/{id}"
    enabled: bool
    last_fired_at: datetime | None
    errors_last_hour: int
    toggle_url: str | None = None
    delete_url: str | None = None
    detail_url: str | None = None
    description: str = ""  # a second line under the target (optional)
    # A path on this server that callers use (the tab shows it as a full URL).
    url: str | None = None


Provider = Callable[..., list[TriggerRow]]
ContextFunc = Callable[..., dict]

_providers: list[Provider] = []
_form_sections: list[tuple[str, ContextFunc]] = []


def register(provider: Provider) -> Provider:
    """Add provider(fn) -> list[TriggerRow]; usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def register_form_section(template_name: str, context_func: ContextFunc) -> None:
    """Render template_name with context_func(fn, request) in the tab, for
    members who may write. The context also gets `fn` and `request`."""
    if all(name != template_name for name, _ in _form_sections):
        _form_sections.append((template_name, context_func))


def rows_for(fn) -> list[TriggerRow]:
    rows: list[TriggerRow] = []
    for provider in _providers:
        rows.extend(provider(fn))
    return rows


def form_sections(fn, request: HttpRequest, extra: dict | None = None) -> list[tuple[str, dict]]:
    """Each section's template and context; `extra` (what a form view passed
    to render_tab) overrides what the context funcs return."""
    return [
        (name, {"fn": fn, "request": request, **context_func(fn, request), **(extra or {})})
        for name, context_func in _form_sections
    ]


def errors_last_hour(trigger_keys: list[str]) -> dict[str, int]:
    """Error outcomes in the last hour per trigger key ("route:<uuid>"), in
    one query, as Invocation.trigger records them."""
    from django.db.models import Count

    from invocations.models import ERRORS, Invocation

    if not trigger_keys:
        return {}
    since = timezone.now() - timedelta(hours=1)
    counts = (
        Invocation.objects.filter(trigger__in=trigger_keys, status__in=ERRORS, created_at__gte=since)
        .values("trigger")
        .annotate(n=Count("request_id"))
    )
    found = {row["trigger"]: row["n"] for row in counts}
    return {key: found.get(key, 0) for key in trigger_keys}


def named_qualifiers(fn) -> set[str]:
    """The function's aliases and version numbers: what a trigger may name now."""
    return {
        *fn.aliases.values_list("name", flat=True), *map(str, fn.versions.values_list("version", flat=True)),
    }


def runs(fn, qualifier: str | None, named: set[str]) -> str:
    """A row's "runs ..." part: $LATEST for no qualifier, else fn:qualifier,
    saying so when the version or alias is gone (its calls fail)."""
    if not qualifier:
        return "runs unqualified ($LATEST)"
    gone = "" if qualifier in named else " (no such version or alias: its calls fail)"
    return f"runs {fn.name}:{qualifier}{gone}"


def last_fired(trigger_keys: list[str]) -> dict[str, datetime | None]:
    """When each trigger key last started an invocation (None: never), in
    one query, for kinds that keep no last_fired_at of their own (function
    URLs, S3 notifications)."""
    from django.db.models import Max

    from invocations.models import Invocation

    if not trigger_keys:
        return {}
    found = dict(
        Invocation.objects.filter(trigger__in=trigger_keys)
        .values("trigger")
        .annotate(last=Max("created_at"))
        .values_list("trigger", "last")
    )
    return {key: found.get(key) for key in trigger_keys}


def changed_response() -> HttpResponse:
    """What a toggle or delete view answers to htmx: the tab reloads its list."""
    response = HttpResponse(status=200)
    response["HX-Trigger"] = CHANGED_EVENT
    return response


def back_to_tab(fn) -> HttpResponseRedirect:
    """What a toggle or delete view answers to a plain form POST."""
    return HttpResponseRedirect(reverse("fn-detail", args=[fn.id]) + "?tab=triggers")


def changed(request: HttpRequest, fn) -> HttpResponse:
    """A toggle or delete view's answer: changed_response() to htmx,
    back_to_tab(fn) to a plain form POST."""
    return changed_response() if request.htmx else back_to_tab(fn)
