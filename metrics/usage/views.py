"""The Usage page (/usage/) and its CSV export (/usage.csv): a user sees
their teams' usage, staff every team's (metrics.usage.report)."""

import csv
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from functions.access import teams_for
from functions.models import Function, Team
from metrics import billing, retention
from metrics.usage.forms import UsageRangeForm
from metrics.usage.report import month_start, usage_report

CSV_FIELDS = ["date", "team", "function", "function_id", "requests", "billed_ms", "gb_seconds", "cost"]


def visible_teams(user):
    """The teams whose usage `user` may see: staff all, others their own."""
    if user.is_staff:
        return Team.objects.all()
    return teams_for(user)


@login_required
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    form = UsageRangeForm(request.GET, teams=visible_teams(request.user))
    if not form.is_valid():
        return render(request, "metrics/usage.html", {"form": form, "shown": form.shown()}, status=400)
    report = usage_report(form.team_ids(), form.cleaned_data["start"], form.cleaned_data["end"])
    ids = {f.function_id for f in report.functions}
    alive = {str(i) for i in Function.objects.filter(id__in=ids).values_list("id", flat=True)}
    return render(request, "metrics/usage.html", {
        "form": form, "report": report, "alive": alive, "query": form.query(),
        "chart": report.chart(), "shown": form.shown(), "rounding_ms": billing.rounding_ms(),
        "kept_since": _kept_since(report.start), "retention_days": settings.STRATUS_METRICS_RETENTION_DAYS,
    })


def _kept_since(start):
    """The first UTC day still fully kept, when the range (read from the
    first day of its first month, for the free tier) reaches before it:
    older minutes were trimmed (metrics.retention), so the totals miss them."""
    cutoff = retention.cutoff()
    kept = cutoff.date() if cutoff.time() == cutoff.time().min else cutoff.date() + timedelta(days=1)
    return kept if month_start(start) < kept else None


@login_required
@require_GET
def usage_csv(request: HttpRequest) -> HttpResponse:
    """The page's per day and function rows as CSV (RFC 4180, UTF-8):
    date (UTC day), team, function, function_id, requests, billed_ms,
    gb_seconds, cost (before the free tier, in the billing currency).
    400 with the reason on a bad selection."""
    form = UsageRangeForm(request.GET, teams=visible_teams(request.user))
    if not form.is_valid():
        reasons = [e for errors in form.errors.values() for e in errors]
        return HttpResponse("\n".join(reasons) + "\n", status=400, content_type="text/plain; charset=utf-8")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    report = usage_report(form.team_ids(), start, end)
    name = f"stratus-usage-{start.isoformat()}-to-{end.isoformat()}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    out = csv.writer(response)
    out.writerow([*CSV_FIELDS[:-1], f"cost_{report.prices.currency.lower()}"])
    for row in report.rows:
        out.writerow([
            row.day.isoformat(), row.team_name, row.function_name, row.function_id, row.requests,
            row.billed_ms, _plain(row.gb_seconds), _plain(row.cost),
        ])
    return response


def _plain(value) -> str:
    """A Decimal in fixed notation, no exponent, no trailing zeros."""
    return format(value.normalize(), "f")
