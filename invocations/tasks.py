"""Celery tasks: thin; the work is in runner.py, pool.py and the models."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from invocations import pool, runner
from invocations.models import Invocation


@shared_task(name="invocations.run", acks_late=True, ignore_result=True)
def run(request_id: str) -> str:
    return runner.run(request_id)


@shared_task(name="invocations.reconcile", ignore_result=True)
def reconcile() -> int:
    """Re-queue rows whose task was lost (worker killed, Redis restarted).
    Safe to run twice: a duplicate task finds the row claimed and stops."""
    cutoff = timezone.now() - timedelta(seconds=settings.STRATUS_REQUEUE_AFTER)
    lost = list(
        Invocation.objects.filter(status="queued", queued_at__lt=cutoff).values_list(
            "request_id", flat=True
        )[:500]
    )
    for request_id in lost:
        changed = Invocation.objects.filter(
            request_id=request_id, status="queued", queued_at__lt=cutoff
        ).update(queued_at=timezone.now())
        if changed == 1:
            run.delay(str(request_id))
    return len(lost)


@shared_task(name="invocations.reap", ignore_result=True)
def reap() -> int:
    return pool.reap()


@shared_task(name="invocations.noop", ignore_result=False)
def noop() -> None:
    """The baseline for benchmarks: a bare Celery round trip."""
    return None
