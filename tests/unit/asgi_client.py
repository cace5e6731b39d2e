"""Requests through the production ASGI application (console.asgi), for the
doors served before Django (Lambda's Invoke, the AWS front door, HTTP
routes) and the Django views beside them: unit tests drive the code that
runs in production, not a Django view that never does."""

import asyncio
import json
from urllib.parse import quote, urlsplit

from asgiref.sync import async_to_sync

from console.asgi import application


class Response:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes):
        self.status_code = status
        self.header_list = [(k.decode().lower(), v.decode()) for k, v in headers]
        self.headers = dict(self.header_list)
        self.content = content

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.headers

    def json(self):
        return json.loads(self.content)


def call(method: str, url: str, body: bytes = b"", headers: dict | None = None) -> Response:
    """One request; `url` is a path with an optional query string."""
    parts = urlsplit(url)
    raw_path = quote(parts.path, safe="/%:@!$&'()*+,;=~")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": parts.path, "raw_path": raw_path.encode(),
        "query_string": parts.query.encode(), "root_path": "", "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items() if k.lower() != "host"],
    }
    sent: list[dict] = []
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)] or [b""]
    answered: asyncio.Event | None = None

    async def receive():
        nonlocal answered
        if not chunks:
            # The body was read: the client stays until it has its answer
            # (Django listens for the disconnect while its view runs).
            answered = answered or asyncio.Event()
            await answered.wait()
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        nonlocal answered
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered = answered or asyncio.Event()
            answered.set()

    async_to_sync(application)(scope, receive, send)
    start = sent[0]
    return Response(start["status"], start["headers"], b"".join(m.get("body", b"") for m in sent[1:]))
