"""Where the web process's CPU goes on S3, SQS, SNS or DynamoDB calls, by area:
``python -m bench.webprofile --py-spy PATH [--workload sqs] [--seconds 10]``.

``make bench`` shows CPU per process (``<workload>_cpu_ms_per_call``); on
those workloads nearly all of Stratus's is the web process's. This starts a
stack of its own (tests/stack.py), drives one workload with the bench's 8
boto3 clients (bench/aws.py) and, after 2 s of warm-up, samples every
thread of the web process with py-spy (a sampling profiler: not installed by
the project; ``pip install --target DIR py-spy``, then ``--py-spy
DIR/bin/py-spy``). Each sample with a Python stack is put in one area, by
its innermost frame that belongs to one (frames of the standard library
count for their caller); it prints each area's share of the samples and,
with the calls' CPU per call from /proc, its milliseconds per call.
Talks only to loopback; stops what it starts.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (area, path prefixes of a frame's file), the first match wins, so the
# narrower prefixes come first.
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("sigv4 (awsapi/sigv4, botocore.auth)", ("awsapi/sigv4.py", "botocore/auth.py")),
    ("wire: parse and serialise (awsapi/protocols, botocore)",
     ("awsapi/protocols/", "botocore/", "awsapi/params.py", "xml/", "xmltodict")),
    ("body spooling, object files (awsapi/spool, buckets/storage)",
     ("awsapi/spool.py", "buckets/storage.py")),
    ("database: statements run, commits (django/db/backends, sqlite3)",
     ("django/db/backends/", "sqlite3/", "django/db/transaction.py")),
    ("database: ORM, queries built, rows to objects (django/db)", ("django/db/",)),
    ("service code (buckets, messaging, tables, kinesis, functions)",
     ("buckets/", "messaging/", "tables/", "kinesis/", "functions/")),
    ("the door and the guard (awsapi)", ("awsapi/",)),
    ("Django, other", ("django/",)),
    # The door runs a plain handler on a thread of a pool (awsapi.asgi.in_thread).
    ("hand-off to and from the door's threads (concurrent.futures, threading)",
     ("concurrent/", "threading.py")),
    ("ASGI server and event loop (uvicorn, uvloop, asyncio, asgiref)",
     ("uvicorn/", "asyncio/", "uvloop/", "httptools/", "asgiref/")),
    ("Redis (redis-py)", ("redis/",)),
]
OTHER = "other"
_FRAME = re.compile(r"\(([^()]*):\d+\)$")


def frame_file(frame: str) -> str:
    """The file of a py-spy frame, `name (path/file.py:line)`; '' if none."""
    found = _FRAME.search(frame.strip())
    return found.group(1) if found else ""


def area_of(path: str) -> str | None:
    for area, prefixes in AREAS:
        if any(path.startswith(p) or f"/{p}" in path for p in prefixes):
            return area
    return None


def tally(raw_lines) -> dict[str, int]:
    """Samples per area from py-spy's raw (collapsed) output, a line per
    stack: `frame;frame;...;frame count`, outermost first (with --threads,
    the first frame is the thread). Each stack counts for the area of its
    innermost frame that has one."""
    out: dict[str, int] = {}
    for line in raw_lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        area = OTHER
        for frame in reversed(stack.split(";")):
            found = area_of(frame_file(frame))
            if found:
                area = found
                break
        out[area] = out.get(area, 0) + int(count)
    return out


def main(argv: list[str] | None = None) -> int:
    from bench import aws, cpu
    from bench.clients import throughput
    from bench.run import CONCURRENCY, BenchStack

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--py-spy", required=True, type=Path, help="the py-spy binary")
    ap.add_argument("--workload", choices=list(aws.WORKLOADS), action="append",
                    help="one of them (repeatable; default: all, one after another)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=200, help="samples per second")
    ap.add_argument("--idle", action="store_true",
                    help="count waiting threads too: where they wait (a database lock is time in "
                         "the statements' area); the ms column then means nothing")
    args = ap.parse_args(argv)

    stack = BenchStack(STRATUS_POOL_SIZE="0")
    folder = Path(tempfile.mkdtemp(prefix="stratus-webprofile-"))
    spy: list[subprocess.Popen] = []
    reports = []
    try:
        stack.start()
        side = aws.Side("Stratus", stack.url, stack.api_key())
        web = stack.procs["web"].pid
        for workload in args.workload or list(aws.WORKLOADS):
            side.setup(workload)
            raw = folder / f"{workload}.txt"
            snaps: list = []

            def begin(raw=raw, snaps=snaps):
                snaps.append(cpu.snapshot(stack))
                spy.append(subprocess.Popen(
                    [str(args.py_spy), "record", "-p", str(web), "--duration", str(int(args.seconds)),
                     "--rate", str(args.rate), "--format", "raw", "--output", str(raw),
                     "--nonblocking", "--threads", *(["--idle"] if args.idle else [])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

            def end(snaps=snaps):
                snaps.append(cpu.snapshot(stack))
                spy[-1].wait(timeout=120)

            print(f"{workload}: {CONCURRENCY} boto3 clients, {args.seconds:g} s after 2 s of warm-up")
            load = throughput(lambda i, w=workload: side.worker(w, i), CONCURRENCY, args.seconds, 2.0,
                              print, (begin, end))
            reports.append((workload, load, cpu.per_call_ms(*snaps, load["calls"]),
                            tally(raw.read_text().splitlines())))
    finally:
        for proc in spy:
            if proc.poll() is None:
                proc.kill()
        stack.stop()
    for workload, load, spent, counts in reports:
        total = sum(counts.values()) or 1
        print(f"\n{workload}: {aws.WORKLOADS[workload]}; {load['per_s']:.0f} calls/s, "
              f"web {spent['web']:.2f} ms of CPU per call, {total} samples of its threads")
        for area, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"  {area:<64}{100 * n / total:>5.1f} %  {spent['web'] * n / total:>6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
