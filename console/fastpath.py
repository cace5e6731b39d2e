"""The Lambda Invoke operation without Django's per-request machinery.

Django's ASGI handler sends the request signals through a new thread for
every request and runs sync views in a thread of their own; for an Invoke,
that was most of the web server's time. This wrapper takes only
`POST /2015-03-31/functions/<name>/invocations`: the same view code
(functions.lambda_api) runs in a pool of long-lived threads (their database
connections and Celery producers are reused), and a sync caller then waits on
a Redis subscription held by a task on the server's own event loop
(invocations/done_listener.py AsyncDoneListener) without holding a thread. Everything
else goes to Django unchanged."""

import asyncio
import io
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections

from console.env import envint
from invocations.done_listener import async_listener

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# The largest body worth reading: Lambda's 6 MB sync payload, plus slack so
# the view itself answers RequestTooLargeException.
MAX_BODY = 6 * 1024 * 1024 + 1024


class InvokeFastPath:
    def __init__(self, django_app) -> None:
        self.django_app = django_app
        self.executor = ThreadPoolExecutor(
            max_workers=envint("STRATUS_API_THREADS", 32), thread_name_prefix="invoke"
        )

    async def __call__(self, scope, receive, send):
        match = None
        if scope["type"] == "http" and scope["method"] == "POST":
            match = INVOKE_PATH.match(scope["path"])
        if match is None:
            return await self.django_app(scope, receive, send)
        body = await self._read_body(receive)
        if body is None:
            return await self.django_app.send_response(_too_large(), send)
        request = ASGIRequest(scope, io.BytesIO(body))
        response = await self._invoke(request, match["name"])
        await self.django_app.send_response(response, send)

    async def _invoke(self, request, function_name: str):
        from functions import lambda_api
        from invocations import waiting

        loop = asyncio.get_running_loop()
        request_id = str(uuid.uuid4())
        done = async_listener(loop)
        waiter = await done.expect(request_id)
        try:
            outcome = await loop.run_in_executor(
                self.executor, _in_thread, lambda_api.begin_invoke, request, function_name, request_id
            )
            if not isinstance(outcome, lambda_api.PendingInvoke):
                return outcome
            deadline = loop.time() + outcome.wait_s
            while (remaining := deadline - loop.time()) > 0:
                if await waiter.wait_async(min(waiting.RECHECK_S, remaining)):
                    break
                if await loop.run_in_executor(
                    self.executor, _in_thread, waiting.is_finished, outcome.request_id
                ):
                    break
        finally:
            done.forget(request_id)
        answer = waiter.outcome()
        if answer is not None:
            # The answer came with the wake-up: no thread, no database.
            return lambda_api.finished_invoke(request, outcome.request_id, answer)
        return await loop.run_in_executor(
            self.executor, _in_thread, lambda_api.complete_invoke, request, outcome
        )

    async def _read_body(self, receive) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def _in_thread(func, *args):
    # What Django's request signals would do: drop a connection that broke
    # or outlived CONN_MAX_AGE before using it.
    close_old_connections()
    return func(*args)


def _too_large():
    from functions import lambda_errors

    return lambda_errors.too_large(MAX_BODY, "the Invoke operation").response()
