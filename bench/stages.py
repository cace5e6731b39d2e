"""One warm sync Invoke, stage by stage: ``python -m bench.stages [--rounds N]``.

Runs the real code of each stage of a warm call in this one process, each
stage N times in a row, against a redis-server of its own, a throwaway
SQLite database and one real execution environment, and prints the CPU
time and the wall time of each stage per call. It shows where a warm
call's time goes inside the web and the worker (`make bench` shows the
same per process, end to end).

Stages, in the order a call meets them:

  web     parse: the ASGI request seen as a Django request
          sigv4: the signature checked (the key in memory)
          lookup: the function found (in memory)
          push: the concurrency slot taken and the lane message pushed (one Lua call)
  worker  pop: BRPOP of the message and its decoding, the function found
          record: the call's (unsaved) row
          lease: a warm environment taken (one Lua call)
          invoke: the event over the environment's socket, the answer back
          outcome: status, durations, the log with its REPORT line
          answer: the done message, the record, the release (one pipeline)
  later   store: the record written to the database (per row, batches of 100)
  web     done: the done message decoded, Lambda's answer built

Talks only to loopback and the local Docker engine; removes what it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(label: str, rounds: int, step, results: list) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        step()
    results.append((label, (time.process_time() - cpu) * 1000 / rounds,
                    (time.perf_counter() - wall) * 1000 / rounds))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2000)
    args = ap.parse_args(argv)

    data = Path(tempfile.mkdtemp(prefix="stratus-stages-"))
    port = free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir", str(data)],
        stdout=subprocess.DEVNULL,
    )
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "console.settings", "STRATUS_DATA_DIR": str(data),
        "STRATUS_ENV_DIR": "/tmp/sst-" + uuid.uuid4().hex[:6],
        "REDIS_URL": f"redis://127.0.0.1:{port}/0", "STRATUS_INSTANCE": "stages",
        "STRATUS_LOG_LEVEL": "WARNING",
    })
    try:
        time.sleep(0.3)
        results = run(args.rounds)
    finally:
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(os.environ["STRATUS_ENV_DIR"], ignore_errors=True)
    print(f"{'stage':<10}{'CPU ms':>9}{'wall ms':>10}")
    for label, cpu, wall in results:
        print(f"{label:<10}{cpu:>9.3f}{wall:>10.3f}")
    print(f"{'total':<10}{sum(r[1] for r in results):>9.3f}{sum(r[2] for r in results):>10.3f}")
    return 0


def run(rounds: int) -> list:
    import django

    django.setup()
    import redis
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from awsapi import asgi, sigv4
    from functions import code as codestore
    from functions import lookup, service
    from functions.invoke_api import result_response
    from functions.models import ApiKey, Membership, Team
    from invocations import dispatch, pool, recorder, redis_link, runner, sandbox
    from invocations.done import Done
    from invocations.sync_request import SyncRequest

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="stages")
    user = User.objects.create_user("stages")
    Membership.objects.create(team=team, user=user, role="owner")
    key, secret = ApiKey.issue(user, team)
    fn = service.create_function(
        team, name="noop", handler="lambda_function.handler",
        zip_bytes=codestore.zip_single_file("lambda_function.py", "def handler(e, c):\n    return {}\n"),
        role="arn:aws:iam::123456789012:role/stages",
    )
    fn = runner.function_for(str(fn.id), str(fn.revision))
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    results: list = []
    held = pool.start(fn)
    try:
        # web ----------------------------------------------------------------
        path = f"/2015-03-31/functions/{fn.name}/invocations"
        signed = AWSRequest(method="POST", url=f"http://127.0.0.1:8000{path}", data=b"{}",
                            headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(key.access_key_id, secret), "lambda", "us-east-1").add_auth(signed)
        scope = {
            "type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in signed.headers.items()]
            + [(b"host", b"127.0.0.1:8000")],
        }
        request = asgi.django_request(scope, b"{}")
        sigv4.verify(request)
        lookup.function(team, fn.name)
        measure("parse", rounds, lambda: asgi.django_request(scope, b"{}"), results)
        measure("sigv4", rounds, lambda: sigv4.verify_cached(asgi.django_request(scope, b"{}")), results)
        results[-1] = (results[-1][0], results[-1][1] - results[-2][1], results[-1][2] - results[-2][2])
        measure("lookup", rounds, lambda: lookup.cached(team, fn.name), results)

        loop = asyncio.new_event_loop()

        def push():
            now = time.time()
            req = SyncRequest(request_id=str(uuid.uuid4()), function_id=str(fn.id), revision=str(fn.revision),
                              event="{}", source="api", created_at=now, expires_at=now + 30)
            call = dispatch.SyncCall(fn, req)

            async def pushed():
                await call._push(dispatch._redis(), 60, await dispatch._team_terms(fn))

            loop.run_until_complete(pushed())

        measure("push", rounds, push, results)

        # worker -------------------------------------------------------------
        lanes = [dispatch.lane_key("any", "normal")]
        messages = []

        def pop():
            raw = client.brpop(lanes, timeout=1)[1]
            request, _ = SyncRequest.decode(raw)
            runner.function_for(request.function_id, request.revision)
            messages.append(request)

        measure("pop", rounds, pop, results)
        invs = []

        def record():
            inv = dispatch.record_of(fn, messages.pop())
            inv.function = fn
            invs.append(inv)

        measure("record", rounds, record, results)
        pool.release(held)
        def lease_and_release():
            pool.take_idle(fn.revision)
            pool.release(held)

        measure("lease", rounds, lease_and_release, results)
        # lease + release pairs: count the lease alone as half the pair.
        results[-1] = (results[-1][0], results[-1][1] / 2, results[-1][2] / 2)
        pool.take_idle(fn.revision)
        logs = runner.LogStream(invs[0], [])
        request = runner._request(invs[0], fn, time.time() + 3)
        outcomes = []
        measure("invoke", rounds, lambda: outcomes.append(
            sandbox.invoke(held.socket_path, request, 3, logs, raw_event="{}")), results)

        def outcome():
            inv = invs.pop()
            inv.set_outcome(status="succeeded", result="{}", logs="START\nEND\n", duration_ms=0.4,
                            max_memory_used_mb=12)
            invs.insert(0, inv)

        measure("outcome", rounds, outcome, results)
        req = SyncRequest(request_id=str(uuid.uuid4()), function_id=str(fn.id), revision=str(fn.revision),
                          event="{}", source="api", expires_at=time.time() + 30)
        it = iter(invs)
        measure("answer", rounds, lambda: runner._answer(next(it), req, held, []), results)

        # later --------------------------------------------------------------
        payloads = [f[b"r"] for _id, f in client.xrange(recorder.stream_key(), count=rounds)]

        def store():
            for i in range(0, len(payloads), 100):
                recorder.store(payloads[i:i + 100])

        measure("store", 1, store, results)
        results[-1] = (results[-1][0], results[-1][1] / max(1, len(payloads)),
                       results[-1][2] / max(1, len(payloads)))

        # web again -----------------------------------------------------------
        answer = Done(str(uuid.uuid4()), "succeeded", result="{}", logs_tail="END").encode()
        web_request = asgi.django_request(scope, b"{}")
        measure("done", rounds, lambda: result_response(web_request, Done.decode(answer)), results)
    finally:
        pool.discard(held.env_id)
        redis_link._clients.clear()
    return results


if __name__ == "__main__":
    sys.exit(main())
