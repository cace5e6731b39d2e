"""Benchmark a whole Stratus against its baselines and a peer: ``python -m bench.run``.

Measures, in one run,

  * a bare ``docker run`` of the runtime image (the floor for a cold start),
  * the peer, serverless-offline (bench/peer.py), when node and npm are
    there: its Lambda Invoke port and its httpApi route, with the same
    clients as Stratus's (then stopped, so the two never share the CPU),
  * a whole Stratus of its own (tests/stack.py: redis-server, daphne, a
    Celery worker with concurrency 8, beat) on free ports:
    a bare Celery round trip (``invocations.noop``) on its Redis/worker;
    cold sync Invoke; warm sync Invoke with a minimal SigV4-signed HTTP
    client (the ratios' numbers) and with boto3; an HTTP route; the first
    call of brand-new functions; the delay of a live log line to the
    console's websocket; the memory of an idle execution environment,
  * throughput of 8 concurrent keep-alive clients for a fixed duration,
  * S3, SQS, SNS and DynamoDB through boto3, moto's server mode measured
    beside Stratus in the same run, and an S3 event's delay to its
    function's start (bench/aws.py); a Kinesis record's delay to its mapped
    function's start, and 10,000 records' per-shard order through an event
    source mapping (bench/streams.py); ``--only aws`` runs just that part on
    a stack of its own and merges its keys into the existing results file,
  * per runtime (every one in settings.STRATUS_RUNTIMES, a starter function
    each: bench/per_runtime.py): warm_p50_ms_<runtime>, cold_p50_ms_<runtime>
    and pool_cold_p50_ms_<runtime>, on a stack of their own; ``--only
    runtimes`` (with ``--runtimes a,b``) runs just those and merges them,

writes bench/results.json and prints a table with the targets. Only loopback
traffic; everything it starts, it stops.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import aws, call_stages, cpu, dependencies, streams  # noqa: E402
from bench import peer as peer_mod  # noqa: E402
from bench import per_runtime  # noqa: E402
from bench.clients import RouteClient, SignedInvoker, pct, sequential, throughput, timed  # noqa: E402
from tests.integration.helpers import create, login  # noqa: E402
from tests.stack import Stack  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
HOST = "127.0.0.1"
CONCURRENCY = 8
TRIVIAL = "def handler(event, context):\n    return {}\n"
# The peer's GET /hello answers this body (bench/peers/.../handler.py);
# Stratus's route handler answers the same bytes.
ROUTE_BODY = peer_mod.EXPECT_GET
ROUTE_PATH = "/hello"
ROUTE_HANDLER = (
    "def handler(event, context):\n"
    f"    return {{'statusCode': 200, 'body': {ROUTE_BODY.decode()!r}}}\n"
)
LOGGER = '''import time


def handler(event, context):
    for i in range(event["lines"]):
        print(f"BENCHLOG {event['tag']} {i} {time.time():.6f}")
        time.sleep(event["gap"])
    return {}
'''
LOG_LINE = re.compile(r"BENCHLOG (\S+) (\d+) (\d+\.\d+)")
WHOAMI = "import socket\n\n\ndef handler(event, context):\n    return socket.gethostname()\n"

PEER_KEYS = [
    "peer_invoke_p50_ms", "peer_invoke_p99_ms", "peer_invoke_throughput_per_s",
    "peer_invoke_conc_p50_ms", "peer_route_p50_ms", "peer_route_seq_p50_ms",
    "peer_route_seq_p99_ms", "peer_route_throughput_per_s",
]
MOTO_KEYS = aws.keys("moto_")

# ratio name: (numerator, denominator, comparison, target)
RATIOS = {
    "warm_vs_celery_rt": ("warm_p50_ms", "celery_rt_p50_ms", "<=", 1.5),
    "cold_vs_docker_run": ("cold_p50_ms", "docker_run_p50_ms", "<=", 1.1),
    "throughput_vs_celery": ("warm_throughput_per_s", "celery_throughput_per_s", ">=", 0.7),
    "warm_vs_peer_invoke": ("warm_p50_ms", "peer_invoke_p50_ms", "<=", 2.0),
    "throughput_vs_peer_invoke": ("warm_throughput_per_s", "peer_invoke_throughput_per_s", ">=", 0.5),
    "route_vs_peer_route": ("route_warm_p50_ms", "peer_route_p50_ms", "<=", 2.0),
    "provisioned_first_vs_warm": ("provisioned_first_p50_ms", "warm_p50_ms", "<=", 1.5),
    "route_throughput_vs_peer_route": ("route_throughput_per_s", "peer_route_throughput_per_s", ">=", 0.5),
    # S3, SQS, SNS, DynamoDB through boto3: at least moto's server mode's throughput.
    **{f"{w}_throughput_vs_moto": (f"{w}_throughput_per_s", f"moto_{w}_throughput_per_s", ">=", 1.0)
       for w in aws.WORKLOADS},
}
# Every runtime's warm p50 within 1.2x python3.11's (bench/per_runtime.py).
from runtimes.build import all_runtimes  # noqa: E402

RATIOS.update(per_runtime.ratios(all_runtimes()))
# Ratios reported without a target: name: (numerator, denominator).
REPORTED_RATIOS = {f"{w}_p50_vs_moto": (f"{w}_p50_ms", f"moto_{w}_p50_ms") for w in aws.WORKLOADS}
# The first provisioned call after a 0.5 s pause against a warm call after the
# same pause: both sides idle first (provisioned_first_vs_warm compares the
# first call made amid warm calls with warm calls, as warm_p50_ms's are made).
REPORTED_RATIOS["provisioned_paused_vs_warm_paused"] = (
    "provisioned_first_after_pause_p50_ms", "warm_after_pause_p50_ms")
# key: (comparison, target, unit)
LIMITS = {
    "pool_cold_p50_ms": ("<=", 50.0, "ms"),
    "log_latency_p95_ms": ("<=", 100.0, "ms"),
    "idle_env_rss_mb": ("<=", 15.0, "MB"),
    "stream_event_to_start_p50_ms": ("<=", 100.0, "ms"),
}


class BenchStack(Stack):
    """The test stack with a worker of concurrency 8 and the production
    reconcile/requeue intervals (the tests' 1 s reconciler would add a
    database writer every second that a real install does not have)."""

    def __init__(self, **extra_env: str):
        super().__init__(**{
            "STRATUS_RECONCILE_INTERVAL": "30",
            "STRATUS_REQUEUE_AFTER": "60",
            # One team drives the whole machine here: Lambda's account
            # limit, not the default share that keeps lanes for other teams.
            "STRATUS_TEAM_CONCURRENCY": "1000",
            **extra_env,
        })

    def start_worker(self, concurrency: int = CONCURRENCY) -> None:
        super().start_worker(concurrency=concurrency)


POOL_SIZE = 2


def wait_for_pool(stack: Stack, image: str, timeout: float = 120) -> None:
    """Until the worker has its generic environments started and has
    settled: warm numbers measured while containers start are the
    containers' cost, not the warm path's."""
    import redis

    from tests.stack import DEFAULT_NODE

    client = redis.Redis(port=stack.redis_port)
    # The stack's worker is node DEFAULT_NODE (STRATUS_NODE), not this host's name.
    key = f"{stack.instance}:generic:{DEFAULT_NODE}:{image}"
    deadline = time.monotonic() + timeout
    while client.llen(key) < POOL_SIZE and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def machine_busy_pct(seconds: float) -> float:
    """How busy all CPUs were (%) over `seconds` (/proc/stat), before the
    bench starts anything: other work on the machine skews every number."""
    def ticks():
        with open("/proc/stat") as f:
            values = [int(x) for x in f.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values[:8]) - idle, sum(values[:8])
    busy0, total0 = ticks()
    time.sleep(seconds)
    busy1, total1 = ticks()
    return round(100 * (busy1 - busy0) / max(total1 - total0, 1), 1)


def attempt(label: str, results: dict, measure) -> None:
    """Run one of the newer measurements; if it fails, its keys are absent
    (null in the targets) and `failed` says why; the rest still runs."""
    try:
        measure()
    except Exception as e:
        say(f"{label} failed: {e!r}")
        results.setdefault("failed", {})[label] = repr(e)[:500]


def load(label: str, make_client, args, around=None) -> dict:
    say(f"{label}: {CONCURRENCY} keep-alive clients, {args.duration:g} s "
        f"after {args.warmup_seconds:g} s of warm-up")
    return throughput(make_client, CONCURRENCY, args.duration, args.warmup_seconds, say, around)


# --- baselines -----------------------------------------------------------------


def bench_docker_run(image: str, runs: int) -> float:
    cmd = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3",
           image, "-c", "pass"]

    def once():
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    once()  # warm-up
    return statistics.median(timed(once) for _ in range(runs))


def setup_celery(stack: Stack):
    """Point a Django/Celery in this process at the stack's Redis."""
    for k in [k for k in os.environ if k.startswith(("STRATUS_", "DJANGO_"))]:
        del os.environ[k]
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "STRATUS_DATA_DIR": str(stack.data_dir),
        "STRATUS_INSTANCE": stack.instance,
        "REDIS_URL": stack.env["REDIS_URL"],
        "STRATUS_LOG_LEVEL": "WARNING",
    })
    import django

    django.setup()
    import console.celery  # noqa: F401  (the app, configured from settings)
    from invocations.tasks import noop

    return noop


# --- the peer --------------------------------------------------------------------


def bench_peer(args, results: dict, meta: dict) -> None:
    """Fill the peer's keys, or set them to None with the reason."""
    peer = peer_mod.Peer(args.peer_src)
    reason = None if args.peer else "--no-peer was given"
    if reason is None:
        reason = peer.prepare(say)
    if reason is None:
        meta["peer"] = peer.versions()
        try:
            peer.start()
            say(f"peer serverless-offline: httpPort {peer.http_port}, lambdaPort {peer.lambda_port} "
                f"(pid {peer.proc.pid})")
            measure_peer(peer, args, results)
            meta["peer"]["handler_processes"] = peer.handler_processes()
        except Exception as e:
            reason = f"the peer failed: {e!r} (log: {peer.log_path})"
        finally:
            peer.stop()
    if reason is not None:
        say(f"no peer numbers: {reason}")
        for key in PEER_KEYS:
            results[key] = None
    results["peer_unavailable"] = reason


def measure_peer(peer, args, results: dict) -> None:
    def invoker(_i=0):
        # serverless-offline accepts any signature; signing costs the
        # client what it costs against Stratus.
        return SignedInvoker(HOST, peer.lambda_port, ("x", "x"), peer_mod.FUNCTION)

    def router(_i=0):
        return RouteClient(HOST, peer.http_port, peer_mod.ROUTE, ROUTE_BODY)

    say(f"peer Invoke, signed HTTP client ({args.runs} runs)")
    lat = sequential(invoker(), args.runs, args.warmup)
    results["peer_invoke_p50_ms"], results["peer_invoke_p99_ms"] = pct(lat, 50), pct(lat, 99)
    load_ = load("peer Invoke throughput", invoker, args)
    results["peer_invoke_throughput_per_s"] = load_["per_s"]
    results["peer_invoke_conc_p50_ms"] = load_["p50_ms"]

    say(f"peer route GET {peer_mod.ROUTE} ({args.runs} runs)")
    lat = sequential(router(), args.runs, args.warmup)
    results["peer_route_seq_p50_ms"], results["peer_route_seq_p99_ms"] = pct(lat, 50), pct(lat, 99)
    load_ = load("peer route throughput", router, args)
    results["peer_route_throughput_per_s"] = load_["per_s"]
    # The route p50 is the one under 8 keep-alive clients.
    results["peer_route_p50_ms"] = load_["p50_ms"]


# --- Stratus ------------------------------------------------------------------------


def make_client(stack: Stack, key: tuple[str, str]):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "lambda", endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key[0], aws_secret_access_key=key[1],
        config=Config(retries={"max_attempts": 0}, read_timeout=120,
                      max_pool_connections=4),
    )


def invoker(client, name: str):
    def call():
        resp = client.invoke(FunctionName=name, Payload=b"{}")
        body = resp["Payload"].read()
        if resp.get("FunctionError"):
            raise RuntimeError(f"function error: {body[:300]!r}")
        return body
    return call


def bench_cold(client, name: str, samples: int) -> list[float]:
    out = []
    call = invoker(client, name)
    for i in range(samples):
        client.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"BENCH_SAMPLE": f"{i}-{uuid.uuid4().hex[:6]}"}}
        )
        out.append(timed(call))
    return out


def function_uuid(stack: Stack, session, name: str) -> str:
    """A function's public id, from the console's function list."""
    page = session.get(f"{stack.url}/", timeout=60)
    page.raise_for_status()
    found = re.search(rf'href="/functions/([0-9a-f-]{{36}})/"[^>]*>\s*{re.escape(name)}\s*<', page.text)
    if not found:
        raise RuntimeError(f"function {name} is not on the console's function list")
    return found.group(1)


def add_route(stack: Stack, session, fn_id: str, method: str, path: str) -> None:
    """Add an HTTP route trigger the way the console's Triggers tab does."""
    url = f"{stack.url}/functions/{fn_id}/triggers/routes/"
    resp = session.post(url, data={
        "method": method, "path": path, "auth": "none", "priority": "normal",
    }, headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": url, "HX-Request": "true"},
        timeout=60)
    if resp.status_code != 200 or "Added the route" not in resp.text:
        raise RuntimeError(f"adding the route {method} {path} answered {resp.status_code}: {resp.text[:500]}")


def bench_route(stack: Stack, client, session, args, results: dict) -> None:
    name = "bench-route-" + uuid.uuid4().hex[:8]
    create(client, name, ROUTE_HANDLER, Timeout=10)
    add_route(stack, session, function_uuid(stack, session, name), "GET", ROUTE_PATH)
    path = "/http" + ROUTE_PATH

    def router(_i=0):
        return RouteClient(HOST, stack.port, path, ROUTE_BODY)

    say(f"HTTP route GET {path} ({args.runs} runs)")
    lat = sequential(router(), args.runs, args.warmup)
    results["route_seq_p50_ms"], results["route_seq_p99_ms"] = pct(lat, 50), pct(lat, 99)
    load_ = load("HTTP route throughput", router, args)
    results["route_throughput_per_s"] = load_["per_s"]
    # The route p50 is the one under 8 keep-alive clients.
    results["route_warm_p50_ms"] = load_["p50_ms"]


def bench_log_latency(stack: Stack, client, key, session, args) -> tuple[list[float], int]:
    """Delays (ms) from a print in a running function to the line's arrival
    at a websocket client of the function's live page, and the number of
    lines that never arrived. Stamps come from time.time() in the container
    and on this side: one machine, one clock."""
    from websockets.sync.client import connect

    name = "bench-log-" + uuid.uuid4().hex[:8]
    create(client, name, LOGGER, Timeout=60)
    fn_id = function_uuid(stack, session, name)
    call = SignedInvoker(HOST, stack.port, key, name)
    ws_url = stack.url.replace("http://", "ws://") + f"/ws/functions/{fn_id}/"
    headers = {"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": stack.url}
    delays: list[float] = []
    missing = 0
    with connect(ws_url, additional_headers=headers) as ws:
        for i in range(args.log_invocations + 1):  # the first warms the environment, untimed
            tag = f"{i}-{uuid.uuid4().hex[:6]}"
            payload = json.dumps({"tag": tag, "lines": args.log_lines, "gap": args.log_gap}).encode()
            failed: list[BaseException] = []

            def run(payload=payload, failed=failed):
                try:
                    call.invoke(name, payload)
                except BaseException as e:
                    failed.append(e)

            caller = threading.Thread(target=run, daemon=True)
            caller.start()
            seen: dict[int, float] = {}
            deadline = time.monotonic() + 60
            while len(seen) < args.log_lines and time.monotonic() < deadline:
                try:
                    message = ws.recv(timeout=max(0.05, deadline - time.monotonic()))
                except TimeoutError:
                    break
                arrived = time.time()
                for m in LOG_LINE.finditer(message):
                    # The finished fragment repeats every line: the first arrival counts.
                    if m.group(1) == tag and int(m.group(2)) not in seen:
                        seen[int(m.group(2))] = (arrived - float(m.group(3))) * 1000
            caller.join(timeout=120)
            if failed:
                raise failed[0]
            if i:
                delays.extend(seen.values())
                missing += args.log_lines - len(seen)
    return delays, missing


def vm_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a kernel thread


def bench_idle_rss(stack: Stack, client, key, session) -> dict:
    """RSS of one idle execution environment's processes, after warm calls.
    The function answers its container's host name, which Docker sets to
    the container id."""
    import docker

    name = "bench-rss-" + uuid.uuid4().hex[:8]
    create(client, name, WHOAMI, Timeout=10)
    call = SignedInvoker(HOST, stack.port, key, name)
    hosts = {json.loads(call()) for _ in range(3)}  # one cold, two warm: one environment
    call.close()
    engine = docker.from_env()
    try:
        container = engine.containers.get(hosts.pop())
    except docker.errors.NotFound:
        # A host name Docker did not set: find the function's container by label.
        fn_id = function_uuid(stack, session, name)
        found = engine.containers.list(filters={
            "label": [f"stratus.instance={stack.instance}", f"stratus.function={fn_id}"]})
        if len(found) != 1:
            raise RuntimeError(f"expected one environment of {name}, found {len(found)}")
        container = found[0]
    time.sleep(2)  # idle
    samples, pids = [], []
    for _ in range(3):
        top = container.top()
        col = top["Titles"].index("PID")
        pids = [int(row[col]) for row in top["Processes"]]
        samples.append(sum(vm_rss_kb(p) for p in pids) / 1024)
        time.sleep(0.5)
    return {"mb": statistics.median(samples), "pids": len(pids), "container": container.short_id}


def bench_pool_cold(stack: Stack, client, key, name_warm: str, samples: int, wait: float) -> list[float]:
    """The first call of brand-new functions, one each sample, `wait`
    seconds after it was created (time for a pre-warmed pool to refill)."""
    call = SignedInvoker(HOST, stack.port, key, name_warm)
    call()  # the connection is open before the first timed call
    out, names = [], []
    for i in range(samples):
        name = f"bench-pool-{i}-{uuid.uuid4().hex[:6]}"
        create(client, name, TRIVIAL, Timeout=10)
        names.append(name)
        time.sleep(wait)
        out.append(timed(lambda name=name: call.invoke(name, b"{}")))
    call.close()
    for name in names:
        client.delete_function(FunctionName=name)
    return out


def bench_provisioned_first(stack: Stack, client, key, name_warm: str, samples: int,
                            idle_warm: list[float] | None = None,
                            again: list[float] | None = None,
                            calls: call_stages.Calls | None = None,
                            reconnects: list[int] | None = None) -> list[float]:
    """The first call on a provisioned alias once its configuration is
    READY, one brand-new function (version 1, alias `live`, provisioned
    concurrency 1) per sample: Lambda's promise is that this call finds an
    initialised environment, as a warm call does. `idle_warm` (when given)
    gets, per sample, one warm call of `name_warm` timed after the same
    0.5 s pause: a warm call after a pause, not in a run of 300, for
    comparison (an untimed call of it first, after the provisioned call:
    the sample's CreateFunction dropped the web's copy of every function,
    and a timed read of its row would not be like for like); `again` (when
    given) a second call on the alias after another 0.5 s pause (the same
    path, no longer a first call). `calls` (when given) gets each timed
    call by kind, for the stage breakdown; `reconnects` how many timed
    first calls found the kept-alive connection closed by the server."""
    call = SignedInvoker(HOST, stack.port, key, name_warm)
    call()  # the connection is open before the first timed call
    out, names = [], []

    def note(kind: str) -> None:
        if calls is not None:
            calls.add(kind, call)

    for i in range(samples):
        name = f"bench-prov-{i}-{uuid.uuid4().hex[:6]}"
        _provisioned_alias(client, name, stack)
        names.append(name)
        time.sleep(0.5)  # the upkeep's writes settle; the call is then alone
        before = call.reconnects
        out.append(timed(lambda name=name: call.invoke(f"{name}:live", b"{}")))
        note("provisioned_first")
        if reconnects is not None:
            reconnects.append(call.reconnects - before)
        if idle_warm is not None:
            call()  # untimed: the web's copy of name_warm again (see above)
            time.sleep(0.5)
            idle_warm.append(timed(call))
            note("warm_after_pause")
        if again is not None:
            time.sleep(0.5)
            again.append(timed(lambda name=name: call.invoke(f"{name}:live", b"{}")))
            note("provisioned_second_after_pause")
    call.close()
    for name in names:
        client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        client.delete_function(FunctionName=name)
    return out


def _provisioned_alias(client, name: str, stack: Stack | None = None) -> None:
    """A brand-new function `name` (version 1, alias `live`, provisioned
    concurrency 1), once its configuration is READY (untimed) and, with
    `stack`, the node's pre-warmed pool is full again (PROVISION_POOL_WAIT)."""
    create(client, name, TRIVIAL, Timeout=10, Publish=True)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                              ProvisionedConcurrentExecutions=1)
    deadline = time.monotonic() + 120
    while client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")["Status"] != "READY":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the provisioned concurrency of {name} was not READY in 120 s")
        time.sleep(0.2)
    if stack is not None:
        settle(stack)


def settle(stack: Stack, timeout: float = 60) -> None:
    """Until the node's containers are what the bench keeps (the pre-warmed
    pool full again: provisioning took one of its environments, and the
    upkeep starts another within a second; the environments of deleted
    functions removed), as warm_p50_ms waits for the pool (wait_for_pool):
    a call timed while Docker starts or removes a container measures the
    container, not the call."""
    import docker
    import redis

    from runtimes.build import runtime_image
    from tests.stack import DEFAULT_NODE

    client = redis.Redis(port=stack.redis_port)
    key = f"{stack.instance}:generic:{DEFAULT_NODE}:{runtime_image('python3.11')}"
    engine = docker.from_env()
    label = f"stratus.instance={stack.instance}"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            full = client.llen(key) >= POOL_SIZE
            # Starting (created) and removing (exited, dead) containers are not running.
            changing = [c for status in ("created", "exited", "dead", "removing")
                        for c in engine.api.containers(all=True, filters={"label": label, "status": status})]
            if full and not changing:
                return
            time.sleep(0.1)
    finally:
        client.close()
        engine.close()


def provisioned_keys(after_pause: list[float], warm_after_pause: list[float],
                     in_stream: list[float]) -> dict:
    """The provisioned keys of the results. provisioned_first_p50_ms (the
    target's numerator, against warm_p50_ms) is the first call on a
    provisioned alias made amid warm calls, as warm_p50_ms's back-to-back
    calls are made: like for like. The same first call after a 0.5 s pause
    is reported beside it with a warm call after the same pause: on this
    machine every process is several times slower right after being idle
    (meta.provisioned.machine_pause_probe), which a back-to-back p50 never
    sees (bench/README.md, "The first call on a provisioned alias")."""
    return {
        "provisioned_first_p50_ms": statistics.median(in_stream),
        "provisioned_first_samples_ms": [round(x, 1) for x in in_stream],
        "provisioned_first_after_pause_p50_ms": statistics.median(after_pause),
        "provisioned_first_after_pause_samples_ms": [round(x, 1) for x in after_pause],
        "warm_after_pause_p50_ms": statistics.median(warm_after_pause),
    }


def bench_provisioned_in_stream(stack: Stack, client, key, name_warm: str, samples: int,
                                neighbours: list[float],
                                calls: call_stages.Calls | None = None) -> list[float]:
    """The first call on a brand-new provisioned alias made in a stream of
    warm calls, as warm_p50_ms's are made: after 50 back-to-back warm calls
    of `name_warm` (untimed), the alias's first call at once, then one more
    warm call (timed into `neighbours`: the warm call under the same
    conditions). A like-for-like peer of provisioned_first_p50_ms, whose
    call follows a 0.5 s pause (every process on the path idle)."""
    call = SignedInvoker(HOST, stack.port, key, name_warm)
    out, names = [], []
    settle(stack)  # the environments of the functions deleted before are gone
    for i in range(samples):
        name = f"bench-provs-{i}-{uuid.uuid4().hex[:6]}"
        _provisioned_alias(client, name, stack)
        names.append(name)
        time.sleep(0.5)  # the upkeep's writes settle, as for provisioned_first_p50_ms
        for _ in range(50):
            call()
        out.append(timed(lambda name=name: call.invoke(f"{name}:live", b"{}")))
        if calls is not None:
            calls.add("provisioned_first_in_stream", call)
        neighbours.append(timed(call))
        if calls is not None:
            calls.add("warm_next_in_stream", call)
    call.close()
    for name in names:
        client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        client.delete_function(FunctionName=name)
    return out


def bench_stratus(image: str, args, results: dict, meta: dict) -> None:
    say("starting a stack (redis, uvicorn, worker -c 8 without a pre-warmed pool, beat)")
    # First without the pre-warmed pool, so cold starts start containers.
    stack = BenchStack(STRATUS_POOL_SIZE="0")
    try:
        noop = setup_celery(stack)  # first: Stack.start reads the settings (STRATUS_RUNTIMES)
        stack.start()

        say(f"Celery noop round trip ({args.runs} runs)")
        rt = sequential(lambda: noop.delay().get(timeout=30), args.runs, args.warmup)
        results["celery_rt_p50_ms"] = pct(rt, 50)
        results["celery_rt_p99_ms"] = pct(rt, 99)

        key = stack.api_key()
        client = make_client(stack, key)
        name = "bench-" + uuid.uuid4().hex[:8]
        create(client, name, TRIVIAL, Timeout=10)

        say(f"cold Invoke ({args.cold} samples)")
        cold = bench_cold(client, name, args.cold)
        results["cold_p50_ms"] = statistics.median(cold)
        results["cold_samples_ms"] = [round(x, 1) for x in cold]

        say(f"restarting the worker with a pre-warmed pool of {POOL_SIZE} per runtime")
        stack.env["STRATUS_POOL_SIZE"] = str(POOL_SIZE)
        stack.stop_process("worker")
        stack.start_worker()
        wait_for_pool(stack, image)

        for label, prefix, make in [
            ("signed HTTP client", "warm", lambda _i=0: SignedInvoker(HOST, stack.port, key, name)),
            ("boto3", "warm_boto3", lambda _i=0: invoker(make_client(stack, key), name)),
        ]:
            say(f"warm Invoke, {label} ({args.runs} runs)")
            warm = sequential(make(), args.runs, args.warmup)
            results[f"{prefix}_p50_ms"] = pct(warm, 50)
            results[f"{prefix}_p99_ms"] = pct(warm, 99)
            # Where the time goes: CPU per call of each process, over the
            # measured window of the 8-client run (thousands of calls, so
            # the platform's periodic work weighs what it really does).
            snapshots: list = []

            def take(into=snapshots):
                into.append(cpu.snapshot(stack))

            around = (take, take) if prefix == "warm" else None
            load_ = load(f"warm Invoke throughput, {label}", make, args, around)
            if snapshots:
                results["warm_cpu_ms_per_call"] = cpu.per_call_ms(*snapshots, load_["calls"])
            results[f"{prefix}_throughput_per_s"] = load_["per_s"]
            results[f"{prefix}_conc_p50_ms"] = load_["p50_ms"]

        load_ = load("Celery noop throughput", lambda _i: (lambda: noop.delay().get(timeout=60)), args)
        results["celery_throughput_per_s"] = load_["per_s"]
        results["celery_conc_p50_ms"] = load_["p50_ms"]

        session = login(stack)
        attempt("HTTP route", results, lambda: bench_route(stack, client, session, args, results))

        def log_latency():
            say(f"live log delay to the websocket ({args.log_invocations} invocations x "
                f"{args.log_lines} lines, {args.log_gap * 1000:g} ms apart)")
            delays, missing = bench_log_latency(stack, client, key, session, args)
            results["log_latency_p50_ms"] = pct(delays, 50) if delays else None
            results["log_latency_p95_ms"] = pct(delays, 95) if delays else None
            results["log_lines_missing"] = missing

        attempt("log latency", results, log_latency)

        def idle_rss():
            say("idle environment RSS")
            rss = bench_idle_rss(stack, client, key, session)
            results["idle_env_rss_mb"] = rss["mb"]
            meta["idle_env"] = {"pids": rss["pids"], "container": rss["container"]}

        attempt("idle environment RSS", results, idle_rss)

        def pool_cold():
            say(f"first call of a brand-new function ({args.pool_cold} samples, "
                f"{args.pool_wait:g} s after its creation)")
            pool = bench_pool_cold(stack, client, key, name, args.pool_cold, args.pool_wait)
            results["pool_cold_p50_ms"] = statistics.median(pool)
            results["pool_cold_samples_ms"] = [round(x, 1) for x in pool]

        attempt("first call of a new function", results, pool_cold)

        def provisioned_first():
            say(f"first call on a provisioned alias once READY ({args.provisioned} samples)")
            idle_warm: list[float] = []
            first = bench_provisioned_first(stack, client, key, name, args.provisioned, idle_warm)
            neighbours: list[float] = []
            in_stream = bench_provisioned_in_stream(stack, client, key, name, args.provisioned, neighbours)
            results.update(provisioned_keys(first, idle_warm, in_stream))

        attempt("first call on a provisioned alias", results, provisioned_first)

        def dependency_build():
            say(f"dependency builds ({args.dependency_builds} samples)")
            dependencies.bench_dependency_build(stack, client, args.dependency_builds, results, say)

        if args.dependency_builds:
            attempt("dependency build", results, dependency_build)
        bench_aws_part(stack, key, args, results, meta)
    finally:
        say("stopping the stack")
        stack.stop()


# The labels under `failed` that the AWS part writes; `--only aws` drops
# the old ones before it merges its own.
AWS_LABEL = "AWS services beside moto"
AWS_FAILED = ("S3/SQS/SNS beside moto", AWS_LABEL, "streams", "stream ")


def bench_aws_part(stack: Stack, key, args, results: dict, meta: dict) -> None:
    if not args.aws:
        results["moto_unavailable"] = "--no-aws was given"
        return
    if args.aws_workloads:
        say(f"{', '.join(args.aws_workloads)} with boto3: moto's server mode, then Stratus, per workload")
        attempt(AWS_LABEL, results,
                lambda: aws.bench_aws(stack, key, CONCURRENCY, args, results, meta, say))
    if args.streams:
        say("Kinesis streams into functions through event source mappings")
        attempt("streams", results, lambda: streams.bench_streams(stack, key, args, results, say))
        meta.setdefault("aws", {})["streams"] = {
            "events": args.stream_events, "records": args.stream_records,
            "shards": args.stream_shards, "batch_size": args.stream_batch_size,
            "backlog": args.stream_backlog}


def only_aws(image: str, args, results: dict, meta: dict) -> None:
    """`--only aws`: a stack with the pre-warmed pool, and the AWS part alone."""
    say(f"starting a stack (redis, uvicorn, worker -c {CONCURRENCY} with a pre-warmed pool of "
        f"{POOL_SIZE}, beat)")
    stack = BenchStack(STRATUS_POOL_SIZE=str(POOL_SIZE))
    try:
        setup_celery(stack)  # first: Stack.start reads the settings (STRATUS_RUNTIMES)
        stack.start()
        wait_for_pool(stack, image)
        bench_aws_part(stack, stack.api_key(), args, results, meta)
    finally:
        say("stopping the stack")
        stack.stop()


# --- report -------------------------------------------------------------------------


def evaluate(results: dict) -> None:
    met: dict[str, bool | None] = {}
    for name, (num, den, op, target) in RATIOS.items():
        a, b = results.get(num), results.get(den)
        if a is None or b is None:
            results[name], met[name] = None, None
            continue
        ratio = a / b if b else float("inf")
        results[name] = round(ratio, 3)
        met[name] = ratio <= target if op == "<=" else ratio >= target
    for name, (num, den) in REPORTED_RATIOS.items():
        a, b = results.get(num), results.get(den)
        results[name] = None if a is None or not b else round(a / b, 3)
    for key, (op, target, _) in LIMITS.items():
        value = results.get(key)
        met[key] = None if value is None else (value <= target if op == "<=" else value >= target)
    results["targets_met"] = met


def _verdict(value: float | None, op: str, target: float, ok: bool | None, unit: str = "",
             missing: str = "not measured") -> str:
    if ok is None:
        return f"n/a ({missing})"
    if ok:
        return "yes"
    if op == "<=":
        return f"NO: {value / target:.2f}x the limit (+{value - target:.2f}{unit} over)"
    return f"NO: {value / target:.2f}x the minimum ({target - value:.2f}{unit} short)"


def _fmt(value, unit: str) -> str:
    if value is None:
        return f"{'n/a':>10}"
    return f"{value:>10d} {unit}" if isinstance(value, int) else f"{value:>10.1f} {unit}"


def table(results: dict) -> str:
    rows = [
        ("docker_run_p50_ms", "bare docker run, p50", "ms"),
        ("celery_rt_p50_ms", "Celery noop round trip, p50", "ms"),
        ("celery_rt_p99_ms", "Celery noop round trip, p99", "ms"),
        ("celery_throughput_per_s", f"Celery noop, {CONCURRENCY} clients", "/s"),
        ("cold_p50_ms", "cold sync Invoke, p50", "ms"),
        ("warm_p50_ms", "warm sync Invoke, p50", "ms"),
        ("warm_p99_ms", "warm sync Invoke, p99", "ms"),
        ("warm_throughput_per_s", f"warm Invoke, {CONCURRENCY} clients", "/s"),
        ("warm_conc_p50_ms", f"warm Invoke, {CONCURRENCY} clients, p50", "ms"),
        ("warm_boto3_p50_ms", "warm Invoke with boto3, p50", "ms"),
        ("warm_boto3_p99_ms", "warm Invoke with boto3, p99", "ms"),
        ("warm_boto3_throughput_per_s", f"boto3 Invoke, {CONCURRENCY} clients", "/s"),
        ("peer_invoke_p50_ms", "peer Invoke, p50", "ms"),
        ("peer_invoke_p99_ms", "peer Invoke, p99", "ms"),
        ("peer_invoke_throughput_per_s", f"peer Invoke, {CONCURRENCY} clients", "/s"),
        ("peer_invoke_conc_p50_ms", f"peer Invoke, {CONCURRENCY} clients, p50", "ms"),
        ("route_seq_p50_ms", "HTTP route, one client, p50", "ms"),
        ("route_seq_p99_ms", "HTTP route, one client, p99", "ms"),
        ("route_throughput_per_s", f"HTTP route, {CONCURRENCY} clients", "/s"),
        ("route_warm_p50_ms", f"HTTP route, {CONCURRENCY} clients, p50", "ms"),
        ("peer_route_seq_p50_ms", "peer route, one client, p50", "ms"),
        ("peer_route_seq_p99_ms", "peer route, one client, p99", "ms"),
        ("peer_route_throughput_per_s", f"peer route, {CONCURRENCY} clients", "/s"),
        ("peer_route_p50_ms", f"peer route, {CONCURRENCY} clients, p50", "ms"),
        ("pool_cold_p50_ms", "first call of a new function, p50", "ms"),
        ("provisioned_first_p50_ms", "first call on a provisioned alias, p50", "ms"),
        ("provisioned_first_after_pause_p50_ms", "  the same after a 0.5 s pause", "ms"),
        ("warm_after_pause_p50_ms", "  a warm call after the same pause", "ms"),
        ("dependency_build_s", "requirements.txt build, end to end", "s"),
        ("dependency_install_s", "requirements.txt build, pip alone", "s"),
        ("log_latency_p50_ms", "log line to websocket, p50", "ms"),
        ("log_latency_p95_ms", "log line to websocket, p95", "ms"),
        ("idle_env_rss_mb", "idle environment RSS", "MB"),
    ]
    for r in all_runtimes():
        rows += [
            (f"cold_p50_ms_{r}", f"{r}: cold sync Invoke, p50", "ms"),
            (f"warm_p50_ms_{r}", f"{r}: warm sync Invoke, p50", "ms"),
            (f"pool_cold_p50_ms_{r}", f"{r}: first call of a new function, p50", "ms"),
        ]
    for w in aws.WORKLOADS:
        for prefix, side in (("", "Stratus"), ("moto_", "moto")):
            rows += [
                (f"{prefix}{w}_seq_p50_ms", f"{side} {w}, one client, p50", "ms"),
                (f"{prefix}{w}_throughput_per_s", f"{side} {w}, {CONCURRENCY} clients", "/s"),
                (f"{prefix}{w}_p50_ms", f"{side} {w}, {CONCURRENCY} clients, p50", "ms"),
            ]
    rows += [
        ("s3_event_to_start_p50_ms", "S3 PutObject to function start, p50", "ms"),
        ("stream_event_to_start_p50_ms", "Kinesis PutRecord to start, p50", "ms"),
        ("stream_event_to_start_p99_ms", "Kinesis PutRecord to start, p99", "ms"),
        ("stream_put_record_p50_ms", "Kinesis PutRecord alone, p50", "ms"),
        ("stream_ordering_records", "ordering run: records put", ""),
        ("stream_ordering_lost", "ordering run: records lost", ""),
        ("stream_ordering_out_of_order", "ordering run: out of shard order", ""),
        ("stream_ordering_duplicates", "ordering run: delivered again", ""),
        ("stream_ordering_seconds", "ordering run: put to last batch end", "s"),
        ("stream_ordering_records_per_s", "ordering run: records processed", "/s"),
        ("stream_backlog_lost", "backlog run: records lost", ""),
        ("stream_backlog_out_of_order", "backlog run: out of shard order", ""),
        ("stream_backlog_duplicates", "backlog run: delivered again", ""),
        ("stream_backlog_seconds", "backlog run: mapping to last batch end", "s"),
        ("stream_backlog_records_per_s", "backlog run: records processed", "/s"),
    ]
    lines = [f"{'measure':<38}{'value':>13}"]
    lines += [f"{label:<38}{_fmt(results.get(key), unit)}" for key, label, unit in rows]
    if results.get("log_lines_missing"):
        lines.append(f"({results['log_lines_missing']} log lines never reached the websocket)")
    if results.get("warm_cpu_ms_per_call"):
        lines.append("")
        lines.append(f"where a warm sync Invoke's CPU goes (ms per call, {CONCURRENCY} clients)")
        for group, ms in results["warm_cpu_ms_per_call"].items():
            lines.append(f"  {group:<36}{ms:>9.3f} ms")
    for w, what in aws.WORKLOADS.items():
        for prefix, side in (("", "Stratus"), ("moto_", "moto")):
            spent = results.get(f"{prefix}{w}_cpu_ms_per_call")
            if spent:
                lines.append("")
                lines.append(f"CPU per {w} call on {side} ({what}; ms, {CONCURRENCY} clients)")
                lines += [f"  {group:<36}{ms:>9.3f} ms" for group, ms in spent.items()]
    for w in aws.WORKLOADS:
        ops = {side: results.get(f"{prefix}{w}_ops_seq_p50_ms") for prefix, side in (("", "Stratus"),
                                                                                    ("moto_", "moto"))}
        if any(ops.values()):
            lines.append("")
            lines.append(f"each request of a {w} call, one client, p50 (ms): Stratus / moto")
            for op in (ops["Stratus"] or ops["moto"]):
                a, b = ((ops[x] or {}).get(op) for x in ("Stratus", "moto"))
                lines.append(f"  {op:<36}{_fmt(a, 'ms')} / {_fmt(b, 'ms')}")
    if results.get("s3_event_stages_p50_ms"):
        lines.append("")
        lines.append("S3 PutObject to function start, p50 of each stage (ms)")
        lines += [f"  {stage:<36}{ms:>9.2f} ms" for stage, ms in results["s3_event_stages_p50_ms"].items()]
    if results.get("stream_event_stages_p50_ms"):
        lines.append("")
        lines.append("Kinesis PutRecord to function start, p50 of each stage (ms)")
        lines += [f"  {stage:<36}{ms:>9.2f} ms"
                  for stage, ms in results["stream_event_stages_p50_ms"].items()]
    for prefix, what in (("stream_ordering", "the ordering run (ms; put, poll, invoke, record)"),
                         ("stream_backlog", "the backlog run (ms; poll, invoke, record)")):
        if results.get(f"{prefix}_cpu_ms_per_record"):
            lines.append("")
            lines.append(f"CPU per record of {what}")
            lines += [f"  {group:<36}{ms:>9.3f} ms"
                      for group, ms in results[f"{prefix}_cpu_ms_per_record"].items()]
    for label, error in results.get("failed", {}).items():
        lines.append(f"{label} failed: {error}")
    if results.get("peer_unavailable"):
        lines.append(f"no peer numbers: {results['peer_unavailable']}")
    if results.get("moto_unavailable"):
        lines.append(f"no moto numbers: {results['moto_unavailable']}")
    busy = results.get("meta", {}).get("machine_busy_before_pct")
    if busy is not None and busy > 10:
        lines.append(f"note: the machine was {busy:g}% busy before the bench started; "
                     "other work skews every number")
    aws_busy = results.get("meta", {}).get("aws", {}).get("machine_busy_before_pct")
    if aws_busy is not None and aws_busy > 10:
        lines.append(f"note: the machine was {aws_busy:g}% busy before the AWS part (--only aws) "
                     "started; other work skews every number")
    met = results["targets_met"]
    lines.append("")
    lines.append(f"{'target':<34}{'value':>10}  {'target':<9} met")
    for name, (num, den, op, target) in RATIOS.items():
        value = results[name]
        shown = f"{'n/a':>10}" if value is None else f"{value:>10.2f}"
        missing = "no peer" if {num, den} & set(PEER_KEYS) and results.get("peer_unavailable") \
            else "no moto" if {num, den} & set(MOTO_KEYS) and results.get("moto_unavailable") \
            else "not measured"
        lines.append(
            f"{name:<34}{shown}  {op} {target:<6} {_verdict(value, op, target, met[name], '', missing)}"
        )
    for key, (op, target, unit) in LIMITS.items():
        value = results.get(key)
        shown = f"{'n/a':>10}" if value is None else f"{value:>10.1f}"
        lines.append(
            f"{key:<34}{shown}  {op} {target:<6g} {_verdict(value, op, target, met[key], ' ' + unit)}"
        )
    for name in REPORTED_RATIOS:
        value = results.get(name)
        shown = f"{'n/a':>10}" if value is None else f"{value:>10.2f}"
        lines.append(f"{name:<34}{shown}  (reported, no target)")
    return "\n".join(lines)


def _workloads(text: str) -> list[str]:
    chosen = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in aws.WORKLOADS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown workload(s) {', '.join(unknown)}; "
                                         f"choose from {', '.join(aws.WORKLOADS)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=300, help="timed sequential calls (Invoke, route, Celery)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed calls before them")
    ap.add_argument("--duration", type=float, default=10.0,
                    help=f"seconds of each {CONCURRENCY}-client throughput measurement")
    ap.add_argument("--warmup-seconds", type=float, default=2.0,
                    help="seconds of untimed load before each throughput measurement")
    ap.add_argument("--cold", type=int, default=10, help="cold-start samples")
    ap.add_argument("--docker-runs", type=int, default=10)
    ap.add_argument("--pool-cold", type=int, default=10, help="brand-new functions called once")
    ap.add_argument("--dependency-builds", type=int, default=3,
                    help="UpdateFunctionCode with a requirements.txt, each built (0 skips)")
    ap.add_argument("--pool-wait", type=float, default=2.0,
                    help="seconds between creating a new function and its first call")
    ap.add_argument("--provisioned", type=int, default=7,
                    help="brand-new provisioned aliases called once READY")
    ap.add_argument("--log-invocations", type=int, default=5, help="timed invocations of the log printer")
    ap.add_argument("--log-lines", type=int, default=20, help="lines each prints")
    ap.add_argument("--log-gap", type=float, default=0.025, help="seconds between its lines")
    ap.add_argument("--no-peer", dest="peer", action="store_false", help="skip serverless-offline")
    ap.add_argument("--peer-src", type=Path, default=peer_mod.DEFAULT_SOURCE,
                    help="the peer's folder to copy into bench/peers/ (default: %(default)s)")
    ap.add_argument("--aws-runs", type=int, default=200,
                    help="timed sequential calls of each AWS workload, on each side")
    ap.add_argument("--s3-events", type=int, default=20,
                    help="timed PutObjects into a bucket that notifies a function")
    ap.add_argument("--no-aws", dest="aws", action="store_false",
                    help="skip the AWS services, moto and the streams")
    ap.add_argument("--aws-workloads", type=_workloads, default=list(aws.WORKLOADS),
                    help=f"comma-separated, of {','.join(aws.WORKLOADS)} (default: all)")
    ap.add_argument("--stream-events", type=int, default=50,
                    help="timed PutRecords into a stream mapped to a function")
    ap.add_argument("--stream-records", type=int, default=10_000,
                    help="records of the ordering run (0: skip it)")
    ap.add_argument("--stream-shards", type=int, default=4, help="shards of the ordering run's stream")
    ap.add_argument("--stream-batch-size", type=int, default=100,
                    help="the ordering run's mapping BatchSize (Lambda's default for Kinesis)")
    ap.add_argument("--no-stream-backlog", dest="stream_backlog", action="store_false",
                    help="skip the second ordering run (the mapping made after the puts)")
    ap.add_argument("--no-streams", dest="streams", action="store_false",
                    help="skip the Kinesis measurements")
    ap.add_argument("--only", choices=["aws", "runtimes", "provisioned"],
                    help="run only this part on a stack of its own and merge its keys into --out")
    ap.add_argument("--runtimes", type=lambda t: [r.strip() for r in t.split(",") if r.strip()],
                    default=None,
                    help="comma-separated runtimes of the per-runtime part "
                    "(default: settings.STRATUS_RUNTIMES)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.only == "aws":
        return main_only_aws(args)
    if args.only == "runtimes":
        return main_only_runtimes(args)
    if args.only == "provisioned":
        return main_only_provisioned(args)

    from runtimes.build import runtime_image

    started = time.monotonic()
    load_before, busy_before = _machine_before()
    image = runtime_image("python3.11")
    results: dict = {}
    meta: dict = {}

    say(f"docker run of {image} ({args.docker_runs} runs)")
    results["docker_run_p50_ms"] = bench_docker_run(image, args.docker_runs)
    bench_peer(args, results, meta)
    bench_stratus(image, args, results, meta)
    attempt("per-runtime numbers", results, lambda: bench_each_runtime(args, results))

    _rounded(results)
    evaluate(results)
    results["meta"] = {
        "image": image, "cpus": os.cpu_count(), "worker_concurrency": CONCURRENCY,
        "runs": args.runs, "warmup": args.warmup, "cold_samples": args.cold,
        "throughput_clients": CONCURRENCY, "throughput_seconds": args.duration,
        "throughput_warmup_seconds": args.warmup_seconds,
        "pool_cold_samples": args.pool_cold, "pool_wait_seconds": args.pool_wait,
        "log_invocations": args.log_invocations, "log_lines": args.log_lines,
        "log_gap_seconds": args.log_gap,
        **meta,
        "loadavg_before": load_before,
        "machine_busy_before_pct": busy_before,
        "bench_seconds": round(time.monotonic() - started, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write(args.out, results)
    return 0


def _machine_before() -> tuple[list[float], float]:
    """The load averages and the busy percentage (over 1 s) before a run:
    anything else busy on the machine moves every number, so the results
    say so."""
    return [round(x, 2) for x in os.getloadavg()], machine_busy_pct(1.0)


def _write(out, results: dict) -> None:
    """`results` as JSON into `out`, and as the table on stdout."""
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {out}")


def _rounded(results: dict) -> None:
    for k, v in results.items():
        if isinstance(v, float):
            results[k] = round(v, 2)


def main_only_aws(args) -> int:
    """The AWS part alone; its keys replace theirs in --out (the other
    measurements keep the run they came from), `meta.aws` says when and on
    how busy a machine."""
    from runtimes.build import runtime_image

    started = time.monotonic()
    load_before, busy_before = _machine_before()
    image = runtime_image("python3.11")
    fresh: dict = {}
    meta: dict = {}
    only_aws(image, args, fresh, meta)
    _rounded(fresh)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    old_meta = results.pop("meta", {})
    results.pop("targets_met", None)
    failed = {k: v for k, v in results.pop("failed", {}).items()
              if not k.startswith(AWS_FAILED) and not k.startswith(("aws ", "moto "))}
    failed.update(fresh.pop("failed", {}))
    results.update(fresh)
    if failed:
        results["failed"] = failed
    evaluate(results)
    results["meta"] = {**old_meta, "aws": {
        **meta.get("aws", {}),
        "run": "--only aws (the other keys are from the run in meta.when)",
        "loadavg_before": load_before, "machine_busy_before_pct": busy_before,
        "seconds": round(time.monotonic() - started, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }}
    _write(args.out, results)
    return 0


def bench_each_runtime(args, results: dict) -> None:
    from runtimes.build import configured_runtimes

    runtimes = args.runtimes or configured_runtimes()
    per_runtime.bench_runtimes(BenchStack, make_client, runtimes, args, results, say)


def main_only_runtimes(args) -> int:
    """The per-runtime part alone; its keys replace theirs in --out,
    `meta.runtimes` says when and on how busy a machine."""
    started = time.monotonic()
    load_before, busy_before = _machine_before()
    fresh: dict = {}
    attempt("per-runtime numbers", fresh, lambda: bench_each_runtime(args, fresh))
    _rounded(fresh)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    old_meta = results.pop("meta", {})
    results.pop("targets_met", None)
    failed = {k: v for k, v in results.pop("failed", {}).items() if k != "per-runtime numbers"}
    failed.update(fresh.pop("failed", {}))
    results.update(fresh)
    if failed:
        results["failed"] = failed
    evaluate(results)
    results["meta"] = {**old_meta, "runtimes": {
        "run": "--only runtimes (the other keys are from the run in meta.when)",
        "runs": args.runs, "cold_samples": args.cold, "pool_cold_samples": args.pool_cold,
        "loadavg_before": load_before, "machine_busy_before_pct": busy_before,
        "seconds": round(time.monotonic() - started, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }}
    _write(args.out, results)
    return 0


def main_only_provisioned(args) -> int:
    """`--only provisioned`: on a stack of its own with the pre-warmed pool,
    the warm Invoke p50 and the first call on provisioned aliases, measured
    together; provisioned_first_p50_ms replaces its key in --out and
    `meta.provisioned` keeps this run's warm p50 beside it, the ratio of the
    two (`provisioned_first_vs_warm_same_run`), like-for-like peers and
    where the time goes: the stack writes every call's stage marks
    (STRATUS_CALL_MARKS, invocations.call_marks) and `stages` gives the p50
    of each stage per kind of call (bench.call_stages)."""
    import tempfile

    from runtimes.build import runtime_image

    image = runtime_image("python3.11")
    marks = Path(tempfile.mkdtemp(prefix="stratus-marks-")) / "marks.log"
    stack = BenchStack(STRATUS_POOL_SIZE=str(POOL_SIZE), STRATUS_CALL_MARKS=str(marks))
    fresh: dict = {}
    calls = call_stages.Calls()
    try:
        setup_celery(stack)  # first: Stack.start reads the settings (STRATUS_RUNTIMES)
        stack.start()
        wait_for_pool(stack, image)
        key = stack.api_key()
        client = make_client(stack, key)
        name = "bench-" + uuid.uuid4().hex[:8]
        create(client, name, TRIVIAL, Timeout=10)
        say(f"warm Invoke, signed HTTP client ({args.runs} runs)")
        invoker = SignedInvoker(HOST, stack.port, key, name)
        for _ in range(args.warmup):
            invoker()
        warm = []
        for _ in range(args.runs):
            warm.append(timed(invoker))
            calls.add("warm", invoker)
        invoker.close()
        say(f"first call on a provisioned alias once READY ({args.provisioned} samples)")
        idle_warm: list[float] = []
        again: list[float] = []
        reconnects: list[int] = []
        first = bench_provisioned_first(stack, client, key, name, args.provisioned, idle_warm, again,
                                        calls, reconnects)
        say(f"first call on a provisioned alias in a stream of warm calls ({args.provisioned} samples)")
        neighbours: list[float] = []
        in_stream = bench_provisioned_in_stream(stack, client, key, name, args.provisioned, neighbours, calls)
        say(f"first call of a new function, for comparison ({args.pool_cold} samples)")
        pool = bench_pool_cold(stack, client, key, name, args.pool_cold, args.pool_wait)
    finally:
        say("stopping the stack")
        stack.stop()
    stages = calls.table(marks)
    say("the machine alone: a signing and a process hop, back to back and after a 0.5 s pause")
    probe = call_stages.machine_pause_probe()
    fresh.update(provisioned_keys(first, idle_warm, in_stream))
    _rounded(fresh)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.pop("targets_met", None)
    results.update(fresh)
    evaluate(results)
    warm_p50 = pct(warm, 50)
    results.setdefault("meta", {})["provisioned"] = {
        "run": "--only provisioned", "warm_p50_ms_same_run": round(warm_p50, 2),
        # The ratio with both sides from this run (provisioned_first_vs_warm
        # in targets divides by whatever warm_p50_ms --out holds).
        "provisioned_first_vs_warm_same_run": round(fresh["provisioned_first_p50_ms"] / warm_p50, 2),
        "pool_cold_p50_ms_same_run": round(statistics.median(pool), 2),
        "warm_after_pause_p50_ms_same_run": round(statistics.median(idle_warm), 2),
        "provisioned_second_after_pause_p50_ms_same_run": round(statistics.median(again), 2),
        "provisioned_first_after_pause_vs_warm_after_pause_same_run": round(
            statistics.median(first) / statistics.median(idle_warm), 2),
        "provisioned_first_after_pause_vs_warm_same_run": round(statistics.median(first) / warm_p50, 2),
        "warm_next_in_stream_p50_ms_same_run": round(statistics.median(neighbours), 2),
        "first_calls_that_reconnected": sum(reconnects),
        "stages": stages,
        "machine_pause_probe": probe,
        "loadavg": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write(args.out, results)
    say("where the time goes (p50 of each stage; p50s need not add up):")
    for line in call_stages.lines(stages):
        print(line, flush=True)
    say(f"the machine alone (no server): SigV4 signing {probe['sign_back_to_back_ms']} ms back to back, "
        f"{probe['sign_after_pause_ms']} ms after a 0.5 s pause; a process hop "
        f"{probe['hop_back_to_back_ms']} ms / {probe['hop_after_pause_ms']} ms")
    say(f"first call on a provisioned alias amid warm calls p50 {fresh['provisioned_first_p50_ms']} ms "
        f"(the warm call after it {statistics.median(neighbours):.2f} ms); in the same run warm p50 "
        f"{warm_p50:.2f} ms (ratio {fresh['provisioned_first_p50_ms'] / warm_p50:.2f}, target <= 1.5); "
        f"after a 0.5 s pause: the first provisioned call p50 {statistics.median(first):.2f} ms, "
        f"a warm call p50 {statistics.median(idle_warm):.2f} ms, "
        f"the alias's second call p50 {statistics.median(again):.2f} ms; "
        f"first call of a new function p50 {statistics.median(pool):.2f} ms; "
        f"{sum(reconnects)} of {len(reconnects)} first calls reconnected")
    shutil.rmtree(marks.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
