"""The node upkeep wakes on a "provisioned" announcement (a configuration
saved: PutProvisionedConcurrencyConfig, or UpdateAlias moving a provisioned
alias), so it starts the environments at once, not after its sleep; against
a real redis-server."""

import threading

import redis

from functions import changes
from invocations import node_upkeep


def test_a_provisioned_announcement_wakes_the_upkeep(redis_url, settings, monkeypatch):
    settings.REDIS_URL = redis_url
    woken = threading.Event()
    monkeypatch.setattr(node_upkeep, "_provisioned_changed", woken)
    threading.Thread(target=node_upkeep._listen, daemon=True).start()
    assert woken.wait(30)  # subscribed: one round at once, in case a change was missed
    woken.clear()
    client = redis.Redis.from_url(redis_url)
    try:
        # Another change (a function's) is not the upkeep's business.
        assert client.publish(changes.channel(), "function") == 1
        assert client.publish(changes.channel(), "provisioned") == 1
        assert woken.wait(30)
    finally:
        client.close()
