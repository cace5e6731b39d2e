"""awsapi.spool's small-body shortcuts: a body's last write made on the loop
with its fsync left to the handler's thread, and a small slice read by the
handler; the bytes are the same either way."""

import asyncio
import hashlib

from awsapi import spool


def _receive(parts: list[bytes]):
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                for i, p in enumerate(parts)]

    async def receive():
        return messages.pop(0)

    return receive


def test_a_body_synced_later_is_whole_and_synced_by_its_user(tmp_path):
    body = asyncio.run(spool.spool(_receive([b"abc", b"def"]), tmp_path, 100, sync_later=True))
    assert body.unsynced is not None  # left to the handler's thread
    assert body.path.read_bytes() == b"abcdef"  # written, if not yet on the disk
    assert (body.size, body.sha256) == (6, hashlib.sha256(b"abcdef").hexdigest())
    body.sync()
    assert body.unsynced is None
    body.sync()  # twice is harmless
    body.discard()
    assert not body.path.exists()


def test_a_body_discarded_before_its_sync_closes_its_file(tmp_path):
    body = asyncio.run(spool.spool(_receive([b"abc"]), tmp_path, 100, sync_later=True))
    file = body.unsynced
    body.discard()
    assert file.closed and not body.path.exists()


def test_without_sync_later_the_body_is_synced_before_it_is_returned(tmp_path):
    body = asyncio.run(spool.spool(_receive([b"abc"]), tmp_path, 100))
    assert body.unsynced is None and body.path.read_bytes() == b"abc"


def _sent(piece: spool.FileSlice) -> bytes:
    async def collect():
        return b"".join([chunk async for chunk in piece.chunks()])

    return asyncio.run(collect())


def test_a_small_slice_is_read_at_once_and_its_file_closed(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"0123456789")
    piece = spool.FileSlice(open(path, "rb"), 2, 5)
    piece.read_now()
    assert piece.file.closed and piece.data == b"23456"
    assert _sent(piece) == b"23456"


def test_a_large_slice_is_left_to_the_stream(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"0123456789")
    piece = spool.FileSlice(open(path, "rb"), 0, 10)
    piece.read_now(limit=4)
    assert piece.data is None and not piece.file.closed
    assert _sent(piece) == b"0123456789"
