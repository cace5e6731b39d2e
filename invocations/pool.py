"""The pool of warm environments, shared by every worker process through the
Environment table. Leasing is a conditional UPDATE (idle -> busy) that must
change exactly one row, so two workers never share an environment."""

import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import timedelta

import docker
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console import fastsql
from functions.models import Function
from invocations import envdirs, sandbox
from invocations.models import Environment
from runtimes.build import runtime_image

log = logging.getLogger(__name__)
_clients: dict[int, docker.DockerClient] = {}


def docker_client() -> docker.DockerClient:
    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()
        _clients[pid] = docker.from_env(timeout=60)
    return _clients[pid]


def platform_labels() -> dict:
    return {"stratus.platform": "stratus", "stratus.instance": settings.STRATUS_INSTANCE}


@dataclass
class Lease:
    env: Environment
    cold: bool
    init_ms: float | None


def lease(fn: Function) -> Lease:
    """A warm idle environment for the function's revision, or a new one."""
    recent = _recent.pop(fn.revision, None)
    # First the environment this process pooled last (no SELECT), then the
    # most recently used others: the rest stay idle and get reaped, so a
    # burst's extra environments scale back down.
    if recent is not None and _take(recent):
        return Lease(recent, cold=False, init_ms=None)
    candidates = Environment.objects.filter(revision=fn.revision, state="idle").order_by(
        "-last_used_at"
    )[:8]
    for env in candidates:
        if _take(env):
            return Lease(env, cold=False, init_ms=None)
    return _start(fn)


def _take(env: Environment) -> bool:
    """idle -> busy: a conditional UPDATE that one worker alone can win."""
    now = timezone.now()
    if fastsql.update(Environment, {"id": env.id, "state": "idle"}, {"state": "busy", "leased_at": now}):
        env.state, env.leased_at = "busy", now
        return True
    return False


def _start(fn: Function) -> Lease:
    env_id = uuid.uuid4().hex
    socket_dir, task_dir = envdirs.environment_dirs(str(settings.STRATUS_ENV_DIR), env_id)
    with transaction.atomic():
        # The row exists before the container, so the reaper can find and
        # remove a container whose worker died while starting it.
        env = Environment.objects.create(
            id=env_id, function=fn, revision=fn.revision, state="busy", leased_at=timezone.now()
        )
    spec = sandbox.EnvironmentSpec(
        env_id=env_id,
        image=runtime_image(fn.runtime),
        socket_dir=socket_dir,
        task_dir=task_dir,
        memory_mb=fn.memory_mb,
        labels={
            **platform_labels(),
            "stratus.function": str(fn.id),
            "stratus.revision": str(fn.revision),
        },
        tmp_mb=settings.STRATUS_TMP_MB,
        pids_limit=settings.STRATUS_PIDS_LIMIT,
        nofile=settings.STRATUS_NOFILE,
        min_cpus=settings.STRATUS_MIN_CPUS,
    )
    config = sandbox.FunctionConfig(
        code_dir=str(fn.code.files_dir),
        handler=fn.handler,
        function_name=fn.name,
        function_version="$LATEST",
        memory_mb=fn.memory_mb,
        env_vars=dict(fn.environment),
        region=settings.STRATUS_REGION,
    )
    try:
        started = sandbox.start_for_function(docker_client(), spec, config)
    except Exception:
        discard(env)
        raise
    env.container_id = started.container_id
    env.socket_path = started.socket_path
    env.save(update_fields=["container_id", "socket_path"])
    return Lease(env, cold=True, init_ms=started.init_ms)


def release(env: Environment) -> None:
    env.invocations_count += 1
    fastsql.update(Environment, {"id": env.id, "state": "busy"}, {
        "state": "idle", "last_used_at": timezone.now(), "invocations_count": env.invocations_count,
    })
    _recent[env.revision] = env


# Per worker process: the environment it pooled last for each revision.
_recent: dict = {}


def discard(env: Environment) -> None:
    """Remove the container, its socket folder and its row."""
    if env.container_id:
        try:
            sandbox.destroy(docker_client(), env.container_id)
        except Exception:
            log.exception("could not remove container %s", env.container_id)
    shutil.rmtree(settings.STRATUS_ENV_DIR / env.id, ignore_errors=True)
    Environment.objects.filter(id=env.id).delete()


def reap(keep_alive_s: int | None = None) -> int:
    """Scale to zero: remove environments idle past the keep-alive, stale
    ones (old revision, deleted function), busy ones whose worker is long
    gone, and containers that have no row at all (orphans of a crash)."""
    keep_alive = settings.STRATUS_KEEP_ALIVE if keep_alive_s is None else keep_alive_s
    now = timezone.now()
    removed = 0
    for env in Environment.objects.select_related("function"):
        fn = env.function
        idle = env.state == "idle"
        idle_too_long = idle and env.last_used_at < now - timedelta(seconds=keep_alive)
        stale = fn is None or env.revision != fn.revision
        limit = (fn.timeout_s if fn else 900) + 120
        since = env.leased_at or env.created_at
        lost = not idle and since < now - timedelta(seconds=limit)
        if (stale and idle) or idle_too_long or lost:
            # Take it out of the pool first, so nobody leases it meanwhile.
            taken = Environment.objects.filter(id=env.id, state="idle").update(state="busy")
            if idle and taken != 1:
                continue
            discard(env)
            removed += 1
    known = set(Environment.objects.values_list("container_id", flat=True))
    for container in sandbox.list_environments(docker_client(), platform_labels()):
        created = container.attrs["Created"]  # ISO 8601, so strings compare as times
        if container.id not in known and created < (now - timedelta(seconds=60)).isoformat():
            sandbox.destroy(docker_client(), container.id)
            removed += 1
    return removed
