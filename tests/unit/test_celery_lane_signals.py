"""console/celery.py starts the sync lane wherever tasks run."""

from types import SimpleNamespace

from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.concurrency.thread import TaskPool as ThreadPool

from console import celery as celery_app
from invocations import lane


def test_every_process_that_runs_tasks_gets_lane_threads(monkeypatch):
    started = []
    monkeypatch.setattr(lane, "start_threads", lambda count=1: started.append(count))
    # A prefork child (or the solo pool) announces itself: one thread.
    celery_app._start_sync_lane()
    assert started == [1]
    # A thread pool runs tasks in the worker itself: one per pool thread.
    threads = SimpleNamespace(
        pool=ThreadPool.__new__(ThreadPool), controller=SimpleNamespace(concurrency=6)
    )
    celery_app._start_sync_lane_for_threads(sender=threads)
    assert started == [1, 6]
    # A prefork worker's own process runs no tasks: its children have threads.
    prefork = SimpleNamespace(
        pool=PreforkPool.__new__(PreforkPool), controller=SimpleNamespace(concurrency=8)
    )
    celery_app._start_sync_lane_for_threads(sender=prefork)
    assert started == [1, 6]
