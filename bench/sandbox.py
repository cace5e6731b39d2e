"""Generic environments, measured at the sandbox layer (no Django, no Celery):
``python -m bench.sandbox [--rounds N] [--runtime R]``.

For each round a generic environment is started ahead (not timed), then a
never-run one-line function is given to it and called once, timed from the
worker's side:

  * ``specialise`` at the container's memory (no docker update), and with a
    memory change (128 -> 512 MB: docker update of memory and CPU);
  * the first invoke after it; the sum is the first call of a never-run
    function served from a pre-warmed environment;
  * for comparison, a cold start (start_for_function) and its first invoke;
  * the memory of the container's process: generic and idle, and after a
    call (VmRSS, RssAnon, Pss).

Talks only to the local Docker engine; removes everything it starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid

import docker

from invocations.envdirs import (
    environment_dirs,
)
from invocations.sandbox import (
    EnvironmentSpec,
    FunctionConfig,
    destroy,
    invoke,
    specialise,
    start_environment,
    start_for_function,
)
from bench.per_runtime import STARTERS, family
from runtimes.build import build


def memory_mb(client: docker.DockerClient, container_id: str, field: str) -> float:
    """The container's processes' ``field`` summed, in MB, from the host's
    /proc: VmRSS and RssAnon from status, Pss (shared pages divided among
    their users) from smaps_rollup."""
    top = client.api.top(container_id)
    column = top["Titles"].index("PID")
    total_kb = 0
    for row in top["Processes"]:
        name = "smaps_rollup" if field == "Pss" else "status"
        with open(f"/proc/{row[column]}/{name}") as f:
            total_kb += next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    return total_kb / 1024


def record_memory(record, client, container_id: str, when: str) -> None:
    for field in ("VmRSS", "RssAnon", "Pss"):
        record(f"{when}_{field}_mb", memory_mb(client, container_id, field))


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"p50 {statistics.median(ordered):7.2f}  p90 {p90:7.2f}  "
            f"min {ordered[0]:7.2f}  max {ordered[-1]:7.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--runtime", default="python3.11",
                        help="the runtime whose image and starter function are measured")
    parser.add_argument("--idle-s", type=float, default=0.5,
                        help="how long a generic environment waits before its specialise")
    args = parser.parse_args(argv)

    client = docker.from_env()
    image = build(args.runtime)
    handler, files = STARTERS[family(args.runtime)]
    root = tempfile.mkdtemp(prefix="stratus-b-")
    labels = {"stratus.bench": uuid.uuid4().hex}
    started: list[str] = []
    results: dict[str, list[float]] = {}

    def record(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    def generic(memory_mb: int):
        env_id = uuid.uuid4().hex
        socket_dir, task_dir = environment_dirs(root, env_id)
        spec = EnvironmentSpec(env_id=env_id, image=image, socket_dir=socket_dir,
                               task_dir=task_dir, memory_mb=memory_mb, labels=labels)
        return spec

    def function(memory_mb: int) -> FunctionConfig:
        code = tempfile.mkdtemp(dir=root)
        for name, text in files.items():
            with open(os.path.join(code, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(code, name), 0o644)
        os.chmod(code, 0o755)
        return FunctionConfig(code_dir=code, handler=handler, runtime=args.runtime,
                              function_name=f"f-{uuid.uuid4().hex[:8]}", memory_mb=memory_mb)

    def first_invoke(env, config) -> float:
        t = time.perf_counter()
        outcome = invoke(env.socket_path, {"requestId": str(uuid.uuid4()), "event": {},
                                           "deadlineMs": int(time.time() * 1000) + 10_000},
                         10, lambda line: None)
        assert outcome.kind == "result", outcome.error
        return (time.perf_counter() - t) * 1000

    try:
        for i in range(args.rounds):
            for case, target_mb in (("same", 128), ("resize", 512)):
                env = start_environment(client, generic(128))
                started.append(env.container_id)
                if i == 0 and case == "same":
                    time.sleep(1)
                    record_memory(record, client, env.container_id, "idle_generic")
                config = function(target_mb)
                time.sleep(args.idle_s)  # pre-warmed: started a while before it is needed
                t0 = time.perf_counter()
                done = specialise(client, env, config)
                invoke_ms = first_invoke(env, config)
                end_to_end = (time.perf_counter() - t0) * 1000
                record(f"{case}_specialise_ms", done.total_ms)
                record(f"{case}_update_ms", done.update_ms)
                record(f"{case}_place_ms", done.place_ms)
                record(f"{case}_init_roundtrip_ms", done.init_ms)
                record(f"{case}_bootstrap_init_ms", done.bootstrap_init_ms)
                record(f"{case}_first_invoke_ms", invoke_ms)
                record(f"{case}_end_to_end_ms", end_to_end)
                if i == 0 and case == "same":
                    record_memory(record, client, env.container_id, "idle_after_call")
                destroy(client, env.container_id)
            if i < min(args.rounds, 5):  # cold starts are slow: a few suffice
                spec, config = generic(128), function(128)
                t0 = time.perf_counter()
                env = start_for_function(client, spec, config)
                started.append(env.container_id)
                invoke_ms = first_invoke(env, config)
                record("cold_end_to_end_ms", (time.perf_counter() - t0) * 1000)
                destroy(client, env.container_id)
    finally:
        for container_id in started:
            destroy(client, container_id)
        shutil.rmtree(root, ignore_errors=True)

    width = max(len(k) for k in results)
    for key, samples in results.items():
        print(f"{key:<{width}}  n={len(samples):3d}  {summary(samples)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
