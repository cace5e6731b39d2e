"""Celery tasks: thin; the work is in poller.py."""

from celery import shared_task

from messaging import poller


@shared_task(name="messaging.poll_queues", ignore_result=True)
def poll_queues() -> int:
    return poller.poll_all()
