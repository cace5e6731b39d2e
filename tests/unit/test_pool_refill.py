"""pool.refill with several runtimes: one whose environments cannot start
(its image missing on this node) does not keep the others from refilling;
Redis unreachable is one line for the outage, not a traceback a runtime."""

import logging

import redis

from invocations import pool, redis_link


class FakeRedis:
    def llen(self, key):
        return 0


def test_a_runtime_that_cannot_start_is_skipped_not_fatal(monkeypatch, settings, caplog):
    settings.STRATUS_RUNTIMES = ["python3.11", "nodejs20.x", "nodejs22.x"]
    settings.STRATUS_POOL_SIZE = 2
    monkeypatch.setattr(pool.redis_link, "client", lambda: FakeRedis())
    monkeypatch.setattr(pool, "runtime_image", lambda runtime: f"stratus/{runtime}:x")
    started = []

    def start_generic(runtime):
        if runtime == "nodejs20.x":
            raise RuntimeError("No such image: stratus/nodejs20.x:x")
        started.append(runtime)
        return f"env-{len(started)}"

    monkeypatch.setattr(pool, "start_generic", start_generic)
    assert pool.refill() == 4
    assert started == ["python3.11"] * 2 + ["nodejs22.x"] * 2
    assert "could not refill the nodejs20.x pool" in caplog.text
    # Said once, not every round.
    caplog.clear()
    pool.refill()
    assert "could not refill" not in caplog.text


class UnreachableRedis:
    def llen(self, key):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def rpush(self, key, *values):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_redis_unreachable_starts_nothing_and_logs_the_outage_once(monkeypatch, settings, caplog):
    settings.STRATUS_RUNTIMES = ["python3.11", "nodejs20.x", "nodejs22.x"]
    settings.STRATUS_POOL_SIZE = 2
    monkeypatch.setattr(redis_link, "outage", redis_link._Outage())
    monkeypatch.setattr(pool.redis_link, "client", lambda: UnreachableRedis())
    monkeypatch.setattr(pool, "runtime_image", lambda runtime: f"stratus/{runtime}:x")
    started = []
    monkeypatch.setattr(pool, "start_generic", started.append)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert pool.refill() == 0
    assert started == []
    assert [r.getMessage() for r in caplog.records] == [
        "Redis unreachable (pool refill: Error 111 connecting to 127.0.0.1:6379. Connection refused.); "
        "carrying on without it"
    ]
    assert not any(r.exc_info for r in caplog.records)
    # Nor is a runtime marked as failing: back with Redis, all refill at once.
    monkeypatch.setattr(pool.redis_link, "client", lambda: FakeRedis())
    monkeypatch.setattr(pool, "start_generic", lambda runtime: started.append(runtime) or runtime)
    assert pool.refill() == 6


def test_an_environment_that_cannot_join_the_pool_is_removed(monkeypatch, settings, db):
    """start_generic with Redis gone between the container's start and its
    RPUSH: the container nobody could lease goes again."""
    from invocations import sandbox

    monkeypatch.setattr(redis_link, "outage", redis_link._Outage())
    monkeypatch.setattr(pool.redis_link, "client", lambda: UnreachableRedis())
    monkeypatch.setattr(pool, "runtime_image", lambda runtime: f"stratus/{runtime}:x")
    monkeypatch.setattr(pool, "docker_client", lambda: None)
    monkeypatch.setattr(sandbox, "start_environment",
                        lambda client, spec: sandbox.StartedEnvironment(
                            container_id="c1", socket_path="", task_dir="", memory_mb=spec.memory_mb,
                            env_id=spec.env_id, min_cpus=0))
    removed = []
    monkeypatch.setattr(pool, "discard", lambda env_id, why="removed", kind="removed": removed.append(why))
    assert pool.start_generic("python3.11") is None
    assert removed == ["removed: Redis was unreachable, so it could not join the pool"]
