"""The stream's background work, run by Celery beat (console.settings'
CELERY_BEAT_SCHEDULE "trim-table-streams")."""

from celery import shared_task

from tables import streams


@shared_task(name="tables.trim_streams", ignore_result=True)
def trim_streams() -> int:
    """Delete stream records past DynamoDB Streams' 24 hours (streams.trim)."""
    return streams.trim()
