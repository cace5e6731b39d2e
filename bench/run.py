"""Benchmark a whole Stratus against its baselines: ``python -m bench.run``.

Starts its own stack (tests/stack.py: redis-server, daphne, a Celery worker
with concurrency 8, beat) on free ports, measures

  * a bare ``docker run`` of the runtime image (the floor for a cold start),
  * a bare Celery round trip (``invocations.noop``) on the same Redis/worker,
  * cold sync Invoke through the Lambda API with boto3,
  * warm sync Invoke with a minimal SigV4-signed HTTP client (the ratios'
    numbers) and with boto3 (reported beside them),
  * throughput of 8 concurrent clients for each,

writes bench/results.json and prints a table with the ratios against the
targets. Only loopback traffic; everything it starts, it stops.
"""

from __future__ import annotations

import argparse
import json
import os
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

from tests.integration.helpers import create  # noqa: E402
from tests.stack import Stack  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
CONCURRENCY = 8
TRIVIAL = "def handler(event, context):\n    return {}\n"

TARGETS = {
    # ratio name: (numerator, denominator, comparison, target)
    "warm_vs_celery_rt": ("warm_p50_ms", "celery_rt_p50_ms", "<=", 1.5),
    "cold_vs_docker_run": ("cold_p50_ms", "docker_run_p50_ms", "<=", 1.1),
    "throughput_vs_celery": ("warm_throughput_per_s", "celery_throughput_per_s", ">=", 0.7),
}


class BenchStack(Stack):
    """The test stack with a worker of concurrency 8 and the production
    reconcile/requeue intervals (the tests' 1 s reconciler would add a
    database writer every second that a real install does not have)."""

    def __init__(self, **extra_env: str):
        super().__init__(**{
            "STRATUS_RECONCILE_INTERVAL": "30",
            "STRATUS_REQUEUE_AFTER": "60",
            **extra_env,
        })

    def start_worker(self, concurrency: int = CONCURRENCY) -> None:
        super().start_worker(concurrency=concurrency)


def pct(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def timed(call) -> float:
    t0 = time.perf_counter()
    call()
    return (time.perf_counter() - t0) * 1000


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


# --- measurements ------------------------------------------------------------


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


def bench_celery_rt(noop, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        noop.delay().get(timeout=30)
    return [timed(lambda: noop.delay().get(timeout=30)) for _ in range(runs)]


def throughput(worker_fn, threads: int, per_thread: int) -> float:
    """Requests completed per second by `threads` threads doing `per_thread` calls each."""
    errors: list[BaseException] = []
    done = [0] * threads
    start = threading.Barrier(threads + 1)

    def body(i: int):
        call = worker_fn(i)
        start.wait()
        for _ in range(per_thread):
            try:
                call()
                done[i] += 1
            except BaseException as e:  # keep counting the others
                errors.append(e)

    pool = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join(timeout=600)
    elapsed = time.perf_counter() - t0
    if errors:
        say(f"  {len(errors)} calls failed, first: {errors[0]!r}")
    return sum(done) / elapsed


def make_client(stack: Stack, key: tuple[str, str]):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "lambda", endpoint_url=stack.url, region_name="us-east-1",
        aws_access_key_id=key[0], aws_secret_access_key=key[1],
        config=Config(retries={"max_attempts": 0}, read_timeout=120,
                      max_pool_connections=4),
    )


class SignedInvoker:
    """The leanest correct Lambda API client: one kept-alive HTTP connection
    and botocore's own SigV4 signer, so what is measured is the platform,
    not the SDK's request pipeline (boto3 spends ~1 ms of CPU per call
    before a byte is sent; its numbers are reported beside these)."""

    def __init__(self, stack: Stack, key: tuple[str, str], name: str):
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        self.url = stack.url
        self.port = stack.port
        self.signer = SigV4Auth(Credentials(*key), "lambda", "us-east-1")
        self.path = f"/2015-03-31/functions/{name}/invocations"
        self.conn = None

    def __call__(self) -> bytes:
        import http.client

        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=self.url + self.path, data=b"{}")
        self.signer.add_auth(request)
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.conn.request("POST", self.path, body=b"{}", headers=dict(request.headers))
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200 or response.getheader("X-Amz-Function-Error"):
            raise RuntimeError(f"Invoke answered {response.status}: {body[:300]!r}")
        return body


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


# --- report -------------------------------------------------------------------


def ratios(results: dict) -> None:
    met = {}
    for name, (num, den, op, target) in TARGETS.items():
        ratio = results[num] / results[den] if results[den] else float("inf")
        results[name] = round(ratio, 3)
        met[name] = ratio <= target if op == "<=" else ratio >= target
    results["targets_met"] = met


def table(results: dict) -> str:
    rows = [
        ("docker_run_p50_ms", "bare docker run, p50", "ms"),
        ("celery_rt_p50_ms", "Celery noop round trip, p50", "ms"),
        ("celery_rt_p99_ms", "Celery noop round trip, p99", "ms"),
        ("cold_p50_ms", "cold sync Invoke, p50", "ms"),
        ("warm_p50_ms", "warm sync Invoke, p50", "ms"),
        ("warm_p99_ms", "warm sync Invoke, p99", "ms"),
        ("warm_throughput_per_s", f"warm Invoke, {CONCURRENCY} clients", "/s"),
        ("warm_boto3_p50_ms", "warm Invoke with boto3, p50", "ms"),
        ("warm_boto3_p99_ms", "warm Invoke with boto3, p99", "ms"),
        ("warm_boto3_throughput_per_s", f"boto3 Invoke, {CONCURRENCY} clients", "/s"),
        ("celery_throughput_per_s", f"Celery noop, {CONCURRENCY} clients", "/s"),
    ]
    lines = [f"{'measure':<34}{'value':>12}"]
    lines += [f"{label:<34}{results[key]:>10.1f} {unit}" for key, label, unit in rows]
    lines.append("")
    lines.append(f"{'ratio':<34}{'value':>12}  {'target':<8} met")
    for name, (_, _, op, target) in TARGETS.items():
        ok = "yes" if results["targets_met"][name] else "NO"
        lines.append(f"{name:<34}{results[name]:>12.2f}  {op} {target:<5} {ok}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=300, help="timed warm / Celery round trips")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--cold", type=int, default=10, help="cold-start samples")
    ap.add_argument("--docker-runs", type=int, default=10)
    ap.add_argument("--per-thread", type=int, default=100, help="calls per client thread")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from runtimes.build import runtime_image

    image = runtime_image("python3.11")
    results: dict = {}

    say(f"docker run of {image} ({args.docker_runs} runs)")
    results["docker_run_p50_ms"] = bench_docker_run(image, args.docker_runs)

    say("starting a stack (redis, daphne, worker -c 8, beat)")
    stack = BenchStack()
    try:
        stack.start()
        noop = setup_celery(stack)

        say(f"Celery noop round trip ({args.runs} runs)")
        rt = bench_celery_rt(noop, args.warmup, args.runs)
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

        for label, prefix, make in [
            ("signed HTTP client", "warm", lambda: SignedInvoker(stack, key, name)),
            ("boto3", "warm_boto3", lambda: invoker(make_client(stack, key), name)),
        ]:
            say(f"warm Invoke, {label} ({args.runs} runs)")
            call = make()
            for _ in range(args.warmup):
                call()
            warm = [timed(call) for _ in range(args.runs)]
            results[f"{prefix}_p50_ms"] = pct(warm, 50)
            results[f"{prefix}_p99_ms"] = pct(warm, 99)

            n = args.per_thread
            clients = [make() for _ in range(CONCURRENCY)]
            # Warm one environment per client first, so no cold start is counted.
            throughput(lambda i, clients=clients: clients[i], CONCURRENCY, 3)
            say(f"warm Invoke throughput, {label} ({CONCURRENCY}x{n})")
            results[f"{prefix}_throughput_per_s"] = throughput(
                lambda i, clients=clients: clients[i], CONCURRENCY, n
            )

        say(f"Celery noop throughput ({CONCURRENCY}x{n})")
        throughput(lambda i: (lambda: noop.delay().get(timeout=60)), CONCURRENCY, 3)
        results["celery_throughput_per_s"] = throughput(
            lambda i: (lambda: noop.delay().get(timeout=60)), CONCURRENCY, n
        )
    finally:
        say("stopping the stack")
        stack.stop()

    for k, v in results.items():
        if isinstance(v, float):
            results[k] = round(v, 2)
    ratios(results)
    results["meta"] = {
        "image": image, "cpus": os.cpu_count(), "worker_concurrency": CONCURRENCY,
        "runs": args.runs, "warmup": args.warmup, "cold_samples": args.cold,
        "throughput_calls": CONCURRENCY * n,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
