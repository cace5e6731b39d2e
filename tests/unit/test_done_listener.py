"""invocations.done_listener.Waiter: how a woken caller learns of it."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from invocations.done_listener import Waiter


def run(coro):
    # In a thread of its own, beside any loop the browser tests run.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_an_async_waiter_times_out_then_sees_a_later_wake():
    async def go():
        waiter = Waiter(asyncio.get_running_loop())
        assert await waiter.wait_async(0.01) is False
        threading.Thread(target=waiter.wake, args=(b'{"status": "succeeded"}',)).start()
        assert await waiter.wait_async(5) is True
        assert await waiter.wait_async(5) is True  # stays woken
        return waiter.outcome()

    assert run(go()) == {"status": "succeeded"}


def test_a_wake_before_the_wait_is_not_lost():
    async def go():
        waiter = Waiter(asyncio.get_running_loop())
        waiter.wake()
        await asyncio.sleep(0)  # the loop runs the wake-up first
        return await waiter.wait_async(5), waiter.outcome()

    # A bare "1" (the worker had no answer to send along) means: read the row.
    assert run(go()) == (True, None)


def test_a_blocking_waiter():
    waiter = Waiter()
    assert waiter.wait(0.01) is False
    threading.Timer(0.01, waiter.wake).start()
    assert waiter.wait(5) is True


def test_the_async_listener_wakes_its_waiter_on_its_own_loop(redis_url, settings):
    import redis
    from invocations.done_listener import AsyncDoneListener

    settings.REDIS_URL = redis_url
    publisher = redis.Redis.from_url(redis_url)

    async def go():
        loop = asyncio.get_running_loop()
        done = AsyncDoneListener(loop)
        waiter = await done.expect("r-1")
        other = await done.expect("r-2")
        # Subscribed before expect() returned, so this cannot be missed.
        await loop.run_in_executor(None, publisher.publish, done.prefix + "r-1", b'{"status": "failed"}')
        woken = await waiter.wait_async(5)
        not_woken = await other.wait_async(0.05)
        done.forget("r-1")
        done.forget("r-2")
        done.task.cancel()
        return woken, not_woken, waiter.outcome(), done.waiters

    assert run(go()) == (True, False, {"status": "failed"}, {})
