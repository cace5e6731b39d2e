from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from invocations.models import ERRORS, Invocation


def stats_for(fn) -> dict:
    """Last invocation, and invocations and errors in the last hour."""
    since = timezone.now() - timedelta(hours=1)
    counts = Invocation.objects.filter(function=fn, created_at__gte=since).aggregate(
        total=Count("request_id"), errors=Count("request_id", filter=Q(status__in=ERRORS))
    )
    last = Invocation.objects.filter(function=fn).order_by("-created_at").first()
    return {"last": last, "hour_total": counts["total"], "hour_errors": counts["errors"]}
