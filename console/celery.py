import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fix-up closes the database connection around every task
# unless this is set; reopening SQLite (and its pragmas) costs each invocation.
app.conf.CELERY_DB_REUSE_MAX = 1000
app.autodiscover_tasks()


# The sync lane (invocations/lane.py): every process that runs tasks also
# pops sync invocations. Prefork children and the solo pool announce
# themselves with worker_process_init; a thread pool runs tasks in the worker
# itself, so it gets one lane thread per pool thread.
@worker_process_init.connect
def _start_sync_lane(**_):
    from invocations import lane

    lane.start_threads(1)


@worker_ready.connect
def _start_sync_lane_for_threads(sender=None, **_):
    from celery.concurrency.thread import TaskPool as ThreadPool

    from invocations import lane

    if isinstance(getattr(sender, "pool", None), ThreadPool):
        lane.start_threads(sender.controller.concurrency)
