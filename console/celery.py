import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fix-up closes the database connection around every task
# unless this is set; reopening SQLite (and its pragmas) costs each invocation.
app.conf.CELERY_DB_REUSE_MAX = 1000
# Lazy: only a worker's start imports the apps' tasks modules. Every other
# process (the web, manage.py, beat) gets them from each app's
# AppConfig.ready(), which imports its tasks module; a task queued by name
# from a process without it never left that process
# (tests/unit/test_task_registry.py checks every name).
app.autodiscover_tasks()


# Every process that runs invocations beats (invocations.nodes) and pops
# sync calls (invocations.lane). Prefork children and the solo pool announce
# themselves with worker_process_init; a thread pool runs tasks in the worker
# itself, so it gets one lane thread per pool thread. The worker's main
# process records sync calls and looks after its node (invocations.node_upkeep).
@worker_process_init.connect
def _start_process(**_):
    from invocations import lane, nodes, provisioned_versions

    nodes.start_heartbeat()
    lane.start_threads(1)
    provisioned_versions.start()


@worker_ready.connect
def _start_main(sender=None, **_):
    from celery.concurrency.solo import TaskPool as SoloPool
    from celery.concurrency.thread import TaskPool as ThreadPool

    from invocations import lane, node_upkeep, nodes

    queues = {q.name for q in sender.app.amqp.queues.consume_from.values()} if sender else set()
    serves_invocations = "invocations" in queues
    pool = getattr(sender, "pool", None)
    if serves_invocations and isinstance(pool, ThreadPool | SoloPool):
        nodes.start_heartbeat()
        lane.start_threads(sender.controller.concurrency if isinstance(pool, ThreadPool) else 1)
        from invocations import provisioned_versions

        provisioned_versions.start()
    node_upkeep.start(serves_invocations)
    if serves_invocations:
        # Kinesis and DynamoDB stream mappings (mappings.stream_poller).
        from mappings import stream_poller

        stream_poller.start()


@worker_shutdown.connect
def _stop_main(**_):
    from mappings import stream_poller

    stream_poller.stop()
