"""ASGI plumbing for the doors that skip Django's request handling: the
Lambda Invoke operation, API Gateway-style HTTP routes, the AWS front door
and the console's upload.

Django's ASGI handler sends the request signals through a new thread and
runs each sync view in a thread of its own, and its middleware adds headers
API Gateway never sends. These doors run on the server's event loop
instead: they read the body themselves, build a Django request only as a
convenient view of the scope, answer with raw ASGI messages, and move
database work (cache misses only) to a pool of long-lived threads."""

import asyncio
import io
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpResponse

_executor: ThreadPoolExecutor | None = None
# The most of an unread request body a door reads and drops after deciding
# its answer, to keep the connection; a longer one closes it instead.
DRAIN_MAX = 1024 * 1024


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


async def peek_body(receive, limit: int) -> tuple[bytes, Callable[[], Awaitable[dict]]]:
    """(the body's first bytes: all of it when it is at most `limit` bytes,
    a receive that gives the whole body again from its first message)."""
    messages, size = [], 0
    while size <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break
        size += len(message.get("body", b""))
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")

    async def replay():
        return messages.pop(0) if messages else await receive()

    return body, replay


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


@dataclass
class _BodyState:
    ended: bool = False  # the last body chunk (or the disconnect) was received
    asked: bool = False  # receive() was called: uvicorn has sent 100 Continue


def finishing_body(scope, receive, send):
    """(receive, send) for a door that may answer before it read the
    request's body (a refusal, a size limit, an unknown operation).

    HTTP/1.1 keeps the connection for the next request, so the server must
    consume the rest of the body or close the connection (RFC 9112 9.3,
    RFC 9110 10.1.1 for Expect: 100-continue). boto3 sends PutObject with
    `Expect: 100-continue` and, shown a final status first, never sends
    the body: uvicorn's parser would then take the next request's first
    bytes for the body it still expects, and answer that request
    400 "Invalid HTTP request". So when the answer starts before the body
    ended: a body its client was never asked for (100 Continue not sent),
    or longer than DRAIN_MAX, gets `connection: close` on the answer; a
    shorter one is read and dropped first, keeping the connection."""
    if scope["type"] != "http":
        return receive, send
    state = _BodyState()
    expects_continue = any(
        name == b"expect" and value.lower() == b"100-continue" for name, value in scope["headers"]
    )

    async def tracked_receive():
        state.asked = True
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            state.ended = True
        return message

    async def finishing_send(message):
        if message["type"] == "http.response.start" and not state.ended:
            if (expects_continue and not state.asked) or not await _drain(tracked_receive, state):
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return tracked_receive, finishing_send


async def _drain(receive, state: _BodyState) -> bool:
    """Read and drop the rest of the body, up to DRAIN_MAX bytes; whether
    it ended."""
    size = 0
    while not state.ended and size <= DRAIN_MAX:
        size += len((await receive()).get("body", b""))
    return state.ended
