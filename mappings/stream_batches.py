"""The rules of one stream batch, as Lambda applies them to Kinesis and
DynamoDB stream mappings; pure (no Django, no Redis), so each rule is
tested on its own. mappings.stream_poller carries them out.

Sources of the rules (Lambda Developer Guide, "Using Lambda with Kinesis"
and "Retain discarded batch records for a Kinesis Data Streams event
source"):
- a batch holds up to BatchSize records of one shard, and no more than the
  6 MB synchronous payload limit;
- ReportBatchItemFailures: `{"batchItemFailures": [{"itemIdentifier": seq}]}`;
  an empty or null list (or no response) is a complete success; an empty,
  null or unknown itemIdentifier fails the whole batch; with several
  failures Lambda retries from the lowest sequence number;
- a function error is retried until MaximumRetryAttempts (-1: forever) or
  MaximumRecordAgeInSeconds (-1: forever) runs out; errors where the batch
  never reached the function (throttles, the platform's own) are retried
  until the age runs out only; with BisectBatchOnFunctionError a failed
  batch is split in two and "splitting a batch does not count towards the
  retry quota"."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mappings.sources import Record

# Lambda's synchronous payload limit (bytes of the event's JSON text).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# {"Records":[ ... ]}
_ENVELOPE_BYTES = len('{"Records":[]}')


def event_text(record: Record) -> str:
    """The record's entry of the event's `Records`, as JSON text."""
    return record.text


def sequence_text(record: Record) -> str:
    """The sequence number as the event carries it (Kinesis pads it with
    zeros): what a failure record and an itemIdentifier name."""
    event = record.event
    text = (event.get("kinesis") or {}).get("sequenceNumber") or (
        (event.get("dynamodb") or {}).get("SequenceNumber")
    )
    return str(text) if text else str(record.sequence_number)


def take(queue: list[Record], batch_size: int, max_bytes: int = MAX_PAYLOAD_BYTES) -> list[Record]:
    """The next batch from the head of `queue`: up to `batch_size` records
    whose event fits `max_bytes`; always at least one record (a single
    Kinesis record is at most 1 MB, a DynamoDB one 400 KB)."""
    batch: list[Record] = []
    size = _ENVELOPE_BYTES
    for record in queue[:batch_size]:
        grown = size + len(event_text(record)) + (1 if batch else 0)
        if batch and grown > max_bytes:
            break
        batch.append(record)
        size = grown
    return batch


def payload(batch: list[Record], extra: dict | None = None, identity: str | None = None) -> str:
    """The event's JSON text: `{"Records": [record.event, ...]}` (and, for
    a tumbling window, `extra`'s keys after it). `identity`: the function's
    execution role ARN, put in each record's `invokeIdentityArn` where the
    source has one (Kinesis), as Lambda does; None keeps the source's."""
    texts = [
        json.dumps({**r.event, "invokeIdentityArn": identity}, separators=(",", ":"))
        if identity and "invokeIdentityArn" in r.event else event_text(r)
        for r in batch
    ]
    text = '{"Records":[' + ",".join(texts) + "]"
    if extra:
        text += "," + json.dumps(extra, separators=(",", ":"))[1:-1]
    return text + "}"


def partition(record: Record, factor: int) -> int:
    """Which of the shard's `factor` ParallelizationFactor partitions the
    record belongs to: by its partition key (Kinesis) or its item's keys
    (DynamoDB), so records of one key stay in order."""
    if factor <= 1:
        return 0
    event = record.event
    if "kinesis" in event:
        key = str(event["kinesis"].get("partitionKey", ""))
    else:
        key = json.dumps((event.get("dynamodb") or {}).get("Keys") or {}, sort_keys=True)
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:8], "big") % factor


def window_of(record: Record, seconds: int) -> tuple[float, float]:
    """TumblingWindowInSeconds: the (start, end) epoch seconds of the window
    the record's arrival falls in; windows are aligned on multiples of
    `seconds` ("Lambda determines tumbling window boundaries based on the
    time when records were inserted into the stream")."""
    start = math.floor(record.arrival.timestamp() / seconds) * seconds
    return float(start), float(start + seconds)


def window_text(epoch: float) -> str:
    """A window bound as Lambda writes it: "2020-12-09T07:04:00Z"."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_state(result: str | None) -> dict | None:
    """The `state` object of a tumbling-window answer, or None without one."""
    try:
        answer = json.loads(result) if result else None
    except ValueError:
        return None
    state = answer.get("state") if isinstance(answer, dict) else None
    return state if isinstance(state, dict) else None


class MalformedReport(ValueError):
    """The function's batchItemFailures fail the whole batch (Lambda's rule)."""


def first_failed(result: str | None, batch: list[Record]) -> int | None:
    """With ReportBatchItemFailures: the index in `batch` to retry from
    (the lowest reported sequence number), or None when the whole batch
    succeeded. MalformedReport when the report fails the whole batch.
    `result`: the function's JSON result text."""
    try:
        answer = json.loads(result) if result else None
    except ValueError:
        return None  # not JSON: not a report; the call itself succeeded
    if not isinstance(answer, dict) or answer.get("batchItemFailures") is None:
        return None
    items = answer["batchItemFailures"]
    if not isinstance(items, list):
        raise MalformedReport("batchItemFailures is not a list")
    # By value: "00046" and "46" name the same Kinesis record.
    where = {r.sequence_number: i for i, r in enumerate(batch)}
    lowest = None
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident.isdigit() or int(ident) not in where:
            raise MalformedReport(f"itemIdentifier {ident!r} is not a sequence number of the batch")
        ident = int(ident)
        lowest = where[ident] if lowest is None else min(lowest, where[ident])
    return lowest


def reported(result: str | None) -> list[str]:
    """The itemIdentifiers of a well-formed batchItemFailures answer (for
    the Triggers tab's last error), in the function's order."""
    try:
        answer = json.loads(result) if result else None
    except ValueError:
        return []
    items = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    return [str(i["itemIdentifier"]) for i in items or [] if isinstance(i, dict) and "itemIdentifier" in i]


# Outcomes of one call, by Done.status / error type: whether the batch
# reached the function (a function error, counted as a retry) or not
# (throttled, no worker, the platform failed, or no version ran because the
# mapping's version or alias does not exist - Done.executed_version "": all
# retried until the age runs out, as Lambda retries an error "before
# invocation" - Developer Guide, "Retain discarded batch records for a
# Kinesis Data Streams event source").
NOT_REACHED_STATUSES = {"throttled", "cancelled"}
NOT_REACHED_ERRORS = {"ServiceUnavailable", "Runtime.WorkerLost", "TooManyRequestsException"}


def reached_function(status: str, error: dict | None, executed_version: str = "$LATEST") -> bool:
    """Whether a call's batch reached the function (Done's status, error
    and executed_version; "" when no version could run)."""
    if status in NOT_REACHED_STATUSES or not executed_version:
        return False
    return not (error and error.get("errorType") in NOT_REACHED_ERRORS)


def too_old(batch: list[Record], max_age_s: int, now: datetime) -> int:
    """MaximumRecordAgeInSeconds ("Discard records older than the specified
    age", per record): how many records from the head of `batch` are past
    it (-1: never). A shard's records arrive in sequence order, so the old
    ones are a prefix; the fresh ones after them are still delivered."""
    if max_age_s < 0:
        return 0
    count = 0
    for record in batch:
        if (now - record.arrival).total_seconds() <= max_age_s:
            break
        count += 1
    return count


def backoff_s(retry: int) -> float:
    """Wait before retry number `retry` (1, 2, ...): exponential from 0.5 s,
    at most 30 s (Lambda backs off without saying by how much)."""
    return min(0.5 * 2 ** max(retry - 1, 0), 30.0)


@dataclass
class Piece:
    """A part of a batch still to deliver: its records, how many calls
    included them (approximateInvokeCount), and how many retries after a
    function error it used (MaximumRetryAttempts; bisecting uses none)."""

    records: list[Record]
    invokes: int = 0
    retries: int = 0
    blocked: int = 0  # calls that never reached the function (throttled)
    last_status: str = ""
    last_error: dict | None = field(default=None)
    executed_version: str = "$LATEST"

    def halves(self) -> list[Piece]:
        """BisectBatchOnFunctionError: the two halves, each remembering the
        calls that included it."""
        middle = (len(self.records) + 1) // 2
        return [
            Piece(self.records[:middle], self.invokes),
            Piece(self.records[middle:], self.invokes),
        ]
