"""Forms for the three kinds. Each checks everything before the view saves
anything, so a refused form leaves the stored triggers as they were."""

import re

from django import forms

from functions.versions_tab import qualifier_choices
from invocations.models import PRIORITIES
from triggers import route_paths
from triggers.models import AUTH_CHOICES, METHOD_CHOICES, HttpRoute
from triggers.schedule import ExpressionError, never_fires, timezone_choices, zone
from triggers.schedule import parse as parse_expression

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^\*$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
MISSED_FIRES_HELP = (
    "rate(5 minutes) or cron(0 12 * * ? *). Fires missed while the scheduler is "
    "down are skipped, not caught up."
)


class _OwnIds:
    """Three forms share the tab: keep their element ids apart. Each picks
    the version or alias it runs from `function`'s (keyword argument)."""

    id_prefix = ""

    def __init__(self, *args, function=None, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)
        self.fields["qualifier"] = forms.ChoiceField(
            choices=qualifier_choices(function), required=False, label="Version or alias",
            help_text="Unqualified runs $LATEST. An alias picks its version at each call.",
        )


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


class RouteForm(_OwnIds, forms.Form):
    id_prefix = "route"
    method = forms.ChoiceField(choices=METHOD_CHOICES, initial="GET")
    path = forms.CharField(
        max_length=400, help_text="Served under /http/, e.g. /users/{id} or /files/{proxy+}."
    )
    auth = forms.ChoiceField(choices=AUTH_CHOICES, initial="none", label="Auth")
    priority = forms.ChoiceField(choices=PRIORITIES, initial="normal")
    cors_allow_origins = forms.CharField(
        required=False, label="CORS allowed origins",
        help_text="Comma-separated, e.g. https://app.example.com, or *. Empty: no CORS.",
    )
    cors_allow_methods = forms.CharField(required=False, label="CORS allowed methods")
    cors_allow_headers = forms.CharField(required=False, label="CORS allowed headers")
    cors_expose_headers = forms.CharField(required=False, label="CORS expose headers")
    cors_max_age = forms.IntegerField(
        required=False, min_value=0, max_value=86400, label="CORS max age (s)"
    )
    cors_allow_credentials = forms.BooleanField(required=False, label="CORS allow credentials")

    def clean_path(self) -> str:
        path = self.cleaned_data["path"].strip()
        if path != "/":
            path = path.rstrip("/")
        try:
            route_paths.parse(path)
        except route_paths.PathError as e:
            raise forms.ValidationError(str(e)) from None
        return path

    def clean_cors_allow_origins(self) -> str:
        origins = _items(self.cleaned_data["cors_allow_origins"])
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise forms.ValidationError(
                    f"{origin!r} is not an origin; write scheme://host[:port], e.g. "
                    "https://app.example.com, or *."
                )
        return ", ".join(origins)

    def clean_cors_allow_methods(self) -> str:
        methods = [m.upper() for m in _items(self.cleaned_data["cors_allow_methods"])]
        for method in methods:
            if method != "*" and method not in route_paths.METHODS:
                raise forms.ValidationError(f"{method} is not an HTTP method.")
        return ", ".join(methods)

    def _headers(self, name: str) -> str:
        headers = _items(self.cleaned_data[name])
        for header in headers:
            if not _HEADER.fullmatch(header):
                raise forms.ValidationError(f"{header!r} is not a header name.")
        return ", ".join(headers)

    def clean_cors_allow_headers(self) -> str:
        return self._headers("cors_allow_headers")

    def clean_cors_expose_headers(self) -> str:
        return self._headers("cors_expose_headers")

    def clean(self):
        data = super().clean()
        method, path = data.get("method"), data.get("path")
        if method and path:
            taken = HttpRoute.objects.filter(
                method=method, path_key=route_paths.normalize(path)
            ).first()
            if taken:
                self.add_error("path", (
                    f"{method} {path} conflicts with the route {taken.route_key} that already "
                    "exists (routes share one /http/ prefix, and parameter names do not make "
                    "paths different). Choose another path or method, or delete that route."
                ))
        if data.get("cors_allow_credentials") and "*" in _items(data.get("cors_allow_origins", "")):
            self.add_error("cors_allow_credentials", (
                "Credentials cannot be allowed for any origin (*); list the origins instead."
            ))
        return data

    def build(self, fn) -> HttpRoute:
        """An unsaved route from the cleaned data."""
        data = self.cleaned_data
        return HttpRoute(
            function=fn, **{k: v for k, v in data.items() if k not in ("cors_max_age", "qualifier")},
            qualifier=data.get("qualifier") or "",
            cors_max_age=data.get("cors_max_age"),
        )


class ScheduleForm(_OwnIds, forms.Form):
    """Each field is checked on its own, so a bad expression and a bad time
    zone are both reported at once; whether the expression fires again at
    all is checked once both are good."""

    id_prefix = "schedule"
    expression = forms.CharField(
        max_length=256, help_text=MISSED_FIRES_HELP,
        widget=forms.TextInput(attrs={
            "class": "expression", "placeholder": "cron(30 9 ? * MON-FRI *)",
            "spellcheck": "false", "autocomplete": "off",
            # The preview shows this field's errors (one place for them).
            "aria-describedby": "schedule-preview",
        }),
    )
    timezone = forms.ChoiceField(choices=timezone_choices, initial="UTC", label="Time zone")
    priority = forms.ChoiceField(choices=PRIORITIES, initial="normal")

    def clean_expression(self) -> str:
        text = self.cleaned_data["expression"].strip()
        try:
            self.parsed = parse_expression(text)
        except ExpressionError as e:
            raise forms.ValidationError(str(e)) from None
        return text

    def clean(self):
        data = super().clean()
        parsed, tz_name = getattr(self, "parsed", None), data.get("timezone")
        if parsed is None or not tz_name or "expression" in self.errors:
            return data
        from django.utils import timezone as dj_timezone

        if parsed.next_after(dj_timezone.now(), zone(tz_name)) is None:
            self.add_error("expression", never_fires(data["expression"]))
        return data


class WebhookForm(_OwnIds, forms.Form):
    id_prefix = "webhook"
    secret = forms.CharField(
        required=False, max_length=200, label="HMAC secret (optional)",
        help_text="When set, callers must send X-Hub-Signature-256: sha256=<hex HMAC of the body>.",
        widget=forms.PasswordInput(render_value=False),
    )
    priority = forms.ChoiceField(choices=PRIORITIES, initial="normal")
