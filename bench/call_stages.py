"""Where a sync Invoke's time goes, call by call: the server's stage marks
(invocations.call_marks, written by the web and the worker of a stack
started with STRATUS_CALL_MARKS) joined with the client's own marks
(bench.clients.SignedInvoker.last_marks) by request id.

`Calls` collects the calls of one kind (e.g. "warm", "provisioned_first");
`table` gives, per kind, the p50 of each stage in ms (p50s of stages need
not add up to the p50 of the whole), the p50 of the whole as the client
saw it, and how many calls had every mark."""

from __future__ import annotations

import statistics
from collections import defaultdict

from invocations import call_marks

ORDER = ("client.start", "client.signed", *call_marks.STAGES, "client.answer")
# What each stage is, for the printed table (the stage ending at the mark).
MEANING = {
    "client.signed": "client: SigV4 signing",
    "web.received": "client -> web: request written, read, body parsed",
    "web.found": "web: signature, function and qualifier in memory",
    "web.pushing": "web: team terms, done listener, lane message",
    "worker.popped": "web->redis->worker: slot, push (Lua), BRPOP wakes",
    "worker.function": "worker: request decoded, function/version found",
    "worker.leased": "worker: record, idle environment leased (Lua)",
    "worker.sent": "worker: AWS door, socket connect, frame written",
    "worker.result": "environment: bootstrap reads, handler, result frame",
    "worker.answering": "worker: outcome, answer's pipeline built",
    "web.done": "worker->redis->web: pipeline, done heard",
    "web.sent": "web: Lambda's answer built and written",
    "client.answer": "web -> client: answer read",
}


class Calls:
    """Request ids and client marks of timed calls, by kind."""

    def __init__(self) -> None:
        self.client: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)

    def add(self, kind: str, invoker) -> None:
        """The call `invoker` (a SignedInvoker) just made, as one of `kind`."""
        if invoker.last_request_id:
            self.client[kind][invoker.last_request_id] = dict(invoker.last_marks)

    def table(self, marks_path) -> dict[str, dict]:
        """{kind: {"calls": n, "total_ms": p50, "stages_ms": {stage: p50}}}."""
        server = call_marks.read(marks_path)
        out: dict[str, dict] = {}
        for kind, calls in self.client.items():
            per_stage: dict[str, list[float]] = defaultdict(list)
            totals, complete = [], 0
            for request_id, client in calls.items():
                marks = {**server.get(request_id, {}), **client}
                complete += all(stage in marks for stage in ORDER)
                totals.append((client["client.answer"] - client["client.start"]) / 1e6)
                for stage, ms in call_marks.stages(marks, ORDER).items():
                    per_stage[stage.split(" -> ")[1]].append(ms)
            out[kind] = {
                "calls": len(calls), "complete": complete, "total_ms": round(statistics.median(totals), 2),
                "stages_ms": {
                    s: round(statistics.median(per_stage[s]), 3) for s in ORDER if per_stage.get(s)
                },
            }
        return out


def lines(table: dict[str, dict]) -> list[str]:
    """The table as text: a stage per row, a kind per column."""
    kinds = list(table)
    head = f"  {'stage (p50, ms)':<52}" + "".join(f"{k[:18]:>19}" for k in kinds)
    rows = [head]
    for stage in ORDER[1:]:
        if not any(stage in table[k]["stages_ms"] for k in kinds):
            continue
        cells = "".join(f"{table[k]['stages_ms'].get(stage, float('nan')):>19.3f}" for k in kinds)
        rows.append(f"  {MEANING.get(stage, stage):<52}" + cells)
    rows.append(f"  {'whole call as the client saw it, p50':<52}" + "".join(
        f"{table[k]['total_ms']:>19.2f}" for k in kinds))
    counts = [f"{table[k]['calls']} ({table[k]['complete']})" for k in kinds]
    rows.append(f"  {'calls (with every mark)':<52}" + "".join(f"{c:>19}" for c in counts))
    return rows


def machine_pause_probe(pauses: int = 7, pause_s: float = 0.5) -> dict[str, float]:
    """What a pause costs on this machine alone, no server involved: p50 ms
    of one SigV4 signing (pure CPU in this process) and of one round trip to
    a child process over a socketpair, back to back and after `pause_s` of
    sleep. A call after a pause crosses five processes about ten times."""
    import os
    import socket
    import time

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials("probe", "probe"), "lambda", "us-east-1")

    def sign():
        signer.add_auth(AWSRequest(method="POST", url="http://127.0.0.1/2015-03-31/functions/f/invocations",
                                   data=b"{}"))

    here, there = socket.socketpair()
    child = os.fork()
    if child == 0:  # echo until the parent closes its end
        here.close()
        while data := there.recv(16):
            there.sendall(data)
        os._exit(0)
    there.close()

    def hop():
        here.sendall(b"x")
        here.recv(16)

    def ms(step) -> float:
        t0 = time.perf_counter()
        step()
        return (time.perf_counter() - t0) * 1000

    out: dict[str, float] = {}
    try:
        for name, step in (("sign", sign), ("hop", hop)):
            for _ in range(50):
                step()
            out[f"{name}_back_to_back_ms"] = round(statistics.median(ms(step) for _ in range(300)), 3)
            paused = []
            for _ in range(pauses):
                time.sleep(pause_s)
                paused.append(ms(step))
            out[f"{name}_after_pause_ms"] = round(statistics.median(paused), 3)
    finally:
        here.close()
        os.waitpid(child, 0)
    return out
