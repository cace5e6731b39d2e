"""What every execution environment is doing now: its Environment row
(node, runtime, memory limit, function, when it started) joined with the
node's Redis state (invocations.env_keys), for the console's environments
views (invocations.env_views, invocations.env_live).

States, as the console names them (`STATES`):
- `pre-warmed`: a generic pool container, started with no function;
- `warm`: idle, specialised to one function revision;
- `busy`: leased by a call (or being specialised for one);
- `provisioned`: idle and kept initialised by provisioned concurrency
  (invocations.provisioning): its idle score is past PROVISIONED_SCORE;
- `starting`: a row whose container is still being started (in no Redis
  set yet); `unknown`: Redis cannot be read.

Scopes group environments for the views and their Channels groups: `pool`
(the shared pre-warmed ones), `team-<id>` and `fn-<id>` (specialised ones,
by the function's team and the function), `unowned` (specialised for a
function since deleted; staff only)."""

import functools
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from functions.models import Team
from invocations import redis_link
from invocations.env_keys import (
    PROVISIONED_SCORE,
    busy_key,
    events_key,
    generic_key,
    idle_key,
    memory_key,
    served_key,
)
from invocations.models import Environment
from runtimes.build import runtime_image

STATES = [
    ("pre-warmed", "Pre-warmed", "a generic pool container, no function yet; a first call specialises it"),
    ("warm", "Warm", "idle, specialised to one function revision; its next call is a warm start"),
    ("busy", "Busy", "leased by a call, or being specialised for one"),
    ("provisioned", "Provisioned", "kept initialised by provisioned concurrency; calls take it first"),
]
STATE_ORDER = {"busy": 0, "warm": 1, "provisioned": 2, "pre-warmed": 3, "starting": 4, "unknown": 5}
POOL = "pool"
UNOWNED = "unowned"
EVENTS_KEPT = 50


def fn_scope(function_id) -> str:
    return f"fn-{function_id}"


def team_scope(team_id) -> str:
    return f"team-{team_id}"


def scopes_of(function_id, team_id, generic: bool) -> tuple[str, ...]:
    """The scopes an environment is shown in: a generic one in the pool,
    a specialised one in its function's and its team's, a specialised one
    whose function is gone in `unowned`."""
    if generic:
        return (POOL,)
    if function_id is None:
        return (UNOWNED,)
    return (fn_scope(function_id), team_scope(team_id))


def scope_filter(scope: str) -> Q:
    """The Environment rows of a scope. Raises ValueError for a bad scope."""
    if scope == POOL:
        return Q(state="generic")
    if scope == UNOWNED:
        return Q(state="ready", function__isnull=True)
    kind, _, ident = scope.partition("-")
    if kind == "fn" and ident:
        return Q(state="ready", function_id=ident)
    if kind == "team" and ident.isdigit():
        return Q(state="ready", function__team_id=int(ident))
    raise ValueError(f"no such environment scope: {scope!r}")


def user_scopes(user) -> list[str]:
    """The installation view's scopes for `user`: staff see every
    environment; others the pool and their teams' functions' environments."""
    if user.is_staff:
        teams = Team.objects.order_by("name").values_list("id", flat=True)
        return [POOL, *(team_scope(t) for t in teams), UNOWNED]
    teams = Team.objects.filter(membership__user=user).order_by("name").values_list("id", flat=True)
    return [POOL, *(team_scope(t) for t in teams)]


@dataclass(frozen=True)
class RedisState:
    """The nodes' Redis state of some environments: `busy` env -> leased at,
    `idle` env -> last used (epoch s; only environments idle for the
    revision their row was specialised to), `generic` the pooled ones,
    `served` env -> calls served, `memory` env -> last max memory used (MB)."""

    busy: dict[str, float]
    idle: dict[str, float]
    generic: set[str]
    served: dict[str, int]
    memory: dict[str, int]


@dataclass
class EnvironmentView:
    id: str
    node: str
    state: str
    runtime: str
    function: object  # functions.models.Function | None
    memory_mb: int
    max_memory_used_mb: int | None
    calls: int
    created_at: datetime
    age_s: float
    # Seconds idle (warm) or leased (busy); None otherwise.
    for_s: float | None

    @property
    def short_id(self) -> str:
        return self.id[:8]


def assemble(rows, state: RedisState | None, now: float) -> list[EnvironmentView]:
    """One view per row, busy first, then warm, pre-warmed, starting, each
    oldest first. `state` None (Redis unreadable): every state `unknown`.
    `now`: epoch seconds."""
    views = []
    for row in rows:
        for_s = None
        if state is None:
            current = "unknown"
        elif row.id in state.busy:
            current, for_s = "busy", now - state.busy[row.id]
        elif row.id in state.idle and state.idle[row.id] >= PROVISIONED_SCORE:
            current, for_s = "provisioned", now - (state.idle[row.id] - PROVISIONED_SCORE)
        elif row.id in state.idle:
            current, for_s = "warm", now - state.idle[row.id]
        elif row.id in state.generic:
            current = "pre-warmed"
        else:
            current = "starting"
        views.append(EnvironmentView(
            id=row.id, node=row.node, state=current, runtime=row.runtime, function=row.function,
            memory_mb=row.memory_mb,
            max_memory_used_mb=state.memory.get(row.id) if state else None,
            calls=state.served.get(row.id, 0) if state else 0,
            created_at=row.created_at, age_s=max(0.0, now - row.created_at.timestamp()),
            for_s=None if for_s is None else max(0.0, for_s),
        ))
    views.sort(key=lambda v: (STATE_ORDER[v.state], -v.age_s))
    return views


@functools.lru_cache(maxsize=16)
def _image(runtime: str) -> str:
    # Hashes the runtime's files: once per process (a new image means a
    # new deployment, and with it new processes).
    return runtime_image(runtime)


def read_state(rows, client) -> RedisState:
    """The Redis state of `rows`' environments, in one pipeline: per node
    its busy, served and memory hashes and its generic lists, per (node,
    revision) its idle set."""
    nodes = sorted({r.node for r in rows})
    runtimes = sorted({r.runtime for r in rows})
    revisions = sorted({(r.node, str(r.revision)) for r in rows if r.revision is not None})
    pipe = client.pipeline(transaction=False)
    for node in nodes:
        pipe.hgetall(busy_key(node))
        pipe.hgetall(served_key(node))
        pipe.hgetall(memory_key(node))
        for runtime in runtimes:
            pipe.lrange(generic_key(_image(runtime), node), 0, -1)
    for node, revision in revisions:
        pipe.zrange(idle_key(revision, node), 0, -1, withscores=True)
    replies = iter(pipe.execute())
    busy, served, memory, generic = {}, {}, {}, set()
    for _node in nodes:
        busy.update({k.decode(): float(v) for k, v in next(replies).items()})
        served.update({k.decode(): int(v) for k, v in next(replies).items()})
        memory.update({k.decode(): int(float(v)) for k, v in next(replies).items()})
        for _runtime in runtimes:
            generic.update(m.decode() for m in next(replies))
    idle_by_revision = {key: {m.decode(): s for m, s in next(replies)} for key in revisions}
    idle = {}
    for row in rows:
        if row.revision is None:
            continue
        used_at = idle_by_revision.get((row.node, str(row.revision)), {}).get(row.id)
        if used_at is not None:
            idle[row.id] = used_at
    return RedisState(busy=busy, idle=idle, generic=generic, served=served, memory=memory)


def scopes_of_row(row) -> tuple[str, ...]:
    return scopes_of(row.function_id, row.function.team_id if row.function else None, row.state == "generic")


def snapshots(scopes: list[str]) -> dict[str, list[EnvironmentView]]:
    """The environments of each of `scopes` as they are now: one query and
    one Redis pipeline for all of them."""
    if not scopes:
        return {}
    where = Q()
    for scope in scopes:
        where |= scope_filter(scope)
    rows = list(Environment.objects.filter(where).select_related("function__team"))
    state = RedisState({}, {}, set(), {}, {})
    if rows:
        state = redis_link.quietly(lambda c: read_state(rows, c), "environment states")
    views = assemble(rows, state, timezone.now().timestamp())
    by_id = {r.id: r for r in rows}
    found: dict[str, list[EnvironmentView]] = {scope: [] for scope in scopes}
    for view in views:
        for scope in scopes_of_row(by_id[view.id]):
            if scope in found:
                found[scope].append(view)
    return found


def snapshot(scope: str) -> list[EnvironmentView]:
    """The environments of `scope` as they are now."""
    return snapshots([scope])[scope]


def recent_events(scopes: list[str], limit: int = 30) -> list[dict]:
    """The last `limit` environment events of `scopes`, newest first: dicts
    of `t` (epoch s), `env` (id), `kind` (started, specialised, cold,
    reaped, oom, removed), `text`."""
    def read(client):
        pipe = client.pipeline(transaction=False)
        for scope in scopes:
            pipe.lrange(events_key(scope), 0, limit - 1)
        return pipe.execute()

    lists = redis_link.quietly(read, "environment events", default=[]) or []
    events = [json.loads(raw) for found in lists for raw in found]
    events.sort(key=lambda e: e["t"], reverse=True)
    return events[:limit]


def store_events(pipe, scoped_events: list[tuple[tuple[str, ...], dict]]) -> None:
    """Queue, on a Redis pipeline, each event at the head of its scopes'
    lists, keeping the last EVENTS_KEPT of each."""
    touched = set()
    for scopes, event in scoped_events:
        text = json.dumps(event)
        for scope in scopes:
            pipe.lpush(events_key(scope), text)
            touched.add(scope)
    for scope in touched:
        pipe.ltrim(events_key(scope), 0, EVENTS_KEPT - 1)
