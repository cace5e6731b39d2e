"""console/celery.py: every process that runs invocations beats and pops
sync calls; each worker's main process records and looks after its node."""

from types import SimpleNamespace

from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.concurrency.thread import TaskPool as ThreadPool

from console import celery as celery_app
from invocations import lane, node_upkeep, nodes
from mappings import stream_poller


def worker(pool, concurrency: int, queues: list[str]):
    consume = {name: SimpleNamespace(name=name) for name in queues}
    return SimpleNamespace(
        pool=pool, controller=SimpleNamespace(concurrency=concurrency),
        app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=consume))),
    )


def test_every_process_that_runs_invocations_gets_lane_threads(monkeypatch):
    started, upkeep, beats = [], [], []
    monkeypatch.setattr(lane, "start_threads", lambda count=1: started.append(count))
    monkeypatch.setattr(node_upkeep, "start", lambda runs: upkeep.append(runs))
    monkeypatch.setattr(nodes, "start_heartbeat", lambda: beats.append(1))
    monkeypatch.setattr(stream_poller, "start", lambda: None)
    # A prefork child (or the solo pool) announces itself: one thread.
    celery_app._start_process()
    assert started == [1] and beats == [1]
    # A thread pool runs tasks in the worker itself: one per pool thread.
    celery_app._start_main(sender=worker(ThreadPool.__new__(ThreadPool), 6, ["invocations", "default"]))
    assert started == [1, 6] and upkeep == [True]
    # A prefork worker's own process runs no invocations: its children do.
    celery_app._start_main(sender=worker(PreforkPool.__new__(PreforkPool), 8, ["invocations"]))
    assert started == [1, 6] and upkeep == [True, True]
    # The periodic worker records but runs no invocations.
    celery_app._start_main(sender=worker(ThreadPool.__new__(ThreadPool), 4, ["periodic"]))
    assert started == [1, 6] and upkeep == [True, True, False]
