"""ASGI plumbing for the doors that skip Django's request handling: the
Lambda Invoke operation and API Gateway-style HTTP routes.

Django's ASGI handler sends the request signals through a new thread and
runs each sync view in a thread of its own, and its middleware adds headers
API Gateway never sends. These doors run on the server's event loop
instead: they read the body themselves, build a Django request only as a
convenient view of the scope, answer with raw ASGI messages, and move
database work (cache misses only) to a pool of long-lived threads."""

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpResponse

_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=settings.STRATUS_API_THREADS, thread_name_prefix="door"
        )
    return _executor


def _in_thread(func, args):
    # What Django's request signals would do: drop a connection that broke
    # or outlived CONN_MAX_AGE before using it.
    close_old_connections()
    return func(*args)


async def in_thread(func, *args):
    """func(*args) on a door thread (database work), awaited."""
    return await asyncio.get_running_loop().run_in_executor(executor(), _in_thread, func, args)


async def read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is longer than `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def django_request(scope, body: bytes) -> ASGIRequest:
    return ASGIRequest(scope, io.BytesIO(body))


async def send_response(send, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    """One whole response; Content-Length is added unless the caller set it
    (a HEAD answer's is the length of the body it would have had)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if not any(k.lower() == "content-length" for k, _ in headers):
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_django(send, response: HttpResponse, *, head: bool = False) -> None:
    """A Django response as it is: its headers and cookies, and nothing
    that middleware would have added."""
    headers = [(k, v) for k, v in response.items() if k.lower() != "content-length"]
    for cookie in response.cookies.values():
        headers.append(("Set-Cookie", cookie.output(header="").strip()))
    await send_response(send, response.status_code, b"" if head else response.content, headers)
