from celery import shared_task

from buckets import spool_sweep


@shared_task(name="buckets.sweep_spool", ignore_result=True)
def sweep_spool() -> int:
    return spool_sweep.sweep()
