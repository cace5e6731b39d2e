"""The host half of the AWS door of environments (boto3 inside functions).

Functions have network `none`. The bootstrap listens on 127.0.0.1:4566
inside the container and relays each TCP connection over the Unix socket
`aws.sock` in the environment's socket folder; here, in the worker process
that leases the environment, a listener on that socket joins each
connection to the platform's web server (`upstream`, host:port), which
serves it through the AWS front door like any other client. Bytes are
copied as they arrive, 64 KB at a time with back-pressure (no request is
held whole), so HTTP keep-alive and large S3 bodies pass unchanged.

One asyncio loop on a daemon thread per worker process serves every
environment that process has leased. Environments outlive workers and may
be leased by another worker process of the node next time, so `ensure` is
called before each init and each invoke: it binds the socket again when
this process did not bind the file at that path (a new process, or another
process bound it since). A listener whose environment folder is gone is
closed. Importable without Django.

Isolation: the socket lives in the environment's own socket folder, which
only that container mounts (the folder is root's and 0711 once specialised,
envdirs.lock_socket_dir); so a function can reach its own door and no
other environment's."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

log = logging.getLogger(__name__)

SOCKET_NAME = "aws.sock"
OWNER_NAME = "aws.owner"
CHUNK = 64 * 1024


class Forwarder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        # socket path -> (server, identity of the socket file it bound, upstream)
        self._servers: dict[str, tuple[asyncio.base_events.Server, tuple, str]] = {}
        # socket path -> identity of the file its parent process bound (see ensure)
        self._borrowed: dict[str, tuple] = {}
        if hasattr(os, "register_at_fork"):
            # A forked child's copy of the table names servers of the parent's
            # loop: forgotten at the fork, so the warm path needs no getpid().
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._servers = {}
        self._borrowed = {}
        self._loop = None
        self._pid = 0

    def ensure(self, socket_dir: str, upstream: str, shared: bool = False) -> str:
        """Listen on `<socket_dir>/aws.sock` (mode 0666: the sandbox user
        connects) and forward to `upstream` ("host:port"); return the path.
        Cheap when this process already listens there: no lock, one stat
        (the file may have been bound since by another worker process that
        leased the environment; only the file's identity tells). Also cheap
        when this process's parent (the Celery worker's main process, which
        outlives its prefork children) listens there and said so: `shared`
        binds write OWNER_NAME beside the socket folder (pid and the file's
        identity), and a child uses its parent's door rather than binding
        again: the first call on an environment the node's upkeep
        initialised (provisioned concurrency) then costs no bind."""
        path = os.path.join(socket_dir, SOCKET_NAME)
        entry = self._servers.get(path)  # one dict read: atomic, no lock needed
        if entry is not None and entry[2] == upstream:
            try:
                if entry[1] == _identity(path):
                    return path
            except FileNotFoundError:
                pass
        if not shared and self._parents_door(socket_dir, path, upstream):
            return path
        with self._lock:
            self._start()
            entry = self._servers.get(path)
            try:
                identity = _identity(path)
            except FileNotFoundError:
                identity = None
            if entry is not None and entry[1] == identity and entry[2] == upstream:
                return path
            if entry is not None:
                self._close(path)
            self._prune()
            future = asyncio.run_coroutine_threadsafe(self._listen(path, upstream), self._loop)
            server, identity = future.result(timeout=10)
            self._servers[path] = (server, identity, upstream)
            self._borrowed.pop(path, None)
            if shared:
                _write_owner(socket_dir, identity, upstream)
        return path

    def _parents_door(self, socket_dir: str, path: str, upstream: str) -> bool:
        """Whether the file at `path` is the one this process's parent bound
        for `upstream` (its OWNER_NAME says so); remembered by identity."""
        try:
            identity = _identity(path)
        except FileNotFoundError:
            return False
        if self._borrowed.get(path) == identity:
            return True
        try:
            with open(os.path.join(os.path.dirname(socket_dir), OWNER_NAME)) as f:
                pid, dev, ino, ctime, owner_upstream = f.read().split()
        except (OSError, ValueError):
            return False
        if int(pid) != os.getppid() or owner_upstream != upstream:
            return False
        if (int(dev), int(ino), int(ctime)) != identity:
            return False
        self._borrowed[path] = identity
        return True

    def forget(self, socket_dir: str) -> None:
        """Stop listening for an environment that is going away."""
        path = os.path.join(socket_dir, SOCKET_NAME)
        with self._lock:
            if path in self._servers and self._pid == os.getpid():
                self._close(path)

    def _start(self) -> None:
        if self._pid == os.getpid() and self._loop is not None:
            return
        # A forked child (Celery prefork) inherits no running thread: start anew.
        self._servers = {}
        self._loop = asyncio.new_event_loop()
        self._pid = os.getpid()
        threading.Thread(target=self._loop.run_forever, daemon=True, name="aws-forwarder").start()

    def _close(self, path: str) -> None:
        server = self._servers.pop(path)[0]
        self._loop.call_soon_threadsafe(server.close)

    def _prune(self) -> None:
        for path in [p for p in self._servers if not os.path.isdir(os.path.dirname(p))]:
            self._close(path)
        for path in [p for p in self._borrowed if not os.path.isdir(os.path.dirname(p))]:
            self._borrowed.pop(path, None)

    async def _listen(self, path: str, upstream: str):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        host, port = upstream.rsplit(":", 1)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _join(reader, writer, host, int(port))

        server = await asyncio.start_unix_server(handle, path=path, limit=CHUNK)
        os.chmod(path, 0o666)
        return server, _identity(path)


def _write_owner(socket_dir: str, identity: tuple, upstream: str) -> None:
    """OWNER_NAME beside the socket folder (the environment's own folder,
    not mounted in its container): this pid, the bound file's identity."""
    owner = os.path.join(os.path.dirname(socket_dir), OWNER_NAME)
    try:
        with open(owner + ".tmp", "w") as f:
            f.write(f"{os.getpid()} {identity[0]} {identity[1]} {identity[2]} {upstream}")
        os.replace(owner + ".tmp", owner)
    except OSError as e:  # the children bind their own door then
        log.warning("could not record the AWS door's owner in %s: %s", owner, e)


def _identity(path: str) -> tuple[int, int, int]:
    """Which file is at `path`: an inode number alone is reused as soon as
    a file is removed, so its change time (ns) comes with it."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_ctime_ns


async def _join(reader, writer, host: str, port: int) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port, limit=CHUNK)
    except OSError as exc:
        log.warning("AWS door: cannot reach the web server at %s:%s: %s", host, port, exc)
        writer.close()
        return
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        for w in (writer, up_writer):
            w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()  # back-pressure: never more than a chunk or so in memory
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()  # half-close: the answer may still be coming the other way
        except (ConnectionError, OSError, RuntimeError):
            pass


_forwarder = Forwarder()
ensure = _forwarder.ensure
forget = _forwarder.forget
