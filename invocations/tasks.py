"""Celery tasks: thin; the work is in runner.py, recovery.py and pool.py."""

from celery import shared_task

from invocations import nodes, recovery, runner


@shared_task(name="invocations.run", acks_late=True, ignore_result=True)
def run(request_id: str) -> str:
    return runner.run_async(request_id)


@shared_task(name="invocations.reconcile", ignore_result=True)
def reconcile() -> int:
    """Re-queue rows whose task was lost and retry rows whose worker died.
    Safe to run twice: every change is a conditional UPDATE."""
    nodes.forget_dead()
    return recovery.requeue_lost() + recovery.recover_abandoned()


@shared_task(name="invocations.noop", ignore_result=False)
def noop() -> None:
    """The baseline for benchmarks: a bare Celery round trip."""
    return None
