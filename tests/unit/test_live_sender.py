"""invocations.live's sender sends through the channel layer configured
now, not the one it found when it started: a process whose CHANNEL_LAYERS
changes (the test suite: in-memory by default, a real Redis where a test
asks for one) must not send to a layer nobody listens on any more."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from invocations import live


def _drained(sender: live._Sender) -> None:
    """Wait until the sender's loop has taken what was queued (its drain
    runs before a coroutine scheduled after the send)."""
    for _ in range(2):
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), sender.loop).result(timeout=10)


def test_a_sender_started_on_one_layer_sends_through_the_one_configured_later(
    redis_url, settings, monkeypatch
):
    sender = live._Sender()
    monkeypatch.setattr(live, "_sender", sender)
    # Started while the in-memory layer is configured (tests/settings.py).
    assert type(get_channel_layer()).__name__ == "InMemoryChannelLayer"
    live.send(["nobody"], "<p>before</p>")
    _drained(sender)

    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [redis_url], "prefix": "stratus-live-sender"},
    }}
    layer = get_channel_layer()

    async def watch_then_receive():
        channel = await layer.new_channel()
        await layer.group_add("fn-watched", channel)
        live.send(["fn-watched"], "<p>after</p>")
        return await asyncio.wait_for(layer.receive(channel), timeout=10)

    message = async_to_sync(watch_then_receive)()
    assert message == {"type": "html.fragment", "html": "<p>after</p>"}
