"""Celery tasks: thin; the work is in poller.py and sns_http.py."""

from celery import shared_task

from messaging import poller, sns_http


@shared_task(name="messaging.poll_queues", ignore_result=True)
def poll_queues() -> int:
    return poller.poll_all()


@shared_task(name="messaging.deliver_http", ignore_result=True)
def deliver_http(ident: str) -> str | None:
    return sns_http.attempt(ident)


@shared_task(name="messaging.requeue_http_deliveries", ignore_result=True)
def requeue_http_deliveries() -> int:
    return sns_http.requeue_lost()
