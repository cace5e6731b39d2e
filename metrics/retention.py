"""How long minute buckets are kept: STRATUS_METRICS_RETENTION_DAYS
(default 30). Beat's `trim-metrics` (metrics.tasks.trim) deletes older
minutes, and flush ids older than a day (a flush is decided within
metrics.flush's STALE_S, so a day is plenty). MetricTotal, the all-time
counters Prometheus reads, is never trimmed."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from metrics.models import MetricFlush, MetricMinute

FLUSH_IDS_KEPT = timedelta(days=1)


def cutoff():
    """The first minute kept now."""
    return timezone.now() - timedelta(days=settings.STRATUS_METRICS_RETENTION_DAYS)


def trim() -> int:
    """Delete minutes past retention (and old flush ids); how many minutes went."""
    deleted, _ = MetricMinute.objects.filter(minute__lt=cutoff()).delete()
    MetricFlush.objects.filter(applied_at__lt=timezone.now() - FLUSH_IDS_KEPT).delete()
    return deleted
