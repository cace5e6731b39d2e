"""pool.refill with several runtimes: one whose environments cannot start
(its image missing on this node) does not keep the others from refilling."""

from invocations import pool


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

    monkeypatch.setattr(pool, "start_generic", start_generic)
    assert pool.refill() == 4
    assert started == ["python3.11"] * 2 + ["nodejs22.x"] * 2
    assert "could not refill the nodejs20.x pool" in caplog.text
    # Said once, not every round.
    caplog.clear()
    pool.refill()
    assert "could not refill" not in caplog.text
