"""Running one invocation: claim the row, lease an environment, send the
event over its socket, stream the logs, and record the outcome."""

import html
import json
import logging
import time

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from invocations import concurrency, delivery, hooks, live, pool, sandbox
from invocations.models import Invocation

log = logging.getLogger(__name__)
# How often a running invocation looks again for someone watching its logs.
WATCH_RECHECK_S = 0.5


class LogStream:
    """Collects an invocation's log lines and streams them live."""

    def __init__(self, inv: Invocation, watched: list[str]):
        self.inv = inv
        self.lines: list[str] = []
        self.size = 0
        self.all_groups = live_groups(inv)
        # Who was watching when the invocation started (announce_started).
        self.groups = watched
        self.checked_at = time.monotonic()

    def __call__(self, line: str) -> None:
        # Keep a little over the cap while running; cap_logs trims at the end.
        if self.size > settings.STRATUS_LOG_CAP * 2:
            return
        self.lines.append(line)
        self.size += len(line) + 1
        now = time.monotonic()
        if now - self.checked_at > WATCH_RECHECK_S:
            self.groups, self.checked_at = live.watched(self.all_groups), now
        if not self.groups:
            return
        # Sent at once; the sender merges lines that queue up meanwhile.
        live.send(
            self.groups,
            f'<div hx-swap-oob="beforeend:#logs-{self.inv.request_id}">'
            f"{html.escape(line)}\n</div>",
        )

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def _request(inv: Invocation, deadline: float) -> dict:
    fn = inv.function
    return {
        "requestId": str(inv.request_id),
        "event": json.loads(inv.event) if inv.event else None,
        "deadlineMs": int(deadline * 1000),
        "functionName": fn.name,
        "functionVersion": inv.function_version,
        "memoryLimitInMB": fn.memory_mb,
        "invokedFunctionArn": fn.arn,
        "logGroupName": f"/aws/lambda/{fn.name}",
        "logStreamName": f"{timezone.now():%Y/%m/%d}/[$LATEST]{inv.request_id.hex}",
    }


def run(request_id: str) -> str:
    """Run one queued invocation, as its Celery task does."""
    inv = Invocation.load_for_run(request_id)
    if inv is None:
        return "missing"
    if inv.status != "queued":
        return "already-claimed"
    if delivery.expire_if_too_old(inv):
        _announce_final(inv)
        return "expired"
    fn = inv.function
    admission = concurrency.admit(fn, inv.request_id)
    if admission is None:
        concurrency.wait_for_slot(inv)
        return "waiting"
    if not inv.claim():
        admission.abandon()
        return "already-claimed"
    return _run_claimed(inv, None)


def run_sync(request_id: str, watched: list[str]) -> str:
    """The sync lane's run. The web took the call's reserved-concurrency
    slot and a sync row never expires, so nothing is left to decide before
    the claim, which also loads the row."""
    inv = Invocation.claim_for_run(request_id)
    if inv is None:
        return "already-claimed"
    return _run_claimed(inv, watched)


def _run_claimed(inv: Invocation, watched: list[str] | None) -> str:
    """`watched`: the live groups someone was watching when the row was
    handed over (the sync lane looks), else None: look now."""
    fn = inv.function
    logs = LogStream(inv, announce_started(inv, watched))
    started = time.monotonic()
    try:
        lease = pool.lease(fn)
    except Exception as e:
        log.exception("could not start an environment for %s", fn.name)
        logs(f"[ERROR] could not start an execution environment: {e}")
        duration = (time.monotonic() - started) * 1000
        _finish(inv, logs, status="failed", duration_ms=duration, error={
            "errorType": "Runtime.EnvironmentStartError",
            "errorMessage": f"Could not start an execution environment: {e}",
            "stackTrace": [],
        })
        return "failed"
    env = lease.env
    invoke_started = time.monotonic()
    deadline = time.time() + fn.timeout_s
    outcome = sandbox.invoke(env.socket_path, _request(inv, deadline), fn.timeout_s, logs)
    duration = (time.monotonic() - invoke_started) * 1000
    common = dict(
        duration_ms=duration,
        init_duration_ms=lease.init_ms,
        cold_start=lease.cold,
        max_memory_used_mb=outcome.max_memory_used_mb,
    )
    if outcome.kind == "result":
        _finish(inv, logs, status="succeeded", result=json.dumps(outcome.payload), reuse=env, **common)
    elif outcome.kind == "error":
        # A handler error leaves the environment healthy, as in Lambda.
        _finish(inv, logs, status="failed", error=outcome.error, reuse=env, **common)
    elif outcome.kind == "timeout":
        pool.discard(env)
        message = f"Task timed out after {fn.timeout_s:.2f} seconds"
        logs(f"{timezone.now():%Y-%m-%dT%H:%M:%S.%fZ} {inv.request_id} {message}")
        _finish(inv, logs, status="timed_out", error={
            "errorType": "Sandbox.Timedout", "errorMessage": message, "stackTrace": [],
        }, **common)
    else:
        kind = sandbox.classify_crash(pool.docker_client(), env.container_id)
        pool.discard(env)
        if kind == "out_of_memory":
            common["max_memory_used_mb"] = fn.memory_mb
            _finish(inv, logs, status="out_of_memory", error={
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"Runtime exited with error: signal: killed (memory limit {fn.memory_mb} MB)",
                "stackTrace": [],
            }, **common)
        else:
            _finish(inv, logs, status="failed", error={
                "errorType": "Runtime.ExitError",
                "errorMessage": "Runtime exited without providing a reason",
                "stackTrace": [],
            }, **common)
    return inv.status


def _finish(inv: Invocation, logs: LogStream, reuse=None, **fields) -> None:
    """Record the outcome; `reuse` is a healthy environment to pool again."""
    text = logs.text()
    try:
        if delivery.retry_later(inv, text, **fields):
            if reuse is not None:
                pool.release(reuse)
            return
        inv.finish(logs=text, **fields)
    finally:
        concurrency.release_for(inv.function, inv.request_id)
    _announce_final(inv, reuse)


def _announce_final(inv: Invocation, reuse=None) -> None:
    # Wake a waiting sync caller first, then pool the environment before its
    # next request can arrive; the browser and the hooks can wait a moment.
    watched = live.announce_done(inv, final_groups(inv))
    if reuse is not None:
        pool.release(reuse)
    announce_finished(inv, watched)
    hooks.run_finished(inv)


def live_groups(inv: Invocation) -> list[str]:
    return live.invocation_groups(inv.request_id, inv.function_id)


def announce_started(inv: Invocation, watched: list[str] | None = None) -> list[str]:
    """Show the running row; returns the groups someone is watching."""
    groups = live.watched(live_groups(inv)) if watched is None else watched
    if groups:
        live.send(groups, render_to_string("invocations/live_row.html", {"inv": inv}))
    return groups


def final_groups(inv: Invocation) -> list[str]:
    return [*live_groups(inv), live.team_group(inv.function.team_id)]


def announce_finished(inv: Invocation, watched: list[str]) -> None:
    """Show the final row and the function's new stats to the `watched`
    groups (those of final_groups someone is connected to)."""
    team_group = live.team_group(inv.function.team_id)
    groups = [g for g in watched if g != team_group]
    team = [g for g in watched if g == team_group]
    if groups:
        live.send(groups, render_to_string("invocations/live_finished.html", {"inv": inv}))
    if team:
        live.send(team, render_to_string(
            "functions/live_stats.html", {"fn": inv.function, "stats": function_stats(inv.function)}
        ))


def function_stats(fn) -> dict:
    from invocations.stats import stats_for

    return stats_for(fn)
