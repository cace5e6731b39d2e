"""Provisioned versions read before their first call, in every worker
process that serves calls.

The worker keeps a function's published versions per process
(invocations.runner.function_for): the first call of a version in a
process reads it (one query). For a version kept by provisioned
concurrency that first call is Lambda's promise of warm speed, so a thread
in each such process reads every provisioned configuration's versions
ahead of it: when a configuration, function, version or alias changes
(the `<instance>:changed` announcements of functions.changes: "provisioned",
"function"; everything after a reconnect) and every REFRESH_S. A version
never changes once published, so only new ones cost a query."""

from __future__ import annotations

import logging
import threading

import redis
from django.conf import settings
from django.db import close_old_connections

from functions import changes, qualifiers
from functions.models import Alias, ProvisionedConcurrencyConfig
from invocations import runner

log = logging.getLogger(__name__)
REFRESH_S = 10.0
_started = False


def start() -> None:
    """Start this process's reading thread (once)."""
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=_serve, name="provisioned-versions", daemon=True).start()


def _serve() -> None:
    while True:
        client = None
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(changes.channel())
            _quietly()  # subscribed: anything announced from now on is heard
            while True:
                message = pubsub.get_message(timeout=REFRESH_S)
                if message is None or message["data"] in (b"provisioned", b"function"):
                    _quietly()
        except redis.RedisError as e:
            log.debug("provisioned versions: Redis unreachable (%s); reading every %s s", e, REFRESH_S)
            _quietly()
            threading.Event().wait(REFRESH_S)
        finally:
            if client is not None:
                client.close()


def _quietly() -> None:
    try:
        close_old_connections()
        preload()
    except Exception as e:  # noqa: BLE001 - the next round tries again; a call reads its version itself
        log.warning("could not read the provisioned versions: %s", e)


def wanted() -> set[tuple[str, str]]:
    """(function id, version) of every provisioned configuration: a
    version's own, an alias's version and its additional version."""
    configs = list(ProvisionedConcurrencyConfig.objects.values_list("function_id", "qualifier"))
    found = {(str(fid), q) for fid, q in configs if qualifiers.is_version(q)}
    alias_names = [q for _, q in configs if not qualifiers.is_version(q)]
    if alias_names:
        configured = {(fid, q) for fid, q in configs}
        for alias in Alias.objects.filter(function_id__in={fid for fid, _ in configs}, name__in=alias_names):
            if (alias.function_id, alias.name) not in configured:
                continue
            extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
            for version in (alias.function_version, *extra):
                if qualifiers.is_version(str(version)):
                    found.add((str(alias.function_id), str(version)))
    return found


def preload() -> int:
    """Read the provisioned versions this process does not have yet (one
    query each); returns how many were read."""
    read = 0
    for function_id, version in wanted():
        if not runner.has_version(function_id, version):
            read += runner.function_for(function_id, None, version) is not None
    return read
