import json
import logging
import math
import uuid

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from console import fastsql
from functions.models import Function

STATUSES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("timed_out", "Timed out"),
    ("out_of_memory", "Out of memory"),
    ("throttled", "Throttled"),
    ("expired", "Expired"),
    ("cancelled", "Cancelled"),
]
FINISHED = {"succeeded", "failed", "timed_out", "out_of_memory", "throttled", "expired", "cancelled"}
ERRORS = FINISHED - {"succeeded"}
SOURCES = [
    ("console", "Console"),
    ("api", "API"),
    ("cli", "CLI"),
    ("http", "HTTP route"),
    ("schedule", "Schedule"),
    ("topic", "Topic"),
    ("queue", "Queue"),
    ("webhook", "Webhook"),
    ("destination", "Destination"),
    ("redrive", "Redrive"),
]
PRIORITIES = [("high", "High"), ("normal", "Normal"), ("low", "Low")]
# Celery's Redis transport: a lower number is served first.
CELERY_PRIORITY = {"high": 0, "normal": 3, "low": 6}
TYPES = [("RequestResponse", "RequestResponse"), ("Event", "Event")]


def cap_logs(text: str) -> str:
    """Keep the last 256 KB, as the tail is what explains an outcome."""
    cap = settings.STRATUS_LOG_CAP
    data = text.encode()
    if len(data) <= cap:
        return text
    marker = "[log truncated: earlier lines dropped]\n"
    return marker + data[-(cap - len(marker)):].decode("utf-8", errors="ignore")


# Per worker process: functions by id, as of the revision last run.
_functions: dict = {}
# Read with the invocation: whether the cached function is still current.
_FUNCTION_NOW = {
    "function_revision": (Function, "revision", "function"),
    "function_reserved": (Function, "reserved_concurrency", "function"),
}


def _with_function(inv: "Invocation | None") -> "Invocation | None":
    if inv is None:
        return None
    fn = _functions.get(inv.function_id)
    if fn is None or fn.revision != inv.function_revision:
        fn = Function.objects.select_related("team", "code").get(id=inv.function_id)
        _functions[fn.id] = fn
    fn.reserved_concurrency = inv.function_reserved
    inv.function = fn
    return inv


class Invocation(models.Model):
    request_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="invocations")
    function_version = models.CharField(max_length=20, default="$LATEST")
    status = models.CharField(max_length=16, choices=STATUSES, default="queued", db_index=True)
    invocation_type = models.CharField(max_length=20, choices=TYPES, default="RequestResponse")
    source = models.CharField(max_length=16, choices=SOURCES, default="api")
    event = models.TextField(default="{}")
    result = models.TextField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    logs = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    billed_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    init_duration_ms = models.FloatField(null=True, blank=True)
    memory_size_mb = models.PositiveIntegerField(default=128)
    max_memory_used_mb = models.PositiveIntegerField(null=True, blank=True)
    cold_start = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    priority = models.CharField(max_length=6, choices=PRIORITIES, default="normal")
    # What made this invocation, e.g. "route:<uuid>", "schedule:<uuid>": the
    # Triggers tab counts errors per trigger with it.
    trigger = models.CharField(max_length=80, blank=True, default="", db_index=True)
    # Source-specific facts the finish hooks need (a queue batch's message ids,
    # the invocation a destination event came from).
    origin = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["function", "-created_at"])]

    def __str__(self) -> str:
        return str(self.request_id)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def is_error(self) -> bool:
        return self.status in ERRORS

    @classmethod
    def submit(
        cls,
        fn: Function,
        event: str,
        *,
        invocation_type: str,
        source: str,
        request_id=None,
        priority: str = "normal",
        trigger: str = "",
        origin: dict | None = None,
    ) -> "Invocation":
        """Store the row, then queue its task once the row is committed: a
        task never arrives for a row that is not there yet."""
        inv = cls(
            request_id=request_id or uuid.uuid4(),
            function=fn,
            event=event,
            invocation_type=invocation_type,
            source=source,
            memory_size_mb=fn.memory_mb,
            priority=priority,
            trigger=trigger,
            origin=origin,
        )
        # One INSERT is atomic on its own; outside a transaction on_commit
        # runs at once, inside one it waits for the commit.
        fastsql.insert(inv)
        if invocation_type == "RequestResponse":
            transaction.on_commit(lambda: hand_over_sync(inv))
        else:
            transaction.on_commit(lambda: queue_task(inv.request_id, priority))
        return inv

    @classmethod
    def load_for_run(cls, request_id) -> "Invocation | None":
        """The row with its function, for a worker about to run it: one
        SELECT, with the function taken from this process's cache unless
        its revision (code or configuration) or reserved concurrency moved."""
        return _with_function(fastsql.get(cls, {"request_id": request_id}, extra=_FUNCTION_NOW))

    @classmethod
    def claim_for_run(cls, request_id) -> "Invocation | None":
        """claim() and load_for_run() in one statement, for a row with
        nothing to decide before its claim (a sync row the web admitted);
        None when it was not queued (claimed already, or gone)."""
        inv = fastsql.update_returning(
            cls, {"request_id": request_id, "status": "queued"},
            {"status": "running", "started_at": timezone.now()},
            increment=("attempts",), extra=_FUNCTION_NOW,
        )
        return _with_function(inv)


    def claim(self) -> bool:
        """queued -> running. A conditional UPDATE that changes exactly one
        row, so a task delivered twice (reconciler, redelivery) runs once."""
        now = timezone.now()
        changed = fastsql.update(
            Invocation, {"request_id": self.request_id, "status": "queued"},
            {"status": "running", "started_at": now}, increment=("attempts",),
        )
        if changed == 1:
            # Only the claimer changes a queued row, so no need to re-read it.
            self.status, self.started_at, self.attempts = "running", now, self.attempts + 1
            return True
        return False

    def finish(
        self,
        *,
        status: str,
        result: str | None = None,
        error: dict | None = None,
        logs: str = "",
        duration_ms: float = 0.0,
        init_duration_ms: float | None = None,
        max_memory_used_mb: int | None = None,
        cold_start: bool = False,
    ) -> bool:
        """running -> a final status, once."""
        billed = max(1, math.ceil(duration_ms))
        self.status = status
        self.result = result
        self.error = error
        self.duration_ms = round(duration_ms, 2)
        self.billed_duration_ms = billed
        self.init_duration_ms = round(init_duration_ms, 2) if init_duration_ms is not None else None
        self.max_memory_used_mb = max_memory_used_mb
        self.cold_start = cold_start
        self.finished_at = timezone.now()
        # self.logs holds earlier attempts' logs when an async event was retried.
        self.logs = cap_logs(self.logs + logs + self.report_line() + "\n")
        changed = fastsql.update(Invocation, {"request_id": self.request_id, "status": "running"}, dict(
            status=self.status,
            result=self.result,
            error=self.error,
            logs=self.logs,
            duration_ms=self.duration_ms,
            billed_duration_ms=self.billed_duration_ms,
            init_duration_ms=self.init_duration_ms,
            max_memory_used_mb=self.max_memory_used_mb,
            cold_start=self.cold_start,
            finished_at=self.finished_at,
        ))
        return changed == 1

    def report_line(self) -> str:
        parts = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {self.duration_ms or 0:.2f} ms",
            f"Billed Duration: {self.billed_duration_ms or 0} ms",
            f"Memory Size: {self.memory_size_mb} MB",
            f"Max Memory Used: {self.max_memory_used_mb or 0} MB",
        ]
        if self.init_duration_ms is not None:
            parts.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
        if self.status == "timed_out":
            parts.append("Status: timeout")
        elif self.status == "out_of_memory":
            parts.append("Status: error\tError Type: Runtime.OutOfMemory")
        return "\t".join(parts)

    @property
    def result_pretty(self) -> str:
        if self.result is None:
            return ""
        try:
            return json.dumps(json.loads(self.result), indent=2)
        except ValueError:
            return self.result

    @property
    def error_pretty(self) -> str:
        return json.dumps(self.error, indent=2) if self.error else ""


def hand_over_sync(inv: "Invocation") -> None:
    """A caller is waiting: the sync lane, or Celery if Redis refused it."""
    from invocations import lane, live

    groups = live.invocation_groups(inv.request_id, inv.function_id)
    if not lane.push(inv.request_id, groups, inv.priority):
        queue_task(inv.request_id, inv.priority)


def queue_task(request_id, priority: str = "normal", countdown: float | None = None) -> None:
    """Queue the row's task. A broker that is down does not fail the caller:
    the row is stored, and the reconciler queues it later."""
    from invocations.tasks import run

    try:
        run.apply_async(
            (str(request_id),), priority=CELERY_PRIORITY.get(priority, 3), countdown=countdown
        )
    except Exception:
        logging.getLogger(__name__).exception(
            "could not queue %s; the reconciler will retry", request_id
        )


class Environment(models.Model):
    """A running container that serves one function revision, one invocation
    at a time. Rows are the pool that every worker process shares."""

    STATES = [("starting", "Starting"), ("idle", "Idle"), ("busy", "Busy")]
    id = models.CharField(max_length=32, primary_key=True)
    function = models.ForeignKey(Function, on_delete=models.SET_NULL, null=True, related_name="environments")
    revision = models.UUIDField(db_index=True)
    container_id = models.CharField(max_length=80, blank=True)
    socket_path = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=10, choices=STATES, default="starting")
    created_at = models.DateTimeField(default=timezone.now)
    leased_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    invocations_count = models.PositiveIntegerField(default=0)


class Attempt(models.Model):
    """One try of an invocation; async invocations may have up to three."""

    invocation = models.ForeignKey(Invocation, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=STATUSES)
    error = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        unique_together = [("invocation", "number")]


class EventInvokeConfig(models.Model):
    """Lambda's per-function async settings: retries, maximum event age and
    destinations (ARNs of a function, topic or queue of the same team).
    A function without a row gets the defaults; see invocations.delivery."""

    function = models.OneToOneField(Function, on_delete=models.CASCADE, related_name="event_invoke_config")
    maximum_retry_attempts = models.PositiveSmallIntegerField(default=2)
    maximum_event_age_s = models.PositiveIntegerField(default=21600)
    on_success = models.CharField(max_length=350, blank=True)
    on_failure = models.CharField(max_length=350, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)


CONDITIONS = [
    ("RetriesExhausted", "Retries exhausted"),
    ("EventAgeExceeded", "Event age exceeded"),
]


class DeadLetter(models.Model):
    """An async event that finally failed, kept so it can be inspected and
    redriven; Stratus's counterpart of Lambda's dead-letter queue."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invocation = models.OneToOneField(Invocation, on_delete=models.CASCADE, related_name="dead_letter")
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="dead_letters")
    event = models.TextField()
    error = models.JSONField(null=True, blank=True)
    condition = models.CharField(max_length=20, choices=CONDITIONS)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    redriven_at = models.DateTimeField(null=True, blank=True)
    redrive_invocation = models.ForeignKey(
        Invocation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
