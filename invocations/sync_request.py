"""What travels on the sync lane: one sync call, from the web to a worker.

A sync call has no database row before it runs (invocations.dispatch), so
the message carries everything the worker needs to run and then record it.
It is one line of JSON; the web's push script appends, one per line, the
live groups someone is watching right now, so the worker streams the
running row and its logs without asking Redis again."""

import json
import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class SyncRequest:
    """request_id, function_id, revision: UUIDs as text. event: the
    payload's JSON text (<= 6 MB, Lambda's sync limit). created_at and
    expires_at: epoch seconds; a worker that pops the call after expires_at
    drops it (its caller was told it failed). slot: whether the web took a
    concurrency slot the worker must give back. version: the version that
    runs ("$LATEST" or "3": the function's revision or the version's);
    qualifier: what the caller named ("", "$LATEST", "3" or an alias), for the
    invokedFunctionArn. client_context: Invoke's ClientContext decoded (JSON
    text, <= 3583 bytes base64 before; "" when none)."""

    request_id: str
    function_id: str
    revision: str
    event: str
    source: str
    trigger: str = ""
    priority: str = "normal"
    created_at: float = field(default_factory=time.time)
    expires_at: float = 0.0
    slot: bool = False
    version: str = "$LATEST"
    qualifier: str = ""
    client_context: str = ""

    def encode(self) -> str:
        # Not dataclasses.asdict: it deep-copies, at a cost per call.
        return json.dumps({name: getattr(self, name) for name in self.__slots__}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: bytes | str) -> tuple["SyncRequest", list[str]]:
        """The request and the watched groups the push appended."""
        text = raw.decode() if isinstance(raw, bytes) else raw
        line, *watched = text.split("\n")
        return cls(**json.loads(line)), watched
