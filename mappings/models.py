"""Lambda's event source mappings: a function reading an SQS queue, a
Kinesis stream or a DynamoDB stream in batches, and where each stream
mapping has got to in each shard.

The source is named by its ARN only (`event_source_arn`), as in Lambda:
this app sits below the apps that own queues and streams (they register
their kind in `mappings.sources`), so it holds no foreign key to them. A
mapping whose source was deleted stays, and says so in
`last_processing_result`, as Lambda's does."""

import uuid

from django.db import models
from django.utils import timezone

from functions.models import Function
from invocations.models import PRIORITIES

KINDS = [("sqs", "SQS queue"), ("kinesis", "Kinesis stream"), ("dynamodb", "DynamoDB stream")]
# Lambda's EventSourceMapping State values.
STATES = [
    (s, s) for s in ("Creating", "Enabling", "Enabled", "Disabling", "Disabled", "Updating", "Deleting")
]
STARTING_POSITIONS = [(s, s) for s in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")]


class EventSourceMapping(models.Model):
    """One mapping, with Lambda's fields (CreateEventSourceMapping's names
    in the comments). -1 means "no limit" where Lambda uses it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # UUID
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="event_source_mappings")
    # The version or alias of FunctionName ("" : unqualified, $LATEST),
    # resolved at each batch (invocations.qualified).
    qualifier = models.CharField(max_length=128, blank=True)
    event_source_arn = models.CharField(max_length=1024)  # EventSourceArn
    kind = models.CharField(max_length=8, choices=KINDS)
    batch_size = models.PositiveIntegerField(default=10)  # BatchSize
    batching_window_s = models.PositiveIntegerField(default=0)  # MaximumBatchingWindowInSeconds
    enabled = models.BooleanField(default=True)  # Enabled
    state = models.CharField(max_length=10, choices=STATES, default="Enabled")  # State
    state_reason = models.CharField(max_length=256, default="USER_INITIATED")  # StateTransitionReason
    # The Celery priority of the invocations it submits (a Stratus setting).
    priority = models.CharField(max_length=6, choices=PRIORITIES, default="normal")
    # FilterCriteria: {"Filters": [{"Pattern": str}]}
    filter_criteria = models.JSONField(null=True, blank=True)
    function_response_types = models.JSONField(default=list, blank=True)  # ["ReportBatchItemFailures"]
    # ScalingConfig.MaximumConcurrency (SQS)
    max_concurrency = models.PositiveIntegerField(null=True, blank=True)
    # Streams only.
    # StartingPosition
    starting_position = models.CharField(max_length=12, choices=STARTING_POSITIONS, blank=True)
    starting_position_at = models.DateTimeField(null=True, blank=True)  # StartingPositionTimestamp
    parallelization_factor = models.PositiveSmallIntegerField(default=1)  # ParallelizationFactor
    max_retry_attempts = models.IntegerField(default=-1)  # MaximumRetryAttempts
    max_record_age_s = models.IntegerField(default=-1)  # MaximumRecordAgeInSeconds
    bisect_on_error = models.BooleanField(default=False)  # BisectBatchOnFunctionError
    tumbling_window_s = models.PositiveIntegerField(default=0)  # TumblingWindowInSeconds
    on_failure_arn = models.CharField(max_length=1024, blank=True)  # DestinationConfig.OnFailure.Destination
    # What the last batch did: LastProcessingResult ("OK", "PROBLEM: ..."),
    # and the last error's text for the Triggers tab.
    last_processing_result = models.CharField(max_length=256, default="No records processed")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)  # LastModified
    last_fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["event_source_arn"])]

    @property
    def function_arn(self) -> str:
        """FunctionArn: the function's ARN, with `:qualifier` when it has one."""
        from awsapi import arns

        fn = self.function
        return arns.function_arn(fn.team.account_id, fn.name, self.qualifier or None)

    @property
    def trigger(self) -> str:
        """`Invocation.trigger` of the invocations this mapping submits."""
        return f"event-source-mapping:{self.id}"


class ShardCheckpoint(models.Model):
    """The last sequence number a stream mapping finished in one shard
    (null: none yet; the mapping's StartingPosition decides where to
    begin). Written only after the batch's function call ended, so a
    restart resumes after the last finished batch: at-least-once."""

    mapping = models.ForeignKey(EventSourceMapping, on_delete=models.CASCADE, related_name="checkpoints")
    shard_id = models.CharField(max_length=128)
    sequence_number = models.DecimalField(max_digits=64, decimal_places=0, null=True, blank=True)
    # The shard's parent was finished and this shard's end reached (closed shards).
    finished = models.BooleanField(default=False)
    # The stream incarnation the row is about (mappings.sources.Shard.generation):
    # a stream deleted and created again under its ARN reuses shard ids, and a
    # row of the old one never applies to the new one (checkpoints.start).
    generation = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mapping", "shard_id"], name="one_checkpoint_per_shard")
        ]
