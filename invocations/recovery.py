"""What the reconciler does (invocations.reconcile, on the periodic queue):
find work that a lost message or a dead process left behind.

- A `queued` row older than STRATUS_REQUEUE_AFTER whose task was lost
  (Redis restarted, the broker refused it) is queued again.
- A `running` row whose worker stopped beating (killed, its host gone) is a
  failed attempt, `Runtime.WorkerLost`, and is retried under the function's
  retry policy like any failed attempt; without retries left it is final,
  gives back its concurrency slot and runs the finish hooks (dead
  letter, on-failure destination). A row running far past its function's
  timeout is treated the same even if its worker still beats (it hung).

Every change is a conditional UPDATE, so two reconcilers, or a reconciler
and a worker that was only slow, never both win."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from invocations import concurrency, delivery, dispatch, hooks, nodes, redis_link
from invocations.done import Done, channel
from invocations.models import Invocation
from metrics import recording

BATCH = 500
# A row running this long past its function's timeout has hung.
HUNG_AFTER_S = 120
WORKER_LOST = {
    "errorType": "Runtime.WorkerLost",
    "errorMessage": "The worker running this invocation stopped before it finished.",
    "stackTrace": [],
}


def requeue_lost() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.STRATUS_REQUEUE_AFTER)
    lost = list(
        Invocation.objects.filter(status="queued", queued_at__lt=cutoff)
        .values_list("request_id", "priority")[:BATCH]
    )
    count = 0
    for request_id, priority in lost:
        changed = Invocation.objects.filter(
            request_id=request_id, status="queued", queued_at__lt=cutoff
        ).update(queued_at=timezone.now())
        if changed == 1:
            dispatch.queue(request_id, priority)
            count += 1
    return count


def recover_abandoned() -> int:
    now = timezone.now()
    alive = nodes.alive_workers()
    settled = now - timedelta(seconds=settings.STRATUS_WORKER_LOST_AFTER)
    count = 0
    running = Invocation.objects.filter(status="running").select_related("function__team")
    for inv in running[:BATCH]:
        hung = inv.started_at + timedelta(seconds=inv.function.timeout_s + HUNG_AFTER_S) < now
        orphaned = inv.claimed_by not in alive and inv.started_at < settled
        if (hung or orphaned) and _fail_attempt(inv):
            count += 1
    return count


def _fail_attempt(inv: Invocation) -> bool:
    note = f"[Stratus] attempt {inv.attempts}: {WORKER_LOST['errorMessage']}\n"
    wait = delivery.retry_wait(inv, "failed")
    if wait is not None:
        if not dispatch.retry(inv, "", wait, status="failed", error=WORKER_LOST):
            return False
        concurrency.release_for(inv.function, inv.request_id)
        # The lost attempt ran (for how long is unknown): a failed invocation.
        recording.record(recording.attempt_sample(inv, {"status": "failed", "error": WORKER_LOST}))
        return True
    if not inv.finish(status="failed", error=WORKER_LOST, logs=note):
        return False
    concurrency.release_for(inv.function, inv.request_id)
    recording.record(recording.sample_of(inv))
    done = Done.of(inv).encode()
    redis_link.quietly(lambda c: c.publish(channel(inv.request_id), done), "done message")
    hooks.run_finished(inv)
    return True
