"""S3, SQS, SNS and DynamoDB through boto3, Stratus beside moto's server mode.

``MotoServer`` starts ``python -m moto.server`` (moto[server], pinned in
requirements-dev.txt) on a free loopback port and stops it by its PID.
``bench_aws()`` measures, for each workload, moto then Stratus right after
(so the two are measured a few seconds apart on the same machine), with the
same client code: boto3 clients made by ``boto3_client()`` (a fresh session
and client per worker, keep-alive connections, no retries), one call of a
workload being

* ``s3``: PutObject of 4 KB under a new key, then GetObject of it (the body
  must come back equal);
* ``sqs``: SendMessage of 128 bytes, ReceiveMessage (no wait), DeleteMessage,
  each worker on a queue of its own, so the message received must be the one
  sent;
* ``sns``: Publish of 128 bytes to a topic with no subscriptions (on both
  sides);
* ``dynamodb``: PutItem of an item of about 1 KB with every attribute type
  (a new sort key each call, each worker on a partition key of its own),
  then GetItem of it with ConsistentRead (it must come back equal).

It also times ``s3_event_to_start``: a boto3 PutObject into a Stratus bucket
whose notification runs a function, to that function's handler starting
(its own ``time.time()``, returned as its result and read from the
invocation's row; one host, one clock). Nothing is asserted; the numbers go
into the results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import cpu
from bench.clients import pct, sequential, throughput
from bench.listening import terminate, wait_listening

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "bench" / "peers" / "moto.log"
HOST = "127.0.0.1"
OBJECT_BYTES = 4 * 1024
MESSAGE = ("m" * 128)
ITEM_TEXT = "d" * 900
ITEM_BLOB = bytes(range(64))
SEQUENTIAL = 99  # the worker number of the one-client runs
WORKLOADS = {
    "s3": "PutObject + GetObject of 4 KB",
    "sqs": "SendMessage + ReceiveMessage + DeleteMessage",
    "sns": "Publish (a topic with no subscriptions)",
    "dynamodb": "PutItem + GetItem (ConsistentRead) of a 1 KB item",
}
# The keys one side writes per workload (prefix "" for Stratus, "moto_" for moto).
SUFFIXES = ["seq_p50_ms", "p50_ms", "p99_ms", "throughput_per_s"]
# What the two sides' clients are given: moto takes any key.
MOTO_KEY = ("testing", "testing")
HANDLER = (
    "import time\n\n\n"
    "def handler(event, context):\n"
    "    started = time.time()\n"
    "    return {'started': started, 'key': event['Records'][0]['s3']['object']['key']}\n"
)


def keys(prefix: str = "") -> list[str]:
    """Every result key of one side: `prefix` "" (Stratus) or "moto_"."""
    return [f"{prefix}{w}_{s}" for w in WORKLOADS for s in SUFFIXES]


def moto_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("moto")
    except Exception:  # noqa: BLE001 - not installed
        return None


class MotoServer:
    """moto's server mode on a free loopback port, as a child of the bench."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.url = ""

    def start(self, timeout: float = 60) -> None:
        from tests.stack import free_port

        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        LOG.parent.mkdir(parents=True, exist_ok=True)
        log = open(LOG, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        wait_listening(self.proc, HOST, (self.port,), timeout, "moto.server", LOG)

    def stop(self) -> None:
        """SIGTERM to its PID (moto exits on it), SIGKILL after 15 s."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        terminate(proc)


def boto3_client(service: str, url: str, key: tuple[str, str]):
    """A fresh session and client: the same settings against both sides."""
    import boto3
    from botocore.config import Config

    extra = {"signature_version": "s3v4", "s3": {"addressing_style": "path"}} if service == "s3" else {}
    return boto3.session.Session().client(
        service, endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=key[0], aws_secret_access_key=key[1],
        config=Config(retries={"max_attempts": 0}, read_timeout=120, **extra),
    )


def bench_item(partition: str, n: int) -> dict:
    """The DynamoDB workload's item (typed JSON, about 1.1 KB): every
    attribute type, numbers in DynamoDB's canonical text (GetItem answers
    them so), under key (`partition`, `n`)."""
    return {
        "pk": {"S": partition},
        "n": {"N": str(n)},
        "body": {"S": ITEM_TEXT},
        "amount": {"N": "12345.678"},
        "ok": {"BOOL": True},
        "none": {"NULL": True},
        "blob": {"B": ITEM_BLOB},
        "tags": {"SS": ["blue", "green", "red"]},
        "scores": {"NS": ["-1", "0.5", "7"]},
        "meta": {"M": {"worker": {"S": partition}, "list": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}]}}},
    }


def same_item(a, b) -> bool:
    """Whether two typed DynamoDB values (or items) are equal: sets (SS,
    NS, BS) compare as sets, since DynamoDB keeps no order in them."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        if len(a) == 1 and next(iter(a)) in ("SS", "NS", "BS"):
            (t,) = a
            return sorted(a[t]) == sorted(b[t]) and len(set(a[t])) == len(a[t])
        return all(same_item(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_item(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


class Side:
    """One server's resources for the workloads, and a factory of
    workers (each a callable doing one call of the workload)."""

    def __init__(self, name: str, url: str, key: tuple[str, str]):
        self.name, self.url, self.key = name, url, key
        self.run = uuid.uuid4().hex[:8]
        self.bucket = f"bench-aws-{self.run}"
        self.table = f"bench-aws-{self.run}"
        self.topic_arn = ""
        self.queues: list[str] = []
        # Each request's own milliseconds in the one-client run (worker 99)
        # of the workloads of more than one request, by operation.
        self.op_ms: dict[str, list[float]] = {}

    def setup(self, workload: str) -> None:
        """The resources of `workload`, made before its timing (on both
        sides alike)."""
        if workload == "s3":
            boto3_client("s3", self.url, self.key).create_bucket(Bucket=self.bucket)
        elif workload == "sns":
            self.topic_arn = boto3_client("sns", self.url, self.key).create_topic(
                Name=f"bench-aws-{self.run}")["TopicArn"]
        elif workload == "dynamodb":
            ddb = boto3_client("dynamodb", self.url, self.key)
            ddb.create_table(
                TableName=self.table, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "n", "AttributeType": "N"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "n", "KeyType": "RANGE"}],
            )
            ddb.get_waiter("table_exists").wait(TableName=self.table,
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    def worker(self, workload: str, i: int):
        if workload == "s3":
            s3 = boto3_client("s3", self.url, self.key)
            body = os.urandom(OBJECT_BYTES)
            count = [0]

            def call():
                count[0] += 1
                key = f"w{i}/{count[0]}"
                s3.put_object(Bucket=self.bucket, Key=key, Body=body)
                got = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                if got != body:
                    raise RuntimeError(f"GetObject {key} gave {len(got)} other bytes")
            return call
        if workload == "sqs":
            sqs = boto3_client("sqs", self.url, self.key)
            url = sqs.create_queue(QueueName=f"bench-aws-{self.run}-{len(self.queues)}")["QueueUrl"]
            self.queues.append(url)

            def call():
                sent = sqs.send_message(QueueUrl=url, MessageBody=MESSAGE)
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
                messages = got.get("Messages") or []
                if len(messages) != 1 or messages[0]["MessageId"] != sent["MessageId"]:
                    raise RuntimeError(f"ReceiveMessage gave {messages!r:.300}, not {sent['MessageId']}")
                sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return call
        if workload == "sns":
            sns = boto3_client("sns", self.url, self.key)

            def call():
                if not sns.publish(TopicArn=self.topic_arn, Message=MESSAGE).get("MessageId"):
                    raise RuntimeError("Publish answered no MessageId")
            return call
        if workload == "dynamodb":
            ddb = boto3_client("dynamodb", self.url, self.key)
            partition = f"w{i}-{uuid.uuid4().hex[:8]}"
            count = [0]

            def call():
                count[0] += 1
                item = bench_item(partition, count[0])
                t0 = time.perf_counter()
                ddb.put_item(TableName=self.table, Item=item)
                t1 = time.perf_counter()
                got = ddb.get_item(TableName=self.table, ConsistentRead=True,
                                   Key={"pk": item["pk"], "n": item["n"]}).get("Item")
                if i == SEQUENTIAL:
                    self.op_ms.setdefault("PutItem", []).append((t1 - t0) * 1000)
                    self.op_ms.setdefault("GetItem", []).append((time.perf_counter() - t1) * 1000)
                if not same_item(got, item):
                    raise RuntimeError(f"GetItem {partition}/{count[0]} gave {got!r:.300}")
            return call
        raise ValueError(workload)


def measure(side: Side, workload: str, clients: int, args, say, around=None) -> dict:
    """Sequential p50 (one client), then the throughput shape with `clients`;
    `ops_seq_p50_ms`: the p50 of each request of the one-client run, where
    a call makes more than one and they are timed (dynamodb)."""
    side.op_ms.clear()
    lat = sequential(side.worker(workload, SEQUENTIAL), args.aws_runs, args.warmup)
    # The timed calls' requests only (the warm-up's came first).
    ops = {op: round(pct(ms[-args.aws_runs:], 50), 2) for op, ms in side.op_ms.items()}
    say(f"{side.name} {workload}: {WORKLOADS[workload]}, {clients} boto3 clients, "
        f"{args.duration:g} s after {args.warmup_seconds:g} s of warm-up")
    load = throughput(lambda i: side.worker(workload, i), clients, args.duration,
                      args.warmup_seconds, say, around)
    return {"seq_p50_ms": pct(lat, 50), "p50_ms": load["p50_ms"], "p99_ms": load["p99_ms"],
            "throughput_per_s": load["per_s"], "calls": load["calls"], "errors": load["errors"],
            "ops_seq_p50_ms": ops}


def s3_event_to_start(stack, key: tuple[str, str], samples: int, say) -> dict:
    """PutObject (boto3) into a bucket notifying a function, to the
    handler's start, `samples` times one after another after one untimed
    event (the environment's cold start). Also splits each delay at the
    invocation row's `created_at` (written in PutObject's transaction) and
    `started_at` (the worker claimed it), and times PutObject's own answer. Needs Django set up on the
    stack's database (run.setup_celery)."""
    from invocations.models import Invocation
    from tests.integration.helpers import create

    name = "bench-s3event-" + uuid.uuid4().hex[:8]
    lam = boto3_client("lambda", stack.url, key)
    arn = create(lam, name, HANDLER, Timeout=10)["FunctionArn"]
    s3 = boto3_client("s3", stack.url, key)
    bucket = f"bench-events-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}],
    })
    body = os.urandom(OBJECT_BYTES)
    out: dict[str, list[float]] = {"total": [], "put_object": [], "to_row": [], "row_to_claim": [],
                                   "claim_to_handler": []}
    for i in range(samples + 1):
        object_key = f"event-{i}"
        before = time.time()
        s3.put_object(Bucket=bucket, Key=object_key, Body=body)
        answered = time.time()
        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline:
            row = Invocation.objects.filter(
                function__name=name, status__in=("succeeded", "failed", "timeout"),
                event__contains=f'"{object_key}"',
            ).values("status", "result", "created_at", "started_at", "error").first()
            if row:
                break
            time.sleep(0.01)
        if not row or row["status"] != "succeeded":
            raise RuntimeError(f"the event of {object_key} did not run the function: {row!r:.500}")
        result = json.loads(row["result"])
        if result["key"] != object_key:
            raise RuntimeError(f"the function saw {result['key']!r}, not {object_key!r}")
        if i == 0:
            continue  # the environment's cold start
        started = result["started"]
        created, claimed = row["created_at"].timestamp(), row["started_at"].timestamp()
        out["total"].append((started - before) * 1000)
        out["put_object"].append((answered - before) * 1000)
        out["to_row"].append((created - before) * 1000)
        out["row_to_claim"].append((claimed - created) * 1000)
        out["claim_to_handler"].append((started - claimed) * 1000)
    say(f"S3 event to handler start: {samples} events")
    return out


def snapshot_moto(moto: MotoServer, stack):
    """CPU of moto's process, the bench's client, and the idle Stratus
    stack (its periodic work goes on while moto is measured; shown, and
    left out of moto's total)."""
    groups = cpu.snapshot(stack)
    idle = {pid: t for name, pids in groups.items() if name != "client (bench)" for pid, t in pids.items()}
    return {"moto": {moto.proc.pid: cpu.process_cpu(moto.proc.pid)},
            "client (bench)": groups["client (bench)"],
            "stratus, idle": idle}


def bench_aws(stack, key: tuple[str, str], clients: int, args, results: dict, meta: dict, say) -> None:
    """Fill the keys of both sides for each of `args.aws_workloads` (moto's
    None with `moto_unavailable` when it cannot run), then
    `s3_event_to_start_*`. A workload that fails on one side leaves its
    keys of that side out and says why under `failed` ("aws <workload>"
    or "moto <workload>"); the others still run."""
    workloads = [w for w in WORKLOADS if w in getattr(args, "aws_workloads", WORKLOADS)]
    failed = results.setdefault("failed", {})
    stratus = Side("Stratus", stack.url, key)
    moto = MotoServer()
    reason = None if moto_version() else "moto is not installed (pip install -r requirements-dev.txt)"
    if reason is None and workloads:
        try:
            moto.start()
            say(f"moto {moto_version()} server mode on {moto.url} (pid {moto.proc.pid})")
            mside = Side("moto", moto.url, MOTO_KEY)
        except Exception as e:  # noqa: BLE001 - reported, Stratus still measured
            reason = f"moto.server failed: {e!r} (log: {LOG})"
            moto.stop()
    meta["aws"] = {"moto": moto_version(), "clients": clients, "runs": args.aws_runs,
                   "object_bytes": OBJECT_BYTES, "message_bytes": len(MESSAGE),
                   "workloads": {w: WORKLOADS[w] for w in workloads},
                   "moto_log": str(LOG.relative_to(ROOT))}
    try:
        for workload in workloads:
            if reason is None:
                try:
                    mside.setup(workload)
                    snaps: list = []
                    m = measure(mside, workload, clients, args, say, (
                        lambda s=snaps: s.append(snapshot_moto(moto, stack)),
                        lambda s=snaps: s.append(snapshot_moto(moto, stack))))
                    for suffix in SUFFIXES:
                        results[f"moto_{workload}_{suffix}"] = m[suffix]
                    spent = cpu.per_call_ms(*snaps, m["calls"])
                    # Stratus's background work is shown, not counted as moto's.
                    spent["total"] = round(spent["total"] - spent["stratus, idle"], 3)
                    results[f"moto_{workload}_cpu_ms_per_call"] = spent
                    if m["ops_seq_p50_ms"]:
                        results[f"moto_{workload}_ops_seq_p50_ms"] = m["ops_seq_p50_ms"]
                    meta["aws"][f"moto_{workload}_errors"] = m["errors"]
                except Exception as e:  # noqa: BLE001 - reported; Stratus still measured
                    say(f"moto {workload} failed: {e!r}")
                    failed[f"moto {workload}"] = repr(e)[:500]
            try:
                stratus.setup(workload)
                snaps = []
                s = measure(stratus, workload, clients, args, say, (
                    lambda s=snaps: s.append(cpu.snapshot(stack)),
                    lambda s=snaps: s.append(cpu.snapshot(stack))))
                for suffix in SUFFIXES:
                    results[f"{workload}_{suffix}"] = s[suffix]
                results[f"{workload}_cpu_ms_per_call"] = cpu.per_call_ms(*snaps, s["calls"])
                if s["ops_seq_p50_ms"]:
                    results[f"{workload}_ops_seq_p50_ms"] = s["ops_seq_p50_ms"]
                meta["aws"][f"{workload}_errors"] = s["errors"]
            except Exception as e:  # noqa: BLE001 - reported; the other workloads still run
                say(f"Stratus {workload} failed: {e!r}")
                failed[f"aws {workload}"] = repr(e)[:500]
    finally:
        moto.stop()
    if reason is not None:
        say(f"no moto numbers: {reason}")
        for k in keys("moto_"):
            results[k] = None
    results["moto_unavailable"] = reason
    if not failed:
        results.pop("failed")

    if "s3" in workloads:
        events = s3_event_to_start(stack, key, args.s3_events, say)
        results["s3_event_to_start_p50_ms"] = pct(events["total"], 50)
        results["s3_event_to_start_samples_ms"] = [round(x, 1) for x in events["total"]]
        results["s3_event_stages_p50_ms"] = {
            stage: round(pct(values, 50), 2) for stage, values in events.items() if stage != "total"}
