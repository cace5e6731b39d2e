"""Where one sync call's time goes: stage marks, written only when the
setting STRATUS_CALL_MARKS names a file (the bench sets it; off, a mark
costs a settings read).

Each mark is one line appended to that file by whichever process reached
the stage: ``<request id> <stage> <time.time_ns()> <pid>``. Every process
of a node shares the host's clock, so the marks of the web, the worker and
the bench's client line up; `read` gathers them per request id and
`stages` turns one call's marks into the time between consecutive stages
(milliseconds). One ``write`` per mark, of a line shorter than PIPE_BUF,
to a file opened with O_APPEND: the lines of several processes never mix.

Stages, in the order a call meets them (see STAGES):
  web.received   the Invoke request's body read (functions.invoke_api.serve)
  web.found      signature checked, function and qualifier resolved
  web.pushing    its team's terms, the done listener, the lane message ready
  worker.popped  slot taken and pushed (one Lua call), and a lane thread's
                 BRPOP returned it (invocations.lane)
  worker.function  the function (or version) found in this process's copies
  worker.leased  an idle environment taken (one Lua call)
  worker.sent    the invoke frame written to the environment's socket
  worker.result  the environment's result frame read: the runtime's part
  worker.answering  outcome decided, the answer's pipeline built
  web.done       the done message published (the pipeline: with the record
                 and the release) and the web's listener resolved the future
  web.sent       Lambda's answer written to the connection
"""

from __future__ import annotations

import contextvars
import os
import time
from collections import defaultdict
from pathlib import Path

from django.conf import settings

STAGES = (
    "web.received", "web.found", "web.pushing", "worker.popped", "worker.function", "worker.leased",
    "worker.sent", "worker.result", "worker.answering", "web.done", "web.sent",
)
_fd: dict[tuple[int, str], int] = {}
# The web's marks of the request being served, kept until its request id
# is known (the answer's X-Amz-Request-Id): None when marks are off.
_pending: contextvars.ContextVar[list | None] = contextvars.ContextVar("call_marks", default=None)


def _path() -> str:
    # The sandbox also runs without Django (bench.sandbox, bench.stages).
    return getattr(settings, "STRATUS_CALL_MARKS", "") if settings.configured else ""


def on() -> bool:
    return bool(_path())


def mark(request_id: str, stage: str, at_ns: int | None = None) -> None:
    """Append one mark (now, or `at_ns`, time.time_ns()); nothing when off."""
    path = _path()
    if not path:
        return
    pid = os.getpid()
    fd = _fd.get((pid, path))
    if fd is None:
        # Per process: a forked child opens its own descriptor.
        fd = _fd[pid, path] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{request_id} {stage} {at_ns or time.time_ns()} {pid}\n".encode())


def begin() -> None:
    """The web starts serving a request whose id is not known yet: `note`
    keeps its marks until `flush` names it (when marks are on)."""
    if _path():
        _pending.set([("web.received", time.time_ns())])


def note(stage: str) -> None:
    """A mark of the request being served, written by `flush`."""
    pending = _pending.get()
    if pending is not None:
        pending.append((stage, time.time_ns()))


def flush(request_id: str | None) -> None:
    """Write the noted marks under `request_id` (Lambda's answers, errors
    too, carry one; None: the marks are dropped)."""
    pending = _pending.get()
    if pending is None:
        return
    _pending.set(None)
    if request_id:
        for stage, at in pending:
            mark(request_id, stage, at)


def read(path: str | Path) -> dict[str, dict[str, int]]:
    """{request id: {stage: time_ns}} of a marks file (the first mark of a
    stage counts)."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            found[parts[0]].setdefault(parts[1], int(parts[2]))
    return dict(found)


def stages(marks: dict[str, int], order: tuple[str, ...] = STAGES) -> dict[str, float]:
    """One call's time between consecutive marks present, in ms, keyed
    "<from> -> <to>" in `order`."""
    present = [s for s in order if s in marks]
    return {f"{a} -> {b}": (marks[b] - marks[a]) / 1e6 for a, b in zip(present, present[1:], strict=False)}
