"""Running one invocation on this node: lease an environment, send the
event over its socket, stream the logs, decide the outcome, and announce it.

Two entries: `run_async` for a stored Event row (its Celery task), and
`run_sync` for a call popped from the sync lane (invocations.lane). Both
share `execute`. The worker decides the outcome, never the function: a
result frame is `succeeded`; an error frame `failed` with Lambda's
errorType/errorMessage/stackTrace; no final frame by the deadline
`timed_out` (the container is removed); the connection closing early
`out_of_memory` when Docker says the kernel OOM-killed it, else `failed`
(Runtime.ExitError)."""

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC

from django.conf import settings
from django.utils import timezone

from functions import qualifiers
from functions.models import Alias, Function, FunctionVersion
from invocations import (
    aws_forwarder,
    call_marks,
    concurrency,
    delivery,
    dispatch,
    fragments,
    hooks,
    live,
    nodes,
    pool,
    qualified,
    recorder,
    redis_link,
    sandbox,
)
from invocations.done import Done, channel
from invocations.models import Invocation
from invocations.stats import stats_for
from invocations.sync_request import SyncRequest
from metrics import live as metrics_live
from metrics import recording

log = logging.getLogger(__name__)
# How often a running invocation looks again for someone watching its logs.
WATCH_RECHECK_S = 0.5


class LogStream:
    """Collects an invocation's log lines and streams them live."""

    def __init__(self, inv: Invocation, watched: list[str] | None):
        self.inv = inv
        self.lines: list[str] = []
        self.size = 0
        self.all_groups = live.invocation_groups(inv.request_id, inv.function_id)
        # Who was watching when the invocation started (None: look now).
        self.groups = live.watched(self.all_groups) if watched is None else watched
        self.checked_at = time.monotonic()
        self.announced = False

    def announce(self) -> None:
        """The running row to whoever watches, once: at the start, or with
        the first line someone sees (a page opened mid-run)."""
        if self.groups and not self.announced:
            self.announced = True
            live.send(self.groups, fragments.started(self.inv))

    def __call__(self, line: str) -> None:
        # Keep a little over the cap while running; cap_logs trims at the end.
        if self.size > settings.STRATUS_LOG_CAP * 2:
            return
        self.lines.append(line)
        self.size += len(line) + 1
        now = time.monotonic()
        if now - self.checked_at > WATCH_RECHECK_S:
            self.groups, self.checked_at = live.watched(self.all_groups), now
        if self.groups:
            self.announce()
            # Sent at once; the sender merges lines that queue up meanwhile.
            live.send(self.groups, fragments.log_line(self.inv.request_id, line))

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


# Per worker process: functions by id, as of the revision last run, and
# their published versions' rows by (id, version) (a version never changes
# but for its State, see _version_for).
_functions: dict[str, Function] = {}
_versions: dict[tuple[str, str], FunctionVersion] = {}
# (id, version) -> (the function object, the version row, the copy made over them)
_copies: dict[tuple[str, str], tuple[Function, FunctionVersion, Function]] = {}
LATEST = "$LATEST"


def function_for(function_id: str, revision: str | None, version: str = LATEST) -> Function | None:
    """The function at `revision` or newer, or with `version` ("3") its
    frozen copy (functions.qualifiers.frozen: `revision` is the version's);
    None when the function or the version was deleted."""
    if version != LATEST:
        return _version_for(function_id, revision, version)
    fn = _functions.get(function_id)
    if fn is None or str(fn.revision) != revision:
        fn = Function.objects.select_related("team", "code").filter(id=function_id).first()
        if fn is None:
            _functions.pop(function_id, None)
            return None
        _functions[function_id] = fn
    return fn


def has_version(function_id: str, version: str) -> bool:
    """Whether this process has read that published version already."""
    return (function_id, version) in _versions


def _version_for(
    function_id: str, revision: str | None, version: str, current: Function | None = None,
    fresh: bool = False,
) -> Function | None:
    """The version's copy, made anew over the function each call: only the
    version's row is kept. What a version freezes (qualifiers.FROZEN) comes
    from the row; the rest is the function's and may change any time
    without a new revision: reserved concurrency above all, which Lambda
    counts per function, shared by $LATEST and every version and alias. A
    copy kept whole kept the reservation it was first read with, so events
    to a version ran through a reservation of 0, or waited for ever after
    it was removed. The async path passes `current` (the row's function,
    just read); the sync path's admission is the web's, and its copy is made
    over this process's copy of the function. `fresh`: read the row again
    (the async path, which must see a version deleted since it was kept)."""
    row = _versions.get((function_id, version))
    # A version changes once: Pending until its dependency build ends
    # (functions.dependencies.finish), so a row not yet Active is read again.
    if (fresh or row is None or (row.state or "Active") != "Active"
            or (revision is not None and str(row.revision) != revision)):
        # One query: the version with its function, team and code.
        row = FunctionVersion.objects.select_related("code", "function__team", "function__code").filter(
            function_id=function_id, version=int(version)).first()
        if row is None:
            _versions.pop((function_id, version), None)
            return None
        _versions[(function_id, version)] = row
    base = current or _functions.get(function_id) or row.function
    if current is None:
        # The sync path (the hot one): the copy made over the same function
        # object and version row serves every call until either is read again.
        kept = _copies.get((function_id, version))
        if kept is not None and kept[0] is base and kept[1] is row:
            return kept[2]
    found = qualifiers.frozen(base, row)
    found.qualifier = version
    if current is None:
        _copies[(function_id, version)] = (base, row, found)
    return found


@dataclass
class Outcome:
    """What execute() found; `fields` go to Invocation.set_outcome/finish."""

    fields: dict = field(default_factory=dict)
    # A healthy environment to give back once the answer is out.
    lease: pool.Lease | None = None

    @property
    def status(self) -> str:
        return self.fields["status"]


def _request(inv: Invocation, fn: Function, deadline: float) -> dict:
    """The invoke frame's fields but the event (sandbox.invoke splices the
    event's text in as it is)."""
    # The ARN the caller named: with its alias or version as named (rows
    # stored before Invocation.qualifier existed: the version they ran).
    qualifier = inv.qualifier
    if not qualifier and inv.function_version != LATEST:
        qualifier = inv.function_version
    frame = {
        "requestId": str(inv.request_id),
        "deadlineMs": int(deadline * 1000),
        "functionName": fn.name,
        "functionVersion": inv.function_version,
        "memoryLimitInMB": fn.memory_mb,
        "invokedFunctionArn": f"{fn.arn}:{qualifier}" if qualifier else fn.arn,
        # LoggingConfig.LogGroup, else Lambda's default group.
        "logGroupName": (fn.logging_config or {}).get("LogGroup") or f"/aws/lambda/{fn.name}",
        "logStreamName": f"{timezone.now():%Y/%m/%d}/[{inv.function_version}]{inv.request_id.hex}",
    }
    if inv.client_context:
        # Invoke's ClientContext as JSON text: the runtimes' context.client_context
        # (Python), context.clientContext (Node), Lambda-Runtime-Client-Context.
        frame["clientContext"] = inv.client_context
    return frame


def execute(inv: Invocation, fn: Function, logs: LogStream, sync: bool = False) -> Outcome:
    """Run the invocation in an environment of this node. A sync call is
    marked as run by this worker (its caller watches that worker's beat)."""
    started = time.monotonic()
    running = None
    if sync:
        running = (str(inv.request_id), nodes.worker_id(), fn.timeout_s + int(dispatch.START_BOUND_S) + 60)
    try:
        held = pool.lease(fn, running)
        call_marks.mark(str(inv.request_id), "worker.leased")
        outcome = _invoke(inv, fn, held, logs)
        if outcome.kind == "unreachable" and not held.cold:
            # A pooled environment that died while idle: not the function's
            # doing. Drop it and serve the call from a new one.
            pool.discard(held.env_id, "removed: it had died while idle")
            held = pool.start(fn)
            outcome = _invoke(inv, fn, held, logs)
    except Exception as e:  # noqa: BLE001 - any start failure is the answer
        log.exception("could not start an environment for %s", fn.name)
        logs(f"[ERROR] could not start an execution environment: {e}")
        error = {
            "errorType": "Runtime.EnvironmentStartError",
            "errorMessage": f"Could not start an execution environment: {e}",
            "stackTrace": [],
        }
        if getattr(e, "exit_reason", None):  # the function's init exited: Lambda's words
            error = {"errorType": "Runtime.ExitError", "stackTrace": [], "errorMessage":
                     f"RequestId: {inv.request_id} Error: Runtime exited with error: {e.exit_reason}"}
        return Outcome({
            "status": "failed", "duration_ms": (time.monotonic() - started) * 1000,
            # It needed a new environment (that start failed): a cold start.
            "cold_start": True,
            "error": error,
        })
    common = {
        "duration_ms": outcome.duration_ms, "init_duration_ms": held.init_ms,
        "cold_start": held.cold, "max_memory_used_mb": outcome.max_memory_used_mb,
    }
    held.max_memory_used_mb = outcome.max_memory_used_mb
    if outcome.kind == "result":
        result = outcome.payload_text if outcome.payload_text is not None else json.dumps(outcome.payload)
        return Outcome({"status": "succeeded", "result": result, **common}, held)
    if outcome.kind == "error":
        # A handler error leaves the environment healthy, as in Lambda.
        return Outcome({"status": "failed", "error": outcome.error, **common}, held)
    if outcome.kind == "timeout":
        # The bootstrap is still in the handler and sends no count of its
        # own: read the environment's peak before it is removed.
        common["max_memory_used_mb"] = sandbox.peak_memory_mb(pool.docker_client(), held.container)
        pool.discard(held.env_id, f"removed: its call timed out after {fn.timeout_s} s")
        message = f"Task timed out after {fn.timeout_s:.2f} seconds"
        logs(f"{lambda_timestamp(timezone.now())} {inv.request_id} {message}")
        return Outcome({"status": "timed_out", "error": {
            "errorType": "Sandbox.Timedout", "errorMessage": message, "stackTrace": [],
        }, **common})
    kind = sandbox.classify_crash(pool.docker_client(), held.container)
    # Read before the environment is discarded (its container removed).
    reason = None if kind == "out_of_memory" else sandbox.exit_reason(held.container, pool.docker_client())
    if kind == "out_of_memory":
        pool.discard(held.env_id, f"OOM-killed at its {fn.memory_mb} MB limit", "oom")
    else:
        pool.discard(held.env_id, "removed: its runtime exited during a call")
    if kind == "out_of_memory":
        common["max_memory_used_mb"] = fn.memory_mb
        return Outcome({"status": "out_of_memory", "error": {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"Runtime exited with error: signal: killed (memory limit {fn.memory_mb} MB)",
            "stackTrace": [],
        }, **common})
    error = outcome.error or {
        "errorType": "Runtime.ExitError",
        "errorMessage": "Runtime exited without providing a reason",
        "stackTrace": [],
    }
    if reason is not None:  # e.g. Node's process.exit(2), as Lambda words it
        error = {"errorType": "Runtime.ExitError",
                 "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: {reason}",
                 "stackTrace": []}
    return Outcome({"status": "failed", "error": error, **common})


def lambda_timestamp(moment) -> str:
    """A log line's UTC time as Lambda writes it: 2026-11-30T16:05:12.345Z
    (milliseconds, never microseconds)."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _open_aws_door(held: pool.Lease) -> None:
    """This process listens for the environment's AWS calls (it may not be
    the one that specialised it). A door that cannot open (the environment's
    folder is gone) does not stop the call: the invoke finds out what is wrong."""
    try:
        aws_forwarder.ensure(os.path.dirname(held.socket_path), settings.STRATUS_AWS_UPSTREAM)
    except (OSError, ValueError) as e:
        log.warning("no AWS door for environment %s: %s", held.env_id, e)


def _invoke(inv: Invocation, fn: Function, held: pool.Lease, logs: LogStream) -> sandbox.InvokeOutcome:
    deadline = time.time() + fn.timeout_s
    _open_aws_door(held)
    outcome = sandbox.invoke(
        held.socket_path, _request(inv, fn, deadline), fn.timeout_s, logs, raw_event=inv.event or "null"
    )
    call_marks.mark(str(inv.request_id), "worker.result")
    return outcome


# Sync: from the lane ------------------------------------------------------------


def run_sync(raw: bytes, popped_at: float) -> str:
    """Run a call popped from the lane at `popped_at` (time.monotonic())."""
    request, watched = SyncRequest.decode(raw)
    if call_marks.on():
        ago_ns = int((time.monotonic() - popped_at) * 1e9)
        call_marks.mark(request.request_id, "worker.popped", time.time_ns() - ago_ns)
    fn = function_for(request.function_id, request.revision, request.version)
    call_marks.mark(request.request_id, "worker.function")
    if fn is None:
        # Deleted since the web found it: the caller gets Lambda's answer;
        # there is nothing left to record it against.
        what = "function" if request.version == LATEST else f"function version {request.version}"
        _publish(Done(request.request_id, "failed", error={
            "errorType": "ResourceNotFoundException", "errorMessage": f"The {what} was deleted.",
        }))
        return "missing"
    inv = dispatch.record_of(fn, request)
    inv.function = fn
    if time.time() > request.expires_at:
        # Its caller was told it failed (dispatch cancelled it): never run it.
        inv.set_outcome(status="cancelled", error={
            "errorType": "Stratus.QueueTimeout", "errorMessage": "No worker took the call in time.",
        })
        _show_finished(inv, _answer(inv, request, None, []))
        return "cancelled"
    inv.started_at, inv.attempts = timezone.now(), 1
    inv.node, inv.claimed_by = nodes.node(), nodes.worker_id()
    logs = LogStream(inv, watched)
    logs.announce()
    if time.monotonic() - popped_at > dispatch.START_BOUND_S:
        # The web stops waiting for a started call after this bound.
        inv.set_outcome(status="failed", logs=logs.text(), error={
            "errorType": "Runtime.EnvironmentStartError",
            "errorMessage": "The call could not be started in time.",
        })
        _show_finished(inv, _answer(inv, request, None, logs.groups))
        return "failed"
    outcome = execute(inv, fn, logs, sync=True)
    inv.set_outcome(logs=logs.text(), **outcome.fields)
    _show_finished(inv, _answer(inv, request, outcome.lease, logs.groups))
    return inv.status


def _answer(
    inv: Invocation, request: SyncRequest, held: pool.Lease | None, logs_groups: list[str]
) -> list[str]:
    """Wake the caller, queue the record and the metrics, give the
    environment and the concurrency slot back, and ask who watches the
    finished row and the charts: one Redis round trip. If Redis stays
    unreachable the record goes straight to the database (the metrics are
    skipped). Returns the watched groups of the finished row."""
    done = Done.of(inv).encode()
    # Asked again here, in the same round trip: a page opened after the
    # push (and after the last log line) must still see the final row; the
    # team list's and the charts' groups too.
    groups = _final_groups(inv)

    def send(client):
        pipe = client.pipeline(transaction=False)
        pipe.publish(channel(inv.request_id), done)
        pipe.delete(nodes.running_key(inv.request_id))
        recorder.add(pipe, inv)
        recording.add(pipe, recording.sample_of(inv))
        if held is not None:
            pool.release_to(pipe, held)
        if request.slot:
            concurrency.release_to(pipe, inv.function, inv.request_id)
        for group in groups:
            pipe.exists(live.group_key(group))
        call_marks.mark(str(inv.request_id), "worker.answering")
        replies = pipe.execute()
        return [g for g, there in zip(groups, replies[len(replies) - len(groups):], strict=True) if there]

    try:
        watched = redis_link.until_done(send, "answering a sync call", give_up_s=60)
    except Exception:  # noqa: BLE001 - Redis is gone for long: keep the record
        log.exception("could not answer %s through Redis; recording it directly", inv.request_id)
        recorder.store_now(inv)
        if held is not None:
            pool.discard(held.env_id)
        return []
    if held is not None:
        pool.released(held)
    return watched if live.on_redis() else [*dict.fromkeys([*logs_groups, *groups])]


def _final_groups(inv: Invocation) -> list[str]:
    return [
        *live.invocation_groups(inv.request_id, inv.function_id), live.team_group(inv.function.team_id),
        *metrics_live.tick_groups(inv),
    ]


def _publish(done: Done) -> None:
    redis_link.quietly(lambda c: c.publish(channel(done.request_id), done.encode()), "done message")


# Async: a stored row --------------------------------------------------------------


def run_async(request_id: str) -> str:
    """Run one queued Event row, as its Celery task does."""
    inv = Invocation.load(request_id)
    if inv is None:
        return "missing"
    if inv.status != "queued":
        return "already-claimed"
    fn = inv.function
    error = delivery.expiry_error(inv)
    if error is not None:
        if dispatch.expire(inv, error):
            _announce_final(inv, None)
        return "expired"
    missing = _resolve_alias(inv)
    if missing is None and inv.function_version != LATEST:
        # Run as the version this attempt resolved to (frozen code and
        # settings), read again: one deleted since it was queued is seen.
        versioned = _version_for(str(fn.id), None, inv.function_version, current=fn, fresh=True)
        if versioned is None:
            missing = inv.qualifier or inv.function_version
        fn = inv.function = versioned or fn
    if missing is not None:
        # Never runs $LATEST (or the version an alias once named) instead.
        if qualified.fail_queued(inv, missing):
            _publish(Done.of(inv))
            _show_finished(inv, live.watched(_final_groups(inv)))
            hooks.run_finished(inv)
        return inv.status
    version_failed = None
    if (refused := dispatch.not_ready(fn)) is not None:
        if inv.function_version == LATEST or fn.state != "Failed":
            # Pending (or Failed) until its dependencies are installed: the
            # event waits, queued, as Lambda's async queue does.
            dispatch.hold(inv, refused)
            return "held"
        # A published version whose build failed never runs: the event
        # fails now (destinations, DLQ) instead of waiting out its age.
        version_failed = {**refused, "errorMessage": (
            f"{refused['errorMessage']} (version {inv.function_version}: {fn.state_reason})")}
    admission = concurrency.admit(fn, inv.request_id)
    if not isinstance(admission, concurrency.Admission):
        dispatch.wait_for_slot(inv, admission)
        return "waiting"
    if not inv.claim(nodes.worker_id(), nodes.node()):
        admission.abandon()
        return "already-claimed"
    # Read before running: the function may be deleted meanwhile, and its
    # destinations with it.
    config = delivery.config_of(inv)
    logs = LogStream(inv, None)
    logs.announce()
    if version_failed is not None:
        outcome = Outcome({"status": "failed", "duration_ms": 0.0, "error": version_failed})
    else:
        outcome = execute(inv, fn, logs)
    try:
        # Another attempt at a Failed version would fail the same way.
        wait = None if version_failed is not None else delivery.retry_wait(inv, outcome.status)
        if wait is not None and dispatch.retry(inv, logs.text(), wait, **outcome.fields):
            if outcome.lease is not None:
                pool.release(outcome.lease)
            # Each attempt that ran counts (CloudWatch's Invocations).
            recording.record(recording.attempt_sample(inv, outcome.fields))
            return "retrying"
        finished = inv.finish(logs=logs.text(), **outcome.fields)
    finally:
        concurrency.release_for(fn, inv.request_id)
    if not finished:
        if outcome.lease is not None:
            pool.release(outcome.lease)
        if not Function.objects.filter(pk=fn.pk).exists():
            # Deleted while it ran: its row went with it.
            delivery.deliver_after_delete(inv, config)
            _publish(Done.of(inv))
            return inv.status
        # Another attempt owns the row now (this worker was thought lost).
        return "superseded"
    _announce_final(inv, outcome.lease)
    return inv.status


def _resolve_alias(inv: Invocation) -> str | None:
    """Resolve an event's alias for this attempt, as Lambda's async queue
    resolves the qualified ARN each time it invokes: the alias picks its
    version now (by RoutingConfig weight), so an event queued, throttled or
    retried across an UpdateAlias runs the alias's current version. Sets
    `inv.function_version` (Invocation.claim stores it: the row shows the
    version that ran); `inv.qualifier` stays the caller's. Returns the
    alias's name when it no longer exists (the event never runs), else None.
    A version number, "$LATEST" or no qualifier: left as they are."""
    qualifier = inv.qualifier
    if not qualifier or qualifier == LATEST or qualifiers.is_version(qualifier):
        return None
    alias = Alias.objects.filter(function_id=inv.function_id, name=qualifier).first()
    if alias is None:
        return qualifier
    inv.function_version = qualifiers.pick(alias.function_version, alias.routing_config)
    return None


def _announce_final(inv: Invocation, held: pool.Lease | None) -> None:
    # Wake anyone waiting and pool the environment first; the browser and
    # the hooks can wait a moment.
    _publish(Done.of(inv))
    if held is not None:
        pool.release(held)
    recording.record(recording.sample_of(inv))
    _show_finished(inv, live.watched(_final_groups(inv)))
    hooks.run_finished(inv)


def _show_finished(inv: Invocation, watched: list[str]) -> None:
    """The final row to its pages, the function's stats to the team list,
    a tick to the charts (to the `watched` ones of those groups)."""
    team_group = live.team_group(inv.function.team_id)
    ticks = [g for g in watched if metrics_live.is_tick_group(g)]
    tick = metrics_live.tick_fragment(inv) if ticks else ""
    if tick:
        live.send(ticks, tick)
    rows = [g for g in watched if g != team_group and not metrics_live.is_tick_group(g)]
    if rows:
        live.send(rows, fragments.finished(inv))
    if team_group in watched:
        live.send([team_group], fragments.function_stats(inv.function, stats_for(inv.function)))
