"""Lambda's OnFailure record of a stream batch it gave up on, and its
delivery to the mapping's DestinationConfig.OnFailure (an SQS queue, an
SNS topic or a function, through invocations.destinations).

Shape (Lambda Developer Guide, "Retain discarded batch records for a
Kinesis Data Streams event source"; DynamoDB's has `DDBStreamBatchInfo`):

    {"requestContext": {"requestId", "functionArn", "condition":
        "RetryAttemptsExhausted" | "RecordAgeExceeded", "approximateInvokeCount"},
     "responseContext": {"statusCode", "executedVersion", "functionError"},
     "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
     "KinesisBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
        "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
        "batchSize", "streamArn"}}

The records themselves are not included, as in Lambda: the consumer reads
them from the stream by the sequence range. `responseContext` is left out
when no call reached the function, and when the last call ran no version
because the mapping's version or alias did not exist (Lambda retries such
a batch "before invocation" until MaximumRecordAgeInSeconds, so its record
reads condition RecordAgeExceeded, approximateInvokeCount the calls that
did reach the function - 0 when the alias was gone from the start)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from invocations import destinations
from mappings.models import EventSourceMapping
from mappings.sources import Record
from mappings.stream_batches import sequence_text

BATCH_INFO = {"kinesis": "KinesisBatchInfo", "dynamodb": "DDBStreamBatchInfo"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def record(
    mapping: EventSourceMapping, shard_id: str, batch: list[Record], *, condition: str,
    invokes: int, status: str = "", error: dict | None = None,
    executed_version: str = "$LATEST", now: datetime | None = None,
) -> dict:
    """The failure record of `batch` (in order, non-empty). `condition`:
    "RetryAttemptsExhausted" or "RecordAgeExceeded"; `invokes`: calls that
    included the batch; `status`/`error`: the last call's Done fields."""
    body = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": mapping.function_arn,  # with the mapping's version or alias
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
    }
    if invokes and status and executed_version:
        # Left out when the last call ran no version (its version or alias
        # did not exist: Done.executed_version ""): no statusCode 200 or
        # executedVersion from a call that never ran.
        reached = status not in ("throttled", "cancelled")
        body["responseContext"] = {
            "statusCode": 200 if reached else 429,
            "executedVersion": executed_version,
            "functionError": "Unhandled" if error and reached else "",
        }
    body["version"] = "1.0"
    body["timestamp"] = _iso(now or datetime.now(UTC))
    body[BATCH_INFO.get(mapping.kind, "KinesisBatchInfo")] = {
        "shardId": shard_id,
        "startSequenceNumber": sequence_text(batch[0]),
        "endSequenceNumber": sequence_text(batch[-1]),
        "approximateArrivalOfFirstRecord": _iso(batch[0].arrival),
        "approximateArrivalOfLastRecord": _iso(batch[-1].arrival),
        "batchSize": len(batch),
        "streamArn": mapping.event_source_arn,
    }
    return body


def send(mapping: EventSourceMapping, body: dict) -> None:
    """Deliver to the mapping's OnFailure destination, if it has one. A
    destination that no longer exists is logged and skipped
    (destinations.send): the batch is discarded either way, as in Lambda."""
    if not mapping.on_failure_arn:
        return
    destinations.send(
        mapping.function.team, mapping.on_failure_arn, body,
        source_request_id=body["requestContext"]["requestId"], priority=mapping.priority,
    )
