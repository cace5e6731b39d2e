import datetime as dt
import json
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from functions import qualifiers
from functions.models import Function
from invocations import fastsql
from metrics import billing

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
# Final statuses of calls that never ran (refused, or given up before a
# worker started them): neither cold nor warm, never billed
# (metrics.billing.NOT_BILLED is the same set).
NEVER_RAN = frozenset({"throttled", "expired", "cancelled"})
RAN = FINISHED - NEVER_RAN
# The error of a call whose version or alias did not exist when it was due
# (invocations.qualified): it failed without starting.
QUALIFIER_NOT_FOUND = "ResourceNotFoundException"
SOURCES = [
    ("console", "Console"),
    ("api", "API"),
    ("cli", "CLI"),
    ("http", "HTTP route"),
    ("function_url", "Function URL"),  # a call through the function's URL (triggers.url_door)
    ("schedule", "Schedule"),
    ("topic", "Topic"),
    ("queue", "Queue"),
    ("webhook", "Webhook"),
    ("destination", "Destination"),
    ("redrive", "Redrive"),
    ("bucket", "Bucket"),
    ("kinesis", "Kinesis stream"),
    ("dynamodb", "DynamoDB stream"),
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


class Invocation(models.Model):
    request_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="invocations")
    function_version = models.CharField(max_length=20, default="$LATEST")
    # The qualifier the caller named (an alias "live", a version "3",
    # "$LATEST"; "" when none): the invoke frame's invokedFunctionArn ends
    # with it, as Lambda's does, for async calls too.
    qualifier = models.CharField(max_length=128, blank=True, default="")
    # Invoke's ClientContext (X-Amz-Client-Context), decoded: JSON text
    # ("" when none), handed to the function as its context's client context.
    client_context = models.TextField(blank=True, default="")
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
    trigger = models.CharField(max_length=80, blank=True, default="")
    # Source-specific facts the finish hooks need (a queue batch's message ids,
    # the invocation a destination event came from).
    origin = models.JSONField(null=True, blank=True)
    # The node (Docker engine) it ran on, and the worker process that claimed
    # it: the reconciler retries a running row whose worker stopped beating.
    node = models.CharField(max_length=64, blank=True, default="")
    claimed_by = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["function", "-created_at"]),
            # Keyset paging of the runs page (runs.query): newest first,
            # request id breaking ties, across functions or within one.
            models.Index(fields=["created_at", "request_id"], name="inv_created_rid"),
            models.Index(fields=["function", "created_at", "request_id"], name="inv_fn_created_rid"),
            # Also serves every lookup by trigger alone (the Triggers tab).
            models.Index(fields=["trigger", "created_at", "request_id"], name="inv_trigger_created_rid"),
        ]

    def __str__(self) -> str:
        return str(self.request_id)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def ran(self) -> bool:
        """True for a finished call that ran (cold or warm); False while it
        is queued or running, for one that never ran (NEVER_RAN), even if
        an earlier attempt started, and for one that failed without ever
        starting (started_at None: its version or alias did not exist,
        invocations.qualified). The one rule every page's cold/warm cell
        (templates/invocations/_start.html), the outcome block and the runs
        page's cold/warm filter (runs.query.RAN plus a start) follow."""
        return self.status in RAN and self.started_at is not None

    @property
    def never_ran_reason(self) -> str:
        """Why a finished call never ran (not `ran`), for people: "Never
        ran: alias 'live' of function f does not exist", "Never ran:
        throttled (...)"; "" while it is queued or running, when it ran, and
        when an earlier attempt of it ran (retried, then expired)."""
        if not self.is_finished or self.ran or self.attempts:
            return ""
        error = self.error if isinstance(self.error, dict) else {}
        if error.get("errorType") == QUALIFIER_NOT_FOUND and self.qualifier:
            return "Never ran: " + qualifiers.missing_text(self.function.name, self.qualifier)
        detail = f" ({error['errorMessage']})" if error.get("errorMessage") else ""
        return f"Never ran: {self.get_status_display().lower()}{detail}"

    @property
    def destination_skipped(self) -> dict | None:
        """{"arn", "which", "reason"} when the finish hook skipped this
        call's destination (invocations.delivery.note_skipped_destination),
        else None."""
        found = (self.origin or {}).get("destination_skipped") if isinstance(self.origin, dict) else None
        return found if isinstance(found, dict) else None

    @property
    def is_error(self) -> bool:
        return self.status in ERRORS

    @classmethod
    def load(cls, request_id) -> "Invocation | None":
        """The row with its function and team, or None."""
        return cls.objects.select_related("function__team", "function__code").filter(
            request_id=request_id
        ).first()

    def claim(self, worker: str, node: str) -> bool:
        """queued -> running, by `worker` on `node`. A conditional UPDATE
        that changes exactly one row, so a task delivered twice (reconciler,
        redelivery) runs once."""
        now = timezone.now()
        changed = fastsql.update(
            Invocation, {"request_id": self.request_id, "status": "queued", "attempts": self.attempts},
            # The version this attempt resolved to (an alias picks at each
            # attempt, invocations.runner._resolve_alias): the one that ran.
            {"status": "running", "started_at": now, "claimed_by": worker, "node": node,
             "function_version": self.function_version},
            increment=("attempts",),
        )
        if changed == 1:
            # Only the claimer changes a queued row, so no need to re-read it.
            self.status, self.started_at, self.attempts = "running", now, self.attempts + 1
            self.claimed_by, self.node = worker, node
            return True
        return False

    def set_outcome(
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
    ) -> None:
        """Fill in the final fields (in memory): durations in ms, billed
        duration rounded up to the billing unit (metrics.billing.billed_ms_for:
        1 ms as Lambda, or 100 ms; 0 for a call that never ran), logs with
        Lambda's REPORT line appended after any earlier attempts' logs and
        capped at 256 KB."""
        self.status = status
        self.result = result
        self.error = error
        self.duration_ms = round(duration_ms, 2)
        self.billed_duration_ms = billing.billed_ms_for(status, duration_ms)
        self.init_duration_ms = round(init_duration_ms, 2) if init_duration_ms is not None else None
        self.max_memory_used_mb = max_memory_used_mb
        self.cold_start = cold_start
        self.finished_at = timezone.now()
        report = self.report_line()
        self.logs = cap_logs(self.logs + logs + (report + "\n" if report else ""))

    def finish(self, **outcome) -> bool:
        """running -> a final status (set_outcome's fields), once, and only
        by the attempt that claimed it: a worker thought lost whose row was
        retried meanwhile (attempts moved on) changes nothing."""
        self.set_outcome(**outcome)
        where = {"request_id": self.request_id, "status": "running", "attempts": self.attempts}
        changed = fastsql.update(Invocation, where, {
            name: getattr(self, name) for name in (
                "status", "result", "error", "logs", "duration_ms", "billed_duration_ms",
                "init_duration_ms", "max_memory_used_mb", "cold_start", "finished_at",
            )
        })
        return changed == 1

    @property
    def cost(self):
        """What this call costs (a Decimal in STRATUS_BILLING_CURRENCY,
        before the free tier), or None when it is not billed or not
        finished (metrics.billing.invocation_cost)."""
        if not self.is_finished:
            return None
        return billing.invocation_cost(self.status, self.billed_duration_ms, self.memory_size_mb)

    def _logging_config(self) -> dict:
        """The function's LoggingConfig when its row is at hand (the runner
        always has it: no query for it here), else {} (Lambda's Text)."""
        if not Invocation.function.is_cached(self):
            return {}
        return getattr(self.function, "logging_config", None) or {}

    def report_line(self) -> str:
        """Lambda's REPORT line; with LoggingConfig JSON its platform.report
        event instead, or "" when SystemLogLevel (WARN) leaves it out
        (platform.report is an INFO event)."""
        config = self._logging_config()
        if config.get("LogFormat") == "JSON":
            if str(config.get("SystemLogLevel") or "INFO").upper() == "WARN":
                return ""
            return self._report_json()
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

    def _report_json(self) -> str:
        metrics = {
            "durationMs": self.duration_ms or 0,
            "billedDurationMs": self.billed_duration_ms or 0,
            "memorySizeMB": self.memory_size_mb,
            "maxMemoryUsedMB": self.max_memory_used_mb or 0,
        }
        if self.init_duration_ms is not None:
            metrics["initDurationMs"] = self.init_duration_ms
        record = {"requestId": str(self.request_id), "metrics": metrics, "status": "success"}
        if self.status == "timed_out":
            record["status"] = "timeout"
        elif self.status == "out_of_memory":
            record.update(status="error", errorType="Runtime.OutOfMemory")
        elif self.status != "succeeded":
            record["status"] = "error"
        moment = self.finished_at or timezone.now()
        stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{moment.microsecond // 1000:03d}Z"
        )
        return json.dumps({"time": stamp, "type": "platform.report", "record": record},
                          separators=(",", ":"))

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


class Environment(models.Model):
    """A container on one node: generic (started, no function yet) or
    serving one function revision, one invocation at a time. Written when
    it starts, is specialised and is removed; which environments are idle
    or busy right now lives in Redis (invocations.pool), so a warm call
    writes nothing here."""

    STATES = [("generic", "Generic"), ("ready", "Ready")]
    id = models.CharField(max_length=32, primary_key=True)
    node = models.CharField(max_length=64, db_index=True, default="")
    runtime = models.CharField(max_length=20, default="python3.11")
    function = models.ForeignKey(Function, on_delete=models.SET_NULL, null=True, related_name="environments")
    revision = models.UUIDField(null=True, db_index=True)
    memory_mb = models.PositiveIntegerField(default=128)
    container_id = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=10, choices=STATES, default="generic")
    created_at = models.DateTimeField(default=timezone.now)
    specialised_at = models.DateTimeField(null=True, blank=True)
    # Kept initialised by provisioned concurrency: "<config id>:<version>"
    # (invocations.provisioning); "" for an on-demand one.
    provisioned_for = models.CharField(max_length=40, blank=True, default="", db_index=True)
    # Set by the reaper when it first finds the environment neither idle,
    # busy nor generic in Redis (e.g. Redis restarted); cleared when seen.
    orphan_since = models.DateTimeField(null=True, blank=True)


class Worker(models.Model):
    """A worker process's heartbeat: it claims async rows and runs sync
    calls. One whose heartbeat stops is gone, and the rows it held running
    are failed attempts (Runtime.WorkerLost), retried by their policy."""

    id = models.CharField(max_length=100, primary_key=True)
    node = models.CharField(max_length=64)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now, db_index=True)


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
    """Lambda's async settings of one qualifier of a function ($LATEST, a
    version "3" or an alias name): retries, maximum event age and
    destinations (ARNs of a function, topic or queue of the same team).
    An event uses the row of the qualifier it was invoked with; without one
    it gets the defaults (invocations.delivery)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="event_invoke_configs")
    # "$LATEST" for the unqualified function; rows from before qualifiers are that.
    qualifier = models.CharField(max_length=128, default="$LATEST")
    maximum_retry_attempts = models.PositiveSmallIntegerField(default=2)
    maximum_event_age_s = models.PositiveIntegerField(default=21600)
    on_success = models.CharField(max_length=350, blank=True)
    on_failure = models.CharField(max_length=350, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function", "qualifier"], name="eic_one_per_qualifier"),
        ]


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
