"""Per-minute metric buckets: one row per function, qualifier and minute.

Rows outlive their function (a bill does not vanish with a deleted
function), so they carry the team and the function's id and name rather
than a foreign key to the function. The installation's totals are the sum
over rows; per team, over the team's rows."""

from django.db import models

from functions.models import Team


class MetricMinute(models.Model):
    """What finished in one UTC minute (`minute`: its first second) for one
    function (`function_id`, `function_name`) and qualifier
    (`qualifier`: "$LATEST", a version or an alias).

    Counts: `invocations` (calls that ran, whatever their outcome; a
    throttled call is not one, as in CloudWatch's Lambda Invocations),
    `errors_failed`, `errors_timed_out`, `errors_out_of_memory`, `throttles`,
    `cold_starts`. Durations: `duration_ms_sum` (ms), `durations` (a
    histogram, metrics.histogram: {bucket index as text: count}),
    `duration_ms_min` / `duration_ms_max` (ms, the shortest and longest
    duration recorded; None when none was, or for minutes kept before
    they were: metrics.series clamps percentiles to them),
    `billed_ms_sum` (ms, after the billing rounding), `gb_seconds`
    (billed seconds x memory GB). `concurrency_max`: the most executions
    running at once that were seen in the minute; `team_concurrency_max`
    and `installation_concurrency_max`: the same for all of the function's
    team and the whole installation, seen when this function's calls
    finished (a team's or the installation's figure for a minute is the
    largest over its rows of that minute)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="metric_minutes")
    function_id = models.UUIDField()
    function_name = models.CharField(max_length=64)
    qualifier = models.CharField(max_length=129, default="$LATEST")
    minute = models.DateTimeField()
    invocations = models.PositiveBigIntegerField(default=0)
    errors_failed = models.PositiveBigIntegerField(default=0)
    errors_timed_out = models.PositiveBigIntegerField(default=0)
    errors_out_of_memory = models.PositiveBigIntegerField(default=0)
    throttles = models.PositiveBigIntegerField(default=0)
    cold_starts = models.PositiveBigIntegerField(default=0)
    duration_ms_sum = models.FloatField(default=0.0)
    durations = models.JSONField(default=dict)
    duration_ms_min = models.FloatField(null=True, blank=True)
    duration_ms_max = models.FloatField(null=True, blank=True)
    billed_ms_sum = models.PositiveBigIntegerField(default=0)
    gb_seconds = models.FloatField(default=0.0)
    concurrency_max = models.PositiveIntegerField(default=0)
    team_concurrency_max = models.PositiveIntegerField(default=0)
    installation_concurrency_max = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function_id", "qualifier", "minute"], name="metric_minute_once"),
        ]
        indexes = [
            models.Index(fields=["minute"]),
            models.Index(fields=["team", "minute"]),
        ]

    def __str__(self) -> str:
        return f"{self.function_name}:{self.qualifier} {self.minute:%Y-%m-%d %H:%M}"

    @property
    def errors(self) -> int:
        return self.errors_failed + self.errors_timed_out + self.errors_out_of_memory


class MetricTotal(models.Model):
    """Everything ever recorded for one function and qualifier: the
    counters Prometheus scrapes (metrics.prometheus), which must never go
    down when old minutes are trimmed. Same fields and units as
    MetricMinute's sums; kept up to date by the same flush."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="metric_totals")
    function_id = models.UUIDField()
    function_name = models.CharField(max_length=64)
    qualifier = models.CharField(max_length=129, default="$LATEST")
    invocations = models.PositiveBigIntegerField(default=0)
    errors_failed = models.PositiveBigIntegerField(default=0)
    errors_timed_out = models.PositiveBigIntegerField(default=0)
    errors_out_of_memory = models.PositiveBigIntegerField(default=0)
    throttles = models.PositiveBigIntegerField(default=0)
    cold_starts = models.PositiveBigIntegerField(default=0)
    duration_ms_sum = models.FloatField(default=0.0)
    durations = models.JSONField(default=dict)
    billed_ms_sum = models.PositiveBigIntegerField(default=0)
    gb_seconds = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["function_id", "qualifier"], name="metric_total_once"),
        ]


class MetricFlush(models.Model):
    """A batch of Redis buckets added to the database, by its flush id:
    written in the same transaction as the batch, so a batch whose flusher
    died after committing is never added twice (metrics.flush)."""

    id = models.CharField(max_length=40, primary_key=True)
    applied_at = models.DateTimeField(auto_now_add=True, db_index=True)
