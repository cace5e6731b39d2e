"""Execution environments of this node, and which of them are free.

Containers and their Environment rows are made when an environment starts
and removed when it goes; which environments are idle or busy right now is
kept in Redis, per node (the keys: invocations.env_keys), so a warm call
costs two Redis commands and no database write:

| key | type | holds |
|---|---|---|
| `<instance>:idle:<node>:<revision>` | sorted set | idle environments of a revision, by last use |
| `<instance>:busy:<node>` | hash | leased environment -> lease time (epoch seconds) |

A lease pops the most recently used idle environment (ZPOPMAX, one Lua
script with the busy mark), so two workers never share one and the rest
age out and are reaped: a burst's extra environments scale back down. A
worker leases only environments of its own node (STRATUS_NODE) and talks to
its own Docker engine (DOCKER_HOST). The reaper (`reap`, run by every node's
worker) removes idle environments past the keep-alive, those of old
revisions or deleted functions, leases older than their function's timeout
(the worker died), rows nobody accounts for (Redis restarted) and
containers without a row.

The pre-warmed pool: every node keeps STRATUS_POOL_SIZE *generic*
environments per runtime started (`refill`, from the node's upkeep): a
container with an empty code folder, in the list
`<instance>:generic:<node>:<runtime image>`. A first call of a function
takes one and specialises it (invocations.sandbox.specialise: the code is
placed from the host side, the memory resized, the handler imported) in a
few milliseconds instead of starting a container. A specialised
environment serves that function revision only, until it is reaped: one
function's code and /tmp never reach another."""

import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import docker
from django.conf import settings
from django.utils import timezone

from awsapi import principals
from functions import layers
from functions.models import Function, FunctionVersion
from invocations import env_live, env_state, nodes, redis_link, sandbox
from invocations.env_keys import PROVISIONED_SCORE, busy_key, generic_key, idle_key, memory_key, served_key
from invocations.envdirs import SOCKET_NAME, environment_dirs, opt_dir_beside
from invocations.models import Environment
from runtimes.build import runtime_image

log = logging.getLogger(__name__)
_clients: dict[int, docker.DockerClient] = {}
# A lease older than its function's timeout plus this is a dead worker's.
LOST_LEASE_MARGIN_S = 120
MAX_TIMEOUT_S = 900  # Lambda's longest function timeout

# KEYS: idle set, busy hash[, running mark, workers hash]; ARGV: now[,
# worker id, ttl]. The running mark (which worker runs a sync call) and a
# beat of that worker ride on the lease's round trip, found or not.
_LEASE = """
if KEYS[3] then
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
end
local got = redis.call('ZPOPMAX', KEYS[1])
if #got == 0 then return false end
redis.call('HSET', KEYS[2], got[1], ARGV[1])
return got
"""
_lease_script = None


def docker_client() -> docker.DockerClient:
    """This process's client of the node's engine (DOCKER_HOST)."""
    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()
        _clients[pid] = docker.from_env(timeout=60)
    return _clients[pid]


def platform_labels() -> dict:
    return {"stratus.platform": "stratus", "stratus.instance": settings.STRATUS_INSTANCE}


def node_labels() -> dict:
    return {**platform_labels(), "stratus.node": nodes.node()}


def env_dir(env_id: str) -> Path:
    return settings.STRATUS_ENV_DIR / env_id


def dirs(env_id: str) -> tuple[str, str]:
    """(socket folder, task folder) of an environment."""
    return environment_dirs(str(settings.STRATUS_ENV_DIR), env_id)


def socket_path(env_id: str) -> str:
    return os.path.join(dirs(env_id)[0], SOCKET_NAME)


def container_name(env_id: str) -> str:
    return f"stratus-{env_id}"


@dataclass
class Lease:
    """An environment held by one invocation until released or discarded."""

    env_id: str
    revision: str
    cold: bool
    init_ms: float | None = None
    # Where the environments views show it (invocations.env_state scopes).
    scopes: tuple[str, ...] = ()
    # The call's max memory used (MB), kept for the views when given back.
    max_memory_used_mb: int | None = None
    # Kept initialised by provisioned concurrency: given back as such.
    provisioned: bool = False

    @property
    def socket_path(self) -> str:
        return socket_path(self.env_id)

    @property
    def container(self) -> str:
        return container_name(self.env_id)


def lease(fn: Function, running: tuple[str, str, int] | None = None) -> Lease:
    """An environment for the function's revision on this node: a warm idle
    one, else a pre-warmed generic one specialised for it, else a new one
    (the last two are cold starts). `running`: (request id, worker id, TTL
    in s) of a sync call, marked as run by this worker in the same Redis
    round trip. Raises what starting one raises."""
    warm, provisioned = _pop_idle(fn.revision, running)
    if warm is not None:
        held = Lease(warm, str(fn.revision), cold=False, scopes=_scopes(fn), provisioned=provisioned)
        env_live.touch(held.scopes)
        return held
    # A generic environment's /tmp is STRATUS_TMP_MB (a tmpfs size is set
    # when the container starts): a function asking another size starts cold.
    generic = take_generic(fn.runtime) if _tmp_mb(fn) == settings.STRATUS_TMP_MB else None
    if generic is not None:
        env_live.touch((env_state.POOL,))
        held = specialise(generic, fn)
        if held is not None:
            return held
    return start(fn)


def _scopes(fn: Function) -> tuple[str, ...]:
    return env_state.scopes_of(fn.id, fn.team_id, generic=False)


def take_idle(revision, running: tuple[str, str, int] | None = None) -> str | None:
    """Pop an idle environment of `revision` and mark it busy; None when
    there is none (or Redis is down: the call then starts one cold)."""
    return _pop_idle(revision, running)[0]


def _pop_idle(revision, running: tuple[str, str, int] | None = None) -> tuple[str | None, bool]:
    """take_idle, and whether the environment is a provisioned one."""
    keys, args = [idle_key(revision), busy_key()], [time.time()]
    if running is not None:
        request_id, worker, ttl_s = running
        keys += [nodes.running_key(request_id), nodes.workers_key()]
        args += [worker, ttl_s]

    def pop(client):
        global _lease_script
        if _lease_script is None:
            _lease_script = client.register_script(_LEASE)
        return _lease_script(keys=keys, args=args, client=client)

    found = redis_link.quietly(pop, "environment lease")
    if not found:
        return None, False
    return found[0].decode(), float(found[1]) >= PROVISIONED_SCORE


def release_to(pipe, held: Lease) -> None:
    """Queue, on a Redis pipeline, giving a healthy environment back, and
    count the call it served (and its max memory) for the environments
    views: on the same pipeline, so no extra round trip. Call `released`
    once the pipeline has run."""
    pipe.hdel(busy_key(), held.env_id)
    score = time.time() + (PROVISIONED_SCORE if held.provisioned else 0)
    pipe.zadd(idle_key(held.revision), {held.env_id: score})
    pipe.hincrby(served_key(), held.env_id, 1)
    if held.max_memory_used_mb is not None:
        pipe.hset(memory_key(), held.env_id, held.max_memory_used_mb)


def released(held: Lease) -> None:
    """After a release pipeline ran: the environments views show it warm
    (coalesced, rendered off this thread, only when someone watches)."""
    env_live.touch(held.scopes)


def release(held: Lease) -> None:
    """Give a healthy environment back (outside a pipeline)."""

    def put(client):
        pipe = client.pipeline(transaction=False)
        release_to(pipe, held)
        pipe.execute()

    if redis_link.quietly(put, "environment release", default=False) is False:
        # Nobody can lease it without Redis: rather than leak it, remove it.
        discard(held.env_id, "removed: Redis unreachable when it was given back")
    else:
        released(held)


def _tmp_mb(fn: Function) -> int:
    """The size of the function's /tmp in MB (Lambda's EphemeralStorage)."""
    return fn.ephemeral_storage_mb or settings.STRATUS_TMP_MB


def _spec(
    env_id: str, image: str, memory_mb: int, labels: dict, tmp_mb: int | None = None,
) -> sandbox.EnvironmentSpec:
    """`tmp_mb`: the /tmp size (a function's EphemeralStorage); None:
    STRATUS_TMP_MB, the generic environments' size."""
    socket_dir, task_dir = dirs(env_id)
    return sandbox.EnvironmentSpec(
        env_id=env_id, image=image, socket_dir=socket_dir, task_dir=task_dir,
        memory_mb=memory_mb, labels={**node_labels(), **labels},
        tmp_mb=tmp_mb or settings.STRATUS_TMP_MB, pids_limit=settings.STRATUS_PIDS_LIMIT,
        nofile=settings.STRATUS_NOFILE, min_cpus=settings.STRATUS_MIN_CPUS,
    )


def _config(fn: Function, provisioned: bool = False) -> sandbox.FunctionConfig:
    # Each environment gets credentials of its own (awsapi.principals), and
    # its AWS calls reach this node's web server (invocations.aws_forwarder).
    # `fn` may be a version (functions.qualifiers): AWS_LAMBDA_FUNCTION_VERSION
    # and the log stream's [version] say which. Layers: their folders for
    # /opt, and Lambda's PATH, LD_LIBRARY_PATH (and NODE_PATH) under the
    # function's own variables, which win.
    return sandbox.FunctionConfig(
        code_dir=str(fn.code.files_dir), handler=fn.handler, function_name=fn.name,
        function_version=fn.executed_version,
        memory_mb=fn.memory_mb, env_vars={**layers.runtime_environment(fn.runtime), **fn.environment},
        region=settings.STRATUS_REGION,
        credentials=principals.issue(fn), aws_upstream=settings.STRATUS_AWS_UPSTREAM,
        runtime=fn.runtime, **_logging(fn),
        # LoggingConfig.LogGroup as AWS_LAMBDA_LOG_GROUP_NAME ("": /aws/lambda/<name>).
        log_group=(fn.logging_config or {}).get("LogGroup", ""),
        layer_dirs=layers.content_dirs(fn),
        initialization_type="provisioned-concurrency" if provisioned else "on-demand",
    )


def _logging(fn: Function) -> dict:
    """FunctionConfig's log fields from Lambda's LoggingConfig (fn.logging_config:
    LogFormat, ApplicationLogLevel, SystemLogLevel; Lambda's defaults Text,
    INFO, INFO)."""
    config = getattr(fn, "logging_config", None) or {}
    return {
        "log_format": config.get("LogFormat") or "Text",
        "application_log_level": config.get("ApplicationLogLevel") or "INFO",
        "system_log_level": config.get("SystemLogLevel") or "INFO",
    }


def start(fn: Function, provisioned: bool = False) -> Lease:
    """Start an environment for the function (a cold start without the pool);
    `provisioned`: for provisioned concurrency (invocations.provisioning)."""
    env_id = uuid.uuid4().hex
    # The row exists before the container, so the reaper can find and
    # remove a container whose worker died while starting it.
    Environment.objects.create(
        id=env_id, node=nodes.node(), runtime=fn.runtime, function=fn, revision=fn.revision,
        memory_mb=fn.memory_mb, state="ready", specialised_at=timezone.now(),
    )
    redis_link.quietly(lambda c: c.hset(busy_key(), env_id, time.time()), "environment lease")
    labels = {"stratus.function": str(fn.id), "stratus.revision": str(fn.revision)}
    try:
        started = sandbox.start_for_function(
            docker_client(), _spec(env_id, runtime_image(fn.runtime), fn.memory_mb, labels, _tmp_mb(fn)),
            _config(fn, provisioned),
        )
    except BaseException:
        discard(env_id, "removed: its container could not start")
        raise
    Environment.objects.filter(id=env_id).update(container_id=started.container_id)
    scopes = _scopes(fn)
    env_live.event(scopes, env_id, "cold", f"started cold for {fn.name} ({fn.memory_mb} MB)")
    return Lease(env_id, str(fn.revision), cold=True, init_ms=started.init_ms, scopes=scopes,
                 provisioned=provisioned)


# The pre-warmed pool: generic environments ---------------------------------------

_TAKE_GENERIC = """
local id = redis.call('LPOP', KEYS[1])
if not id then return false end
redis.call('HSET', KEYS[2], id, ARGV[1])
return id
"""
_take_generic_script = None


def take_generic(runtime: str) -> str | None:
    """Pop a started generic environment of `runtime` and mark it busy."""

    def pop(client):
        global _take_generic_script
        if _take_generic_script is None:
            _take_generic_script = client.register_script(_TAKE_GENERIC)
        key = generic_key(runtime_image(runtime))
        return _take_generic_script(keys=[key, busy_key()], args=[time.time()], client=client)

    found = redis_link.quietly(pop, "generic environment")
    return found.decode() if found else None


def specialise(env_id: str, fn: Function, provisioned: bool = False) -> Lease | None:
    """Make a generic environment the function's: its code placed from the
    host side, its memory resized if needed, the handler imported. None
    (the environment removed) when that fails: the caller starts one cold."""
    row = Environment.objects.filter(id=env_id).first()
    if row is None or not row.container_id:
        discard(env_id, "removed: its container is gone")
        return None
    socket_dir, task_dir = dirs(env_id)
    # A generic environment started without an /opt folder (an older
    # Stratus) has none: sandbox.specialise refuses it a function with layers.
    opt_dir = opt_dir_beside(task_dir)
    started = sandbox.StartedEnvironment(
        container_id=row.container_id, socket_path=socket_path(env_id), task_dir=task_dir,
        memory_mb=row.memory_mb, env_id=env_id, min_cpus=settings.STRATUS_MIN_CPUS,
        opt_dir=opt_dir if os.path.isdir(opt_dir) else "",
    )
    try:
        done = sandbox.specialise(docker_client(), started, _config(fn, provisioned))
    except Exception as e:  # noqa: BLE001 - the call still runs, cold
        log.warning("could not specialise environment %s for %s: %s", env_id, fn.name, e)
        discard(env_id, f"removed: could not be specialised for {fn.name}")
        return None
    Environment.objects.filter(id=env_id).update(
        function=fn, revision=fn.revision, memory_mb=fn.memory_mb, state="ready",
        specialised_at=timezone.now(),
    )
    scopes = _scopes(fn)
    env_live.event(scopes, env_id, "specialised",
                   f"specialised from the pool for {fn.name} in {done.total_ms:.0f} ms")
    env_live.touch((env_state.POOL,))
    return Lease(env_id, str(fn.revision), cold=True, init_ms=done.total_ms, scopes=scopes,
                 provisioned=provisioned)


def start_generic(runtime: str) -> str | None:
    """Start one generic environment of `runtime` and add it to the pool;
    its id, or None when Redis (where the pool lives) is unreachable: the
    environment, which nobody could lease, is then removed again. Raises
    what starting its container raises (Docker, its image missing)."""
    env_id = uuid.uuid4().hex
    image = runtime_image(runtime)
    Environment.objects.create(
        id=env_id, node=nodes.node(), runtime=runtime, memory_mb=settings.STRATUS_POOL_MEMORY,
        state="generic",
    )
    try:
        started = sandbox.start_environment(
            docker_client(), _spec(env_id, image, settings.STRATUS_POOL_MEMORY, {"stratus.pool": runtime})
        )
    except BaseException:
        discard(env_id, "removed: its container could not start")
        raise
    Environment.objects.filter(id=env_id).update(container_id=started.container_id)
    if redis_link.quietly(lambda c: c.rpush(generic_key(image), env_id), "pool refill") is None:
        discard(env_id, "removed: Redis was unreachable, so it could not join the pool")
        return None
    env_live.event((env_state.POOL,), env_id, "started", f"pre-warmed {runtime} container started")
    return env_id


_refill_failing: set[str] = set()


def refill() -> int:
    """Start generic environments until every runtime has STRATUS_POOL_SIZE
    on this node; returns how many were started. A runtime whose
    environments cannot start (its image is not on this node's engine) is
    logged once and skipped, so it does not starve the runtimes after it.
    While Redis is unreachable nothing is started (the pool lives there):
    redis_link logs the outage once, for every runtime and every round."""
    started = 0
    for runtime in settings.STRATUS_RUNTIMES:
        try:
            key = generic_key(runtime_image(runtime))
            have = redis_link.quietly(lambda c, key=key: c.llen(key), "pool refill")
            if have is None:
                return started
            for _ in range(max(0, settings.STRATUS_POOL_SIZE - have)):
                if start_generic(runtime) is None:
                    return started
                started += 1
        except Exception:  # noqa: BLE001 - Docker, an image missing: next runtime
            if runtime not in _refill_failing:
                log.exception("could not refill the %s pool (is its image built? "
                              "python -m runtimes.build --all)", runtime)
            _refill_failing.add(runtime)
        else:
            _refill_failing.discard(runtime)
    return started


def discard(env_id: str, why: str = "removed", kind: str = "removed") -> None:
    """Remove the container, its folder, its row and its Redis marks.
    `why` is what the environments views' feed says (`kind`: removed,
    reaped, oom)."""
    try:
        sandbox.destroy(docker_client(), container_name(env_id))
    except Exception:  # noqa: BLE001 - the reaper removes what is left
        log.exception("could not remove environment %s", env_id)
    shutil.rmtree(env_dir(env_id), ignore_errors=True)
    row = Environment.objects.filter(id=env_id).values("state", "function_id", "function__team_id").first()
    Environment.objects.filter(id=env_id).delete()

    def forget(client):
        pipe = client.pipeline(transaction=False)
        pipe.hdel(busy_key(), env_id)
        pipe.hdel(served_key(), env_id)
        pipe.hdel(memory_key(), env_id)
        pipe.execute()

    redis_link.quietly(forget, "environment discard")
    if row is not None:
        scopes = env_state.scopes_of(row["function_id"], row["function__team_id"], row["state"] == "generic")
        env_live.event(scopes, env_id, kind, why)


def reap(keep_alive_s: float | None = None) -> int:
    """Scale this node to zero where idle; remove what nobody accounts for.
    Safe beside another reaper of the same node: each removal is decided
    by a ZREM/HDEL that only one of them wins. Returns how many it removed."""
    keep_alive = settings.STRATUS_KEEP_ALIVE if keep_alive_s is None else keep_alive_s
    client = redis_link.client()
    now = time.time()
    removed = 0
    rows = {e.id: e for e in Environment.objects.filter(node=nodes.node()).select_related("function")}
    idle_keys = list(client.scan_iter(match=idle_key("*"), count=500))
    idle: set[str] = set()
    live = _live_revisions(rows.values())
    for key in idle_keys:
        revision = key.decode().rsplit(":", 1)[1]
        for raw, used_at in client.zrange(key, 0, -1, withscores=True):
            env_id = raw.decode()
            row = rows.get(env_id)
            current = row is not None and revision in live.get(row.function_id, ())
            if current and used_at >= PROVISIONED_SCORE and not _credentials_ending(row, now):
                # Provisioned concurrency's: invocations.provisioning keeps
                # or removes it with its configuration, never the keep-alive
                # (only credentials about to end recycle it; the upkeep then
                # starts a fresh one).
                idle.add(env_id)
                continue
            if current and used_at >= now - keep_alive and not _credentials_ending(row, now):
                idle.add(env_id)
                continue
            if client.zrem(key, env_id):
                discard(env_id, _why_idle_goes(row, current, now - used_at, keep_alive), "reaped")
                removed += 1
    busy = {k.decode(): float(v) for k, v in client.hgetall(busy_key()).items()}
    for env_id, leased_at in list(busy.items()):
        row = rows.get(env_id)
        # A version's timeout may differ from $LATEST's: then the longest.
        same = row is not None and row.function is not None and row.revision == row.function.revision
        timeout = row.function.timeout_s if same else MAX_TIMEOUT_S
        if leased_at < now - timeout - LOST_LEASE_MARGIN_S and client.hdel(busy_key(), env_id):
            why = f"reaped: leased {now - leased_at:.0f} s ago, past its timeout (worker lost)"
            discard(env_id, why, "reaped")
            removed += 1
            busy.pop(env_id, None)
    generic: set[str] = set()
    current = {generic_key(runtime_image(r)) for r in settings.STRATUS_RUNTIMES}
    for key in client.scan_iter(match=generic_key("*"), count=500):
        members = [m.decode() for m in client.lrange(key, 0, -1)]
        if key.decode() in current:
            generic.update(members)
            continue
        # An older image of a runtime: its generic environments go.
        for env_id in members:
            if client.lrem(key, 1, env_id):
                discard(env_id, "reaped: an older runtime image", "reaped")
                removed += 1
    removed += _reap_unaccounted(rows, idle | set(busy) | generic)
    removed += _reap_orphan_containers()
    return removed


def _live_revisions(rows) -> dict:
    """function id -> the revisions its environments may serve: $LATEST's
    and each published version's (a version's environments are not "an
    older revision" of the function)."""
    live: dict = {}
    for row in rows:
        if row.function is not None:
            live.setdefault(row.function_id, {str(row.function.revision)})
    for function_id, revision in FunctionVersion.objects.filter(function_id__in=list(live)).values_list(
            "function_id", "revision"):
        live[function_id].add(str(revision))
    return live


def _why_idle_goes(row: Environment | None, current: bool, idle_s: float, keep_alive: float) -> str:
    if row is None or row.function is None:
        return "reaped: its function was deleted"
    if not current:
        return "reaped: its function changed since (an older revision, or a deleted version)"
    if idle_s > keep_alive:
        return f"reaped after {idle_s:.0f} s idle (keep-alive {keep_alive:.0f} s)"
    return "recycled: its credentials end soon"


def _credentials_ending(row: Environment, now: float) -> bool:
    """The environment's own AWS credentials (awsapi.principals, issued at
    its specialise) end before a call started now surely ends: it goes, as
    Lambda recycles its environments, and the next call starts a new one."""
    if row.specialised_at is None:
        return False
    margin = MAX_TIMEOUT_S + 2 * settings.STRATUS_REAP_INTERVAL
    return row.specialised_at.timestamp() + settings.STRATUS_FUNCTION_CREDENTIALS_S - margin <= now


def _reap_unaccounted(rows: dict, accounted: set[str]) -> int:
    """Rows neither idle nor busy in Redis (it restarted, or a worker died
    between the row and the lease) are removed once they have stayed so
    for longer than any call can last."""
    removed = 0
    now = timezone.now()
    for env_id, row in rows.items():
        if env_id in accounted:
            if row.orphan_since is not None:
                Environment.objects.filter(id=env_id).update(orphan_since=None)
            continue
        if row.orphan_since is None:
            if row.created_at < now - timedelta(seconds=60):
                Environment.objects.filter(id=env_id).update(orphan_since=now)
            continue
        limit = (row.function.timeout_s if row.function else 900) + LOST_LEASE_MARGIN_S
        if row.orphan_since < now - timedelta(seconds=limit):
            discard(env_id, "reaped: neither idle nor busy in Redis (restarted?)", "reaped")
            removed += 1
    return removed


def _reap_orphan_containers() -> int:
    removed = 0
    known = set(Environment.objects.filter(node=nodes.node()).values_list("id", flat=True))
    cutoff = (timezone.now() - timedelta(seconds=60)).isoformat()
    for container in sandbox.list_environments(docker_client(), node_labels()):
        env_id = container.labels.get("stratus.env", "")
        # ISO 8601, so strings compare as times.
        if env_id not in known and container.attrs["Created"] < cutoff:
            sandbox.destroy(docker_client(), container.id)
            removed += 1
    return removed
