from celery import shared_task

from tables import ttl


@shared_task(name="tables.expire_items", ignore_result=True)
def expire_items() -> int:
    """Items past their time to live, deleted with their stream records."""
    return ttl.sweep()
