"""Kinesis streams into functions through event source mappings, on Stratus.

Two measurements, both with boto3 as the client (`bench.aws.boto3_client`)
and read back from the invocations' rows (the handlers return their own
``time.time()``; one host, one clock):

* ``stream_event_to_start``: a PutRecord into a one-shard stream mapped
  (StartingPosition LATEST, BatchSize 1, MaximumBatchingWindowInSeconds 0)
  to a function, to that function's handler starting; one record at a
  time, each waited for. Cut into stages by what is on the record and the
  row: the record's ``approximateArrivalTimestamp`` (stamped by PutRecord
  on the server), the row's ``created_at`` (the poller handed the batch to
  the sync-call lane) and ``started_at`` (a worker took it off the lane).
* ``stream_ordering``: `records` records put with PutRecords (batches of
  500, many partition keys) into a stream of `shards` shards mapped
  (TRIM_HORIZON) to a function that returns the shard id, sequence number
  and tag of every record it saw; ``check_ordering`` then counts records
  lost, delivered more than once, out of their shard's order, or seen in
  another shard than PutRecords said.

Nothing is asserted; the numbers go into the results. Needs Django set up
on the stack's database (bench.run.setup_celery).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable

from bench import cpu
from bench.aws import boto3_client
from bench.clients import pct

FINISHED = ("succeeded", "failed", "timeout")
# stream_event_to_start's stages, in order (stream_event_to_start says what each is).
STAGES = ("put_record", "to_arrival", "arrival_to_wake", "wake_to_push", "push_to_claim", "claim_to_handler")
START_HANDLER = (
    "import time\n\n\n"
    "def handler(event, context):\n"
    "    started = time.time()\n"
    "    return {'started': started, 'seqs': [r['kinesis']['sequenceNumber'] for r in event['Records']]}\n"
)
ORDER_HANDLER = '''import base64
import time


def handler(event, context):
    started = time.time()
    if "warm" in event:
        time.sleep(event["warm"])
        return {"warm": True}
    seen = []
    for r in event["Records"]:
        # eventID is "<shard id>:<sequence number>"
        seen.append([r["eventID"].rsplit(":", 1)[0], r["kinesis"]["sequenceNumber"],
                     base64.b64decode(r["kinesis"]["data"]).decode()[:TAG]])
    return {"started": started, "ended": time.time(), "records": seen}
'''
PUT_BATCH = 500  # PutRecords' own limit
PARTITION_KEYS = 1000
TAG_CHARS = 10  # "rec-000123"
RECORD_PAD = "x" * 90  # about 100 bytes a record


def tag_of(j: int) -> str:
    return f"rec-{j:06d}"


# --- the ordering check (pure) -----------------------------------------------------


def seq_key(seq: str):
    """Kinesis sequence numbers are decimal strings of big integers:
    compare them as numbers (shorter is smaller), anything else as text."""
    return (0, int(seq)) if seq.isdigit() else (1, seq)


def check_ordering(put: Iterable[tuple[str, str, str]],
                   batches: Iterable[tuple[float, Iterable[tuple[str, str, str]]]]) -> dict:
    """How a stream mapping delivered what was put.

    `put`: (tag, shard id, sequence number) of every record PutRecords
    accepted, in the order it accepted them; the tag (in the record's data)
    names one record. `batches`: (the handler's
    start time, [(shard id, sequence number, tag), ...] in the order the
    handler saw them) of every successful invocation. One batch is in flight
    per shard at a time, so ordering the batches by start time gives each
    shard's processing order.

    Returns counts: `records` (put), `processed` (distinct records seen),
    `lost` (put, never seen), `duplicates` (deliveries beyond the first:
    at-least-once allows them), `out_of_order` (a record delivered for
    the first time after a later record of its shard), `wrong_shard` (seen
    under another shard than PutRecords answered), `unknown` (seen but
    never put, or with another tag than its sequence number's record),
    `put_out_of_order` (PutRecords gave a record of a shard a lower
    sequence number than one it accepted before it), `shards` (records per
    shard)."""
    # By tag: sequence numbers are unique within a shard only.
    expected: dict[str, tuple[str, str]] = {}
    last_put: dict[str, tuple] = {}
    put_out_of_order = 0
    per_shard: Counter = Counter()
    for tag, shard, seq in put:
        expected[tag] = (shard, seq)
        per_shard[shard] += 1
        key = seq_key(seq)
        if shard in last_put and key <= last_put[shard]:
            put_out_of_order += 1
        last_put[shard] = key
    counts: Counter = Counter()
    highest: dict[str, tuple] = {}
    out_of_order = wrong_shard = unknown = 0
    for _, records in sorted(batches, key=lambda b: b[0]):
        for shard, seq, tag in records:
            if tag not in expected or expected[tag][1] != seq:
                unknown += 1
                continue
            counts[tag] += 1
            if expected[tag][0] != shard:
                wrong_shard += 1
            if counts[tag] > 1:
                continue  # delivered again (a retried batch): not an order break
            key = seq_key(seq)
            if shard in highest and key < highest[shard]:
                out_of_order += 1
            else:
                highest[shard] = key
    return {
        "records": len(expected),
        "processed": len(counts),
        "lost": len(expected) - len(counts),
        "duplicates": sum(c - 1 for c in counts.values()),
        "out_of_order": out_of_order,
        "wrong_shard": wrong_shard,
        "unknown": unknown,
        "put_out_of_order": put_out_of_order,
        "shards": dict(sorted(per_shard.items())),
    }


# --- setting up --------------------------------------------------------------------------


def wait_until(what: str, predicate, timeout: float = 60, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def make_stream(kinesis, name: str, shards: int) -> str:
    """A new stream, ACTIVE; its ARN."""
    kinesis.create_stream(StreamName=name, ShardCount=shards)

    def active():
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return summary["StreamARN"] if summary["StreamStatus"] == "ACTIVE" else None
    return wait_until(f"stream {name} ACTIVE", active)


def make_mapping(lam, function: str, stream_arn: str, **fields) -> str:
    """An event source mapping, waited for until Enabled; its UUID."""
    uid = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=function, **fields)["UUID"]
    wait_until(f"mapping {uid} Enabled",
               lambda: lam.get_event_source_mapping(UUID=uid)["State"] == "Enabled")
    return uid


def trigger_of(mapping_uuid: str) -> str:
    """`Invocation.trigger` of a mapping's invocations (mappings.models)."""
    return f"event-source-mapping:{mapping_uuid}"


def cleanup(lam, kinesis, mapping: str | None, stream: str | None) -> None:
    """Delete the mapping first so its pollers let go of the stream."""
    for action in (lambda: mapping and lam.delete_event_source_mapping(UUID=mapping),
                   lambda: stream and kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)):
        try:
            action()
        except Exception:  # noqa: BLE001 - best effort; the stack is thrown away anyway
            pass


# --- PutRecord to the handler's start ------------------------------------------------


def stream_event_to_start(stack, key: tuple[str, str], samples: int, say) -> dict[str, list[float]]:
    """Delays (ms) from just before PutRecord to the mapped handler's
    start, `samples` records one after another after a warm-up (records
    put every second until one ran the function: LATEST starts where the
    poller first looked, and the first run is the environment's cold
    start). Stages per record:

    * `put_record`: PutRecord's own round trip;
    * `to_arrival`: to the record's approximateArrivalTimestamp (the
      server's stamp in PutRecord);
    * `arrival_to_wake`: to the wake-up's arrival at a subscriber of the
      stream's channel in this process (mappings.wakeups: published once
      the write committed), so the commit and Redis's pub/sub;
    * `wake_to_push`: to the row's `created_at`: the poller's read of the
      shard and the batch handed to the sync-call lane;
    * `push_to_claim`: to the row's `started_at`, a worker took the call;
    * `claim_to_handler`: leasing the warm environment, the event over its
      socket, to the handler's first line.
    """
    from invocations.models import Invocation
    from tests.integration.helpers import create

    run = uuid.uuid4().hex[:8]
    name = f"bench-kinesis-start-{run}"
    lam = boto3_client("lambda", stack.url, key)
    kinesis = boto3_client("kinesis", stack.url, key)
    create(lam, name, START_HANDLER, Timeout=10)
    stream = mapping = None
    try:
        stream = f"bench-start-{run}"
        arn = make_stream(kinesis, stream, 1)
        mapping = make_mapping(lam, name, arn, StartingPosition="LATEST", BatchSize=1,
                               MaximumBatchingWindowInSeconds=0)
        trigger = trigger_of(mapping)
        rows = Invocation.objects.filter(trigger=trigger, status__in=FINISHED)

        def warmed():
            kinesis.put_record(StreamName=stream, Data=b"warm-up", PartitionKey="bench")
            return rows.filter(status="succeeded").exists()
        wait_until("a record put after the mapping was Enabled to run the function", warmed,
                   timeout=120, interval=1.0)
        time.sleep(1)  # the warm-up records still under way run first

        out: dict[str, list[float]] = {s: [] for s in ("total", *STAGES)}
        wakes = WakeListener(stack, arn)
        for i in range(samples):
            before = time.time()
            seq = kinesis.put_record(StreamName=stream, Data=f"sample-{i}".encode(),
                                     PartitionKey="bench")["SequenceNumber"]
            answered = time.time()
            row = wait_until(
                f"the record {seq} to run the function",
                lambda seq=seq: rows.filter(event__contains=seq).values(
                    "status", "result", "event", "created_at", "started_at", "error").first(),
                interval=0.01)
            if row["status"] != "succeeded":
                raise RuntimeError(f"the function failed on record {seq}: {row['error']!r:.500}")
            result = json.loads(row["result"])
            if seq not in result["seqs"]:
                raise RuntimeError(f"the function saw {result['seqs']!r:.300}, not {seq}")
            record = next(r for r in json.loads(row["event"])["Records"]
                          if r["kinesis"]["sequenceNumber"] == seq)
            arrival = float(record["kinesis"]["approximateArrivalTimestamp"])
            started = result["started"]
            pushed, claimed = row["created_at"].timestamp(), row["started_at"].timestamp()
            woken = wakes.first_after(before)
            out["total"].append((started - before) * 1000)
            out["put_record"].append((answered - before) * 1000)
            out["to_arrival"].append((arrival - before) * 1000)
            if woken is not None:  # a lost wake only delays the poller (its own look every second)
                out["arrival_to_wake"].append((woken - arrival) * 1000)
                out["wake_to_push"].append((pushed - woken) * 1000)
            out["push_to_claim"].append((claimed - pushed) * 1000)
            out["claim_to_handler"].append((started - claimed) * 1000)
        wakes.stop()
        say(f"Kinesis PutRecord to handler start: {samples} records")
        return out
    finally:
        cleanup(lam, kinesis, mapping, stream)


class WakeListener:
    """The arrival times (time.time()) of the wake-ups published on a
    stream's channel, heard by a subscriber thread of the bench's own."""

    def __init__(self, stack, arn: str):
        import redis

        from mappings.wakeups import channel

        self.times: list[float] = []
        self.pubsub = redis.Redis(port=stack.redis_port).pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel(arn))
        self.running = True
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while self.running:
            if self.pubsub.get_message(timeout=0.2) is not None:
                self.times.append(time.time())

    def first_after(self, t: float) -> float | None:
        return next((w for w in self.times if w >= t), None)

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.pubsub.close()


# --- ordering under load -----------------------------------------------------------------


def put_all(kinesis, stream: str, records: int, say) -> list[tuple[str, str, str]]:
    """PutRecords in batches of 500 over PARTITION_KEYS partition keys;
    entries it refused are put again (as a client must). Returns (tag,
    shard id, sequence number) in the order they were accepted."""
    accepted: list[tuple[str, str, str]] = []
    pending = list(range(records))
    tries = 0
    while pending:
        tries += 1
        if tries > 20 * (records // PUT_BATCH + 1):
            raise RuntimeError(f"PutRecords kept refusing {len(pending)} records")
        batch, pending = pending[:PUT_BATCH], pending[PUT_BATCH:]
        answer = kinesis.put_records(StreamName=stream, Records=[
            {"Data": (tag_of(j) + RECORD_PAD).encode(), "PartitionKey": f"key-{j % PARTITION_KEYS}"}
            for j in batch])
        refused = []
        for j, entry in zip(batch, answer["Records"], strict=True):
            if entry.get("ErrorCode"):
                refused.append(j)
            else:
                accepted.append((tag_of(j), entry["ShardId"], entry["SequenceNumber"]))
        if refused:
            say(f"  PutRecords refused {len(refused)} of {len(batch)} ({answer['Records'][0]!r:.200}...)")
            pending = refused + pending
            time.sleep(0.1)
    return accepted


def warm_environments(lam, name: str, count: int) -> None:
    """`count` environments of the function, started before the timing by
    overlapping sync invokes (each sleeps 0.5 s)."""
    failed: list[BaseException] = []

    def one():
        try:
            lam.invoke(FunctionName=name, Payload=b'{"warm": 0.5}')
        except BaseException as e:  # noqa: BLE001 - re-raised below
            failed.append(e)
    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if failed:
        raise failed[0]


def stream_ordering(stack, key: tuple[str, str], records: int, shards: int, batch_size: int,
                    say, backlog: bool = False, quiet_timeout: float = 60) -> dict:
    """`records` records into a stream of `shards` shards mapped
    (TRIM_HORIZON, BatchSize `batch_size`, no batching window) to a
    function that reports what it saw; waits until every record was seen
    or nothing new ran for `quiet_timeout` s. The mapping is made before
    the puts, so it reads while they go on, or with `backlog` after them,
    so it reads a full stream. Returns check_ordering's counts, `seconds`
    (from just before the first PutRecords, or with `backlog` the
    CreateEventSourceMapping, to the end of the last batch's handler),
    `put_seconds` (the PutRecords calls), `drain_seconds` (without
    `backlog`: the last batch's end after the last PutRecords),
    `invocations`, and `cpu_ms_per_record` (bench.cpu, over the puts and
    the processing, or with `backlog` the processing alone)."""
    from invocations.models import Invocation
    from tests.integration.helpers import create

    run = uuid.uuid4().hex[:8]
    name = f"bench-kinesis-order-{run}"
    lam = boto3_client("lambda", stack.url, key)
    kinesis = boto3_client("kinesis", stack.url, key)
    create(lam, name, ORDER_HANDLER.replace("TAG", str(TAG_CHARS)), Timeout=60)
    stream = mapping = None
    try:
        stream = f"bench-order-{run}"
        arn = make_stream(kinesis, stream, shards)
        warm_environments(lam, name, shards)

        def mapped():
            return make_mapping(lam, name, arn, StartingPosition="TRIM_HORIZON", BatchSize=batch_size,
                                MaximumBatchingWindowInSeconds=0)
        if not backlog:
            mapping = mapped()
        say(f"Kinesis ordering{' of a backlog' if backlog else ''}: {records} records over {shards} "
            f"shards, PutRecords of {PUT_BATCH}, BatchSize {batch_size}, the mapping made "
            f"{'after' if backlog else 'before'} the puts")
        before_cpu = cpu.snapshot(stack)
        t0 = time.time()
        put = put_all(kinesis, stream, records, say)
        put_seconds = time.time() - t0
        if backlog:
            before_cpu = cpu.snapshot(stack)
            t0 = time.time()
            mapping = mapped()
        rows = Invocation.objects.filter(trigger=trigger_of(mapping))

        batches: dict[str, tuple[float, float, list]] = {}
        failures: dict[str, str] = {}
        wanted = {tag for tag, _, _ in put}
        seen: set[str] = set()
        quiet_since = time.monotonic()
        while not wanted <= seen and time.monotonic() - quiet_since < quiet_timeout:
            time.sleep(0.25)
            done = {str(r) for r in rows.filter(status__in=FINISHED).values_list("request_id", flat=True)}
            fresh = sorted(done - batches.keys() - failures.keys())
            for row in (row for i in range(0, len(fresh), 500) for row in Invocation.objects.filter(
                    request_id__in=fresh[i:i + 500]).values("request_id", "status", "result", "error")):
                rid = str(row["request_id"])
                if row["status"] != "succeeded":
                    failures[rid] = f"{row['status']}: {row['error']!r:.300}"
                    continue
                result = json.loads(row["result"])
                batches[rid] = (result["started"], result["ended"], result["records"])
                seen.update(tag for _, _, tag in result["records"])
                quiet_since = time.monotonic()
        after_cpu = cpu.snapshot(stack)
        checked = check_ordering(put, [(b[0], b[2]) for b in batches.values()])
        ended = max((b[1] for b in batches.values()), default=time.time())
        checked.update({
            "seconds": ended - t0,
            "put_seconds": put_seconds,
            # How far processing trailed the puts: the last batch's end after
            # the last PutRecords answered.
            "drain_seconds": None if backlog else ended - (t0 + put_seconds),
            "invocations": len(batches),
            "failed_invocations": len(failures),
            "first_failure": next(iter(failures.values()), None),
            "cpu_ms_per_record": cpu.per_call_ms(before_cpu, after_cpu, max(checked["processed"], 1)),
        })
        say(f"  {checked['processed']} of {checked['records']} records seen in {checked['seconds']:.1f} s "
            f"({len(batches)} invocations), {checked['lost']} lost, "
            f"{checked['out_of_order']} out of order, {checked['duplicates']} again")
        return checked
    finally:
        cleanup(lam, kinesis, mapping, stream)


# --- into the results ------------------------------------------------------------------------



def bench_streams(stack, key: tuple[str, str], args, results: dict, say) -> None:
    """Fill `stream_event_to_start_*` and `stream_ordering_*`; a part that
    fails leaves its keys out and says why under `failed`."""
    failed = results.setdefault("failed", {})
    try:
        events = stream_event_to_start(stack, key, args.stream_events, say)
        results["stream_event_to_start_p50_ms"] = pct(events["total"], 50)
        results["stream_event_to_start_p99_ms"] = pct(events["total"], 99)
        results["stream_event_to_start_samples_ms"] = [round(x, 1) for x in events["total"]]
        results["stream_event_stages_p50_ms"] = {s: round(pct(events[s], 50), 2) for s in STAGES if events[s]}
        results["stream_put_record_p50_ms"] = pct(events["put_record"], 50)
    except Exception as e:  # noqa: BLE001 - reported; the ordering still runs
        say(f"stream event to start failed: {e!r}")
        failed["stream event to start"] = repr(e)[:500]
    if args.stream_records > 0:
        try:
            checked = stream_ordering(stack, key, args.stream_records, args.stream_shards,
                                      args.stream_batch_size, say)
            ordering(results, "stream_ordering", checked)
        except Exception as e:  # noqa: BLE001 - reported
            say(f"stream ordering failed: {e!r}")
            failed["stream ordering"] = repr(e)[:500]
    if args.stream_records > 0 and args.stream_backlog:
        try:
            checked = stream_ordering(stack, key, args.stream_records, args.stream_shards,
                                      args.stream_batch_size, say, backlog=True)
            ordering(results, "stream_backlog", checked)
        except Exception as e:  # noqa: BLE001 - reported
            say(f"stream backlog failed: {e!r}")
            failed["stream backlog"] = repr(e)[:500]
    if not failed:
        results.pop("failed")


def ordering(results: dict, prefix: str, checked: dict) -> None:
    """stream_ordering's answer as `<prefix>_*` keys."""
    for k in ("records", "lost", "out_of_order", "duplicates", "seconds"):
        results[f"{prefix}_{k}"] = checked[k]
    results[f"{prefix}_records_per_s"] = (
        checked["processed"] / checked["seconds"] if checked["seconds"] > 0 else None)
    results[f"{prefix}_cpu_ms_per_record"] = checked["cpu_ms_per_record"]
    results[f"{prefix}_detail"] = {
        k: (round(v, 2) if isinstance(v, float) else v) for k, v in checked.items()
        if k != "cpu_ms_per_record"}
