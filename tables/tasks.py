"""The tables' periodic work, run by Celery beat (console.settings'
CELERY_BEAT_SCHEDULE): the TTL sweep and the streams' 24-hour trim."""

from celery import shared_task

from tables import streams, transactions, ttl


@shared_task(name="tables.expire_items", ignore_result=True)
def expire_items() -> int:
    """Items past their time to live, deleted with their stream records;
    and TransactWriteItems' tokens past their 10 minutes."""
    transactions.forget_tokens()
    return ttl.sweep()


@shared_task(name="tables.trim_streams", ignore_result=True)
def trim_streams() -> int:
    """Delete stream records past DynamoDB Streams' 24 hours (streams.trim);
    beat's "trim-table-streams"."""
    return streams.trim()
