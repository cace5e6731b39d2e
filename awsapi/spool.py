"""Large bodies both ways, without holding them in memory: a request body
streamed to a file (S3's PutObject and UploadPart), hashed on the way, and
a slice of a file streamed out (GetObject).

The door spools a streaming-input operation's body into the directory its
service names (the same file system as the service's storage, so the
service can `os.replace` the file into place) and hands the handler a
`SpooledBody`; whatever the handler did not move is removed afterwards."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from awsapi import asgi

# Bytes gathered on the loop before one write on a door thread.
WRITE_EVERY = 1024 * 1024
READ_CHUNK = 1024 * 1024
# Bodies' last writes and answers' slices up to this size are done where
# they are, not on another door thread: a hand-off costs more than them.
INLINE_WRITE = 256 * 1024
INLINE_READ = 256 * 1024


class BodyTooLarge(Exception):
    def __init__(self, limit: int, seen: int):
        super().__init__(f"body over {limit} bytes")
        self.limit = limit
        self.seen = seen


class MalformedChunks(Exception):
    """An `aws-chunked` body that does not follow its framing."""


class ClientGone(Exception):
    """The client disconnected before the end of its body."""


@dataclass
class SpooledBody:
    """A request body on disk: `path` (a temporary file), its `size`, and
    the MD5 and SHA-256 of its bytes, hex."""

    path: Path
    size: int = 0
    md5: str = ""
    sha256: str = ""
    # spool(sync_later=True): the file, written whole but not yet fsynced.
    unsynced: object = field(default=None, repr=False)

    def sync(self) -> None:
        """fsync the file if spool(sync_later=True) left it to the caller
        (on the thread that is about to use it: one hand-off less); call
        before anything names the file."""
        file, self.unsynced = self.unsynced, None
        if file is not None:
            try:
                os.fsync(file.fileno())
            finally:
                file.close()

    def discard(self) -> None:
        if self.unsynced is not None:
            self.unsynced.close()
            self.unsynced = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class _Dechunker:
    """`aws-chunked` framing (`<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n`
    ... `0\\r\\n<trailers>\\r\\n`) -> the payload. Only unsigned chunks are
    taken (STREAMING-UNSIGNED-PAYLOAD-TRAILER: boto3 over HTTPS); the
    trailing checksum headers are not checked."""

    def __init__(self) -> None:
        self.buffer = b""
        self.remaining = 0  # data bytes left in the current chunk
        self.need_crlf = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out = []
        while not self.done:
            if self.remaining:
                take = self.buffer[: self.remaining]
                out.append(take)
                self.buffer = self.buffer[len(take):]
                self.remaining -= len(take)
                if self.remaining:
                    break
                self.need_crlf = True
            if self.need_crlf:
                if len(self.buffer) < 2:
                    break
                if self.buffer[:2] != b"\r\n":
                    raise MalformedChunks("a chunk does not end with CRLF")
                self.buffer = self.buffer[2:]
                self.need_crlf = False
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                if len(self.buffer) > 4096:
                    raise MalformedChunks("a chunk header is too long")
                break
            header = self.buffer[:line_end].split(b";", 1)[0].strip()
            try:
                size = int(header, 16)
            except ValueError:
                raise MalformedChunks(f"bad chunk size {header[:20]!r}") from None
            self.buffer = self.buffer[line_end + 2:]
            if size == 0:
                self.done = True  # trailers follow; ignored
            self.remaining = size
        return b"".join(out)


@dataclass
class _Writer:
    body: SpooledBody
    limit: int
    md5: object = field(default_factory=hashlib.md5)
    sha256: object = field(default_factory=hashlib.sha256)
    pending: list[bytes] = field(default_factory=list)
    pending_size: int = 0
    file: object = None

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.body.size += len(data)
        if self.body.size > self.limit:
            raise BodyTooLarge(self.limit, self.body.size)
        self.pending.append(data)
        self.pending_size += len(data)

    def flush(self) -> None:
        data = b"".join(self.pending)
        self.pending, self.pending_size = [], 0
        self.md5.update(data)
        self.sha256.update(data)
        self.file.write(data)


async def spool(
    receive, directory: Path, limit: int, *, chunked: bool = False, sync_later: bool = False
) -> SpooledBody:
    """Read the request body into a new file in `directory`, fsynced.
    Raises BodyTooLarge past `limit` payload bytes (the file is removed).
    `sync_later`: the last (small) write is made here and the fsync is
    left to the caller's `SpooledBody.sync()`, on its own thread."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
    body = SpooledBody(Path(name))
    writer = _Writer(body, limit, file=os.fdopen(fd, "wb"))
    dechunker = _Dechunker() if chunked else None
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone("the client went away during the upload")
            data = message.get("body", b"")
            writer.add(dechunker.feed(data) if dechunker else data)
            if writer.pending_size >= WRITE_EVERY:
                await asgi.in_thread(writer.flush)
            if not message.get("more_body"):
                break
        if dechunker and not dechunker.done:
            raise MalformedChunks("the body ended before its last chunk")
        if sync_later and writer.pending_size <= INLINE_WRITE:
            # A small write to the page cache: on the loop, not worth a hand-off.
            writer.flush()
            writer.file.flush()
            body.unsynced = writer.file
        else:
            await asgi.in_thread(_finish, writer)
    except BaseException:
        writer.file.close()
        body.discard()
        raise
    body.md5, body.sha256 = writer.md5.hexdigest(), writer.sha256.hexdigest()
    return body


def _finish(writer: _Writer) -> None:
    writer.flush()
    writer.file.flush()
    os.fsync(writer.file.fileno())
    writer.file.close()


class FileSlice:
    """`length` bytes of an open file from `start`, sent in chunks. The file
    is opened by the handler, so a concurrent replacement that unlinks it
    changes nothing for this answer."""

    def __init__(self, file, start: int, length: int) -> None:
        self.file = file
        self.start = start
        self.length = length
        self.data: bytes | None = None

    def _read(self, position: int, size: int) -> bytes:
        return os.pread(self.file.fileno(), size, position)

    def read_now(self, limit: int = INLINE_READ) -> None:
        """Read a slice of at most `limit` bytes now, on the caller's (door)
        thread, and close the file: it is sent without another hand-off."""
        if self.length > limit or self.data is not None:
            return
        try:
            data = self._read(self.start, self.length)
            if len(data) != self.length:
                raise OSError("the file ended before its recorded size")
            self.data = data
        finally:
            self.close()

    async def chunks(self):
        if self.data is not None:
            yield self.data
            return
        position, left = self.start, self.length
        try:
            while left > 0:
                data = await asgi.in_thread(self._read, position, min(READ_CHUNK, left))
                if not data:
                    raise OSError("the file ended before its recorded size")
                position += len(data)
                left -= len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        self.file.close()
