"""Celery tasks: thin; the work is in runner.py, pool.py and the models."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from invocations import concurrency, hooks, pool, runner
from invocations.models import Invocation, queue_task


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
            queue_task(request_id)
    return len(lost) + fail_abandoned()


def fail_abandoned() -> int:
    """Rows left `running` far past their deadline: their worker died. Sync
    callers have long given up, and running a handler twice is not ours to
    decide for them, so the row is closed as failed, and then treated like
    any other final failure: its reserved-concurrency slot is given back and
    the finish hooks run (an async event gets its dead letter and on-failure
    destination)."""
    count = 0
    now = timezone.now()
    for inv in Invocation.objects.filter(status="running").select_related("function__team")[:500]:
        deadline = inv.started_at + timedelta(seconds=inv.function.timeout_s + 120)
        if deadline >= now:
            continue
        lost = {
            "status": "failed",
            "finished_at": now,
            "error": {
                "errorType": "Runtime.WorkerLost",
                "errorMessage": "The worker running this invocation stopped before it finished.",
                "stackTrace": [],
            },
        }
        if Invocation.objects.filter(request_id=inv.request_id, status="running").update(**lost):
            count += 1
            # Only this UPDATE changed the row: no need to read it back.
            for field, value in lost.items():
                setattr(inv, field, value)
            concurrency.release_for(inv.function, inv.request_id)
            hooks.run_finished(inv)
    return count


@shared_task(name="invocations.reap", ignore_result=True)
def reap() -> int:
    return pool.reap()


@shared_task(name="invocations.noop", ignore_result=False)
def noop() -> None:
    """The baseline for benchmarks: a bare Celery round trip."""
    return None
