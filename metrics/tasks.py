"""The metrics' periodic work, run by Celery beat (console.settings'
CELERY_BEAT_SCHEDULE, `trim-metrics`)."""

from celery import shared_task

from metrics import retention


@shared_task(name="metrics.trim", ignore_result=True)
def trim() -> int:
    """Delete minute buckets past STRATUS_METRICS_RETENTION_DAYS (metrics.retention)."""
    return retention.trim()
