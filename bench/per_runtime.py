"""Per-runtime numbers for ``python -m bench.run`` (and ``--only runtimes``):
for every runtime in settings.STRATUS_RUNTIMES, a trivial starter function
of that runtime, and

  * ``cold_p50_ms_<runtime>``: a sync Invoke that starts a container (no
    pre-warmed pool; each sample changes the function's configuration, so
    its warm environment is retired, as bench.run's cold_p50_ms does);
  * ``warm_p50_ms_<runtime>``: sequential warm sync Invokes with the
    minimal SigV4 client (bench.clients.SignedInvoker), as warm_p50_ms,
    taken in ROUNDS rounds in which the runtimes take turns (so a change in
    the machine's load weighs on every runtime alike);
  * ``pool_cold_p50_ms_<runtime>``: the first call of a brand-new function
    of that runtime, with the pool of generic environments running.

The ratios ``warm_vs_python311_<runtime>`` compare each with python3.11
(the issue's target: within 1.2x).
"""

from __future__ import annotations

import io
import statistics
import time
import uuid
import zipfile
from collections.abc import Callable

from bench.clients import SignedInvoker, pct, sequential, timed

HOST = "127.0.0.1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
POOL_SIZE = 2
ROUNDS = 10  # warm calls are taken in this many rounds, the runtimes in turn
BASELINE = "python3.11"

# A starter per runtime family: handler and files. Each returns {}.
# provided.*: an executable `bootstrap` answering through the Runtime API,
# in Python with one kept-alive connection (the image has python3): what a
# compiled runtime client costs, not a shell's process per request.
PROVIDED_BOOTSTRAP = """#!/usr/bin/env python3
import http.client
import os

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
api = http.client.HTTPConnection(host, int(port))
base = "/2018-06-01/runtime/invocation/"
while True:
    api.request("GET", base + "next")
    answer = api.getresponse()
    answer.read()
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    api.request("POST", base + request_id + "/response", body=b"{}")
    api.getresponse().read()
"""
STARTERS = {
    "python": ("app.handler", {"app.py": "def handler(event, context):\n    return {}\n"}),
    "nodejs": ("index.handler", {"index.mjs": "export const handler = async () => ({});\n"}),
    "provided": ("bootstrap", {"bootstrap": PROVIDED_BOOTSTRAP}),
}


def family(runtime: str) -> str:
    for prefix in ("nodejs", "provided"):
        if runtime.startswith(prefix):
            return prefix
    return "python"


def starter(runtime: str) -> tuple[str, bytes]:
    """(handler, zip bytes) of the runtime's trivial function."""
    handler, files = STARTERS[family(runtime)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name == "bootstrap" else 0o644) << 16
            zf.writestr(info, text)
    return handler, buf.getvalue()


def create(client, name: str, runtime: str) -> None:
    handler, code = starter(runtime)
    client.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
        Code={"ZipFile": code}, Timeout=10,
    )


def ratios(runtimes: list[str]) -> dict:
    """bench.run's RATIOS entries: each runtime's warm p50 over python3.11's."""
    return {
        f"warm_vs_python311_{r}": (f"warm_p50_ms_{r}", f"warm_p50_ms_{BASELINE}", "<=", 1.2)
        for r in runtimes if r != BASELINE
    }


def wait_for_pool(stack, runtimes: list[str], timeout: float = 180) -> None:
    """Until every runtime has POOL_SIZE generic environments started, and
    the machine has settled a moment."""
    import redis

    from runtimes.build import runtime_image
    from tests.stack import DEFAULT_NODE

    client = redis.Redis(port=stack.redis_port)
    # The stack's worker is node DEFAULT_NODE (STRATUS_NODE), not this host's name.
    keys = [f"{stack.instance}:generic:{DEFAULT_NODE}:{runtime_image(r)}" for r in runtimes]
    deadline = time.monotonic() + timeout
    while any(client.llen(k) < POOL_SIZE for k in keys) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)


def bench_runtimes(
    make_stack: Callable, make_client: Callable, runtimes: list[str], args, results: dict,
    say: Callable[[str], None],
) -> None:
    """The three keys for each of `runtimes` into `results`; a stack of
    its own, started without a pool, then with one."""
    say(f"per-runtime numbers for {', '.join(runtimes)}: a stack without a pre-warmed pool")
    stack = make_stack(STRATUS_POOL_SIZE="0")
    try:
        stack.start()
        key = stack.api_key()
        client = make_client(stack, key)
        names = {}
        for runtime in runtimes:
            names[runtime] = f"bench-{runtime.replace('.', '')}-{uuid.uuid4().hex[:6]}"
            create(client, names[runtime], runtime)
            call = SignedInvoker(HOST, stack.port, key, names[runtime])
            say(f"{runtime}: cold Invoke ({args.cold} samples)")
            cold = []
            for i in range(args.cold):
                client.update_function_configuration(
                    FunctionName=names[runtime],
                    Environment={"Variables": {"BENCH_SAMPLE": f"{i}-{uuid.uuid4().hex[:6]}"}},
                )
                cold.append(timed(call))
            call.close()
            results[f"cold_p50_ms_{runtime}"] = statistics.median(cold)

        say(f"restarting the worker with a pre-warmed pool of {POOL_SIZE} per runtime")
        stack.env["STRATUS_POOL_SIZE"] = str(POOL_SIZE)
        stack.stop_process("worker")
        stack.start_worker()
        wait_for_pool(stack, runtimes)

        # Warm calls in rounds that take turns between the runtimes, so a
        # machine that gets busier or quieter meanwhile weighs on each alike
        # (measured one runtime after another, the last one paid for it).
        callers = {r: SignedInvoker(HOST, stack.port, key, names[r]) for r in runtimes}
        say(f"warm Invoke, {args.runs} runs each, in {ROUNDS} rounds taking turns")
        warm: dict[str, list[float]] = {r: [] for r in runtimes}
        for r in runtimes:
            sequential(callers[r], 0, args.warmup)
        per_round = max(1, args.runs // ROUNDS)
        for _ in range(ROUNDS):
            for r in runtimes:
                warm[r] += sequential(callers[r], per_round, 0)
        for r in runtimes:
            callers[r].close()
            results[f"warm_p50_ms_{r}"] = pct(warm[r], 50)
            results[f"warm_p99_ms_{r}"] = pct(warm[r], 99)

        for runtime in runtimes:
            call = SignedInvoker(HOST, stack.port, key, names[runtime])
            say(f"{runtime}: first call of a brand-new function ({args.pool_cold} samples, "
                f"{args.pool_wait:g} s after its creation)")
            fresh, created = [], []
            for i in range(args.pool_cold):
                name = f"bench-pool-{runtime.replace('.', '')}-{i}-{uuid.uuid4().hex[:6]}"
                create(client, name, runtime)
                created.append(name)
                time.sleep(args.pool_wait)
                fresh.append(timed(lambda name=name, call=call: call.invoke(name, b"{}")))
            call.close()
            results[f"pool_cold_p50_ms_{runtime}"] = statistics.median(fresh)
            for name in created:
                client.delete_function(FunctionName=name)
    finally:
        say("stopping the per-runtime stack")
        stack.stop()
