from celery import shared_task

from tables import transactions, ttl


@shared_task(name="tables.expire_items", ignore_result=True)
def expire_items() -> int:
    """Items past their time to live, deleted with their stream records;
    and TransactWriteItems' tokens past their 10 minutes."""
    transactions.forget_tokens()
    return ttl.sweep()
