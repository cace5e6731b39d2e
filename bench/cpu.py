"""Where a warm call's time goes: CPU seconds per process, read from
/proc before and after a run of calls, divided by the calls.

Groups: the stack's own processes by name (web, worker and its children,
periodic, beat, redis), the execution environments' processes (found
through `docker top` of the stack's containers), and this process (the
bench's client). Linux only; a process that ended in between counts 0."""

from __future__ import annotations

import os
import subprocess

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _container_pids(stack) -> list[int]:
    pids = []
    for container in stack.containers():
        try:
            top = container.top(ps_args="-o pid")
        except Exception:  # noqa: BLE001 - a container that just went
            continue
        pids += [int(row[0]) for row in top.get("Processes") or []]
    return pids


def snapshot(stack) -> dict[str, dict[int, float]]:
    groups: dict[str, dict[int, float]] = {}
    for name, proc in stack.procs.items():
        pids = [proc.pid, *_children(proc.pid)]
        groups[name] = {pid: process_cpu(pid) for pid in pids}
    groups["environments"] = {pid: process_cpu(pid) for pid in _container_pids(stack)}
    groups["client (bench)"] = {os.getpid(): process_cpu(os.getpid())}
    return groups


def per_call_ms(before: dict, after: dict, calls: int) -> dict[str, float]:
    """CPU milliseconds per call for each group; processes that appeared
    in between count from zero."""
    out = {}
    for group, pids in after.items():
        spent = sum(cpu - before.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
        out[group] = round(spent * 1000 / calls, 3)
    out["total"] = round(sum(out.values()), 3)
    return out
