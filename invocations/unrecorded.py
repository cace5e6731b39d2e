"""What the console can know of sync calls the database does not hold yet.

A sync call's row is written after its answer, in batches (invocations.
recorder): for a moment after it finished, its record waits in the Redis
stream, and while it runs only its lease says so (nodes.running_key). The
live console's catch-up views (functions.views.live_rows, invocation_state)
read both, so a page that reconnects or opens mid-run never shows less than
what happened. Best effort: with Redis down they find nothing."""

import json
import uuid

from django.db import models
from django.utils.dateparse import parse_datetime

from invocations import nodes, recorder, redis_link
from invocations.models import Invocation

# The stream holds a batch or two (recorders drain it every ~0.25 s); more
# than this means the recorders are down, and the newest matter most.
MAX_SCANNED = 2000
_FIELDS = {f.attname: f for f in Invocation._meta.concrete_fields}


def _invocation(payload: bytes) -> Invocation | None:
    try:
        row = json.loads(payload)
    except ValueError:
        return None
    values = {}
    for name, field in _FIELDS.items():
        value = row.get(name)
        if value is not None and isinstance(field, models.DateTimeField):
            value = parse_datetime(value)
        elif value is not None and isinstance(field, models.UUIDField | models.ForeignKey):
            value = uuid.UUID(str(value))
        values[name] = value
    return Invocation(**values)


def pending(function_id=None) -> list[Invocation]:
    """Answered sync calls not yet in the database (unsaved rows, newest
    first), of one function when `function_id` is given."""
    entries = redis_link.quietly(
        lambda c: c.xrevrange(recorder.stream_key(), count=MAX_SCANNED), "unrecorded calls", default=[]
    )
    found = []
    for _id, fields in entries or []:
        inv = _invocation(fields.get(b"r", b""))
        if inv is not None and (function_id is None or str(inv.function_id) == str(function_id)):
            found.append(inv)
    found.sort(key=lambda inv: inv.created_at, reverse=True)
    return found


def find(request_id) -> Invocation | None:
    """The invocation as far as anything knows it: its row, else its
    waiting record (unsaved), else None."""
    row = Invocation.objects.filter(request_id=request_id).first()
    if row is not None:
        return row
    wanted = str(request_id)
    return next((inv for inv in pending() if str(inv.request_id) == wanted), None)


def is_running(request_id) -> bool:
    """Whether a worker holds the sync call now (its lease key exists)."""
    return bool(redis_link.quietly(
        lambda c: c.exists(nodes.running_key(request_id)), "running call", default=0
    ))
