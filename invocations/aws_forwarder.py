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
called before each init and each invoke. Every bind records its owner
(OWNER_NAME beside the socket folder: pid, the process's start time, the
socket file's identity, the upstream); a process that finds the file at
the path bound by a live owner for the same upstream uses that door as it
is, so calls rotating across a Celery worker's prefork children bind once,
not once per call. It binds the socket again when the file's owner is gone
(a recycled child: nothing would listen), when the record does not match
the file, or when the upstream differs. A listener whose environment
folder is gone is closed. Importable without Django.

Isolation: the socket lives in the environment's own socket folder, which
only that container mounts (the folder is root's and 0711 once specialised,
envdirs.lock_socket_dir); so a function can reach its own door and no
other environment's."""

from __future__ import annotations

import asyncio
import logging
import os
import select
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
        # socket path -> (identity of the file another live process bound, upstream,
        # the owner's pidfd or pid): see ensure
        self._borrowed: dict[str, tuple[tuple, str, _Owner]] = {}
        if hasattr(os, "register_at_fork"):
            # A forked child's copy of the table names servers of the parent's
            # loop: forgotten at the fork, so the warm path needs no getpid().
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._servers = {}
        for borrowed in self._borrowed.values():
            borrowed[2].close()  # the child's copies of the parent's pidfds
        self._borrowed = {}
        self._loop = None
        self._pid = 0

    def ensure(self, socket_dir: str, upstream: str) -> str:
        """Listen on `<socket_dir>/aws.sock` (mode 0666: the sandbox user
        connects) and forward to `upstream` ("host:port"); return the path.
        Cheap when this process already listens there: no lock, one stat
        (the file may have been bound since by another worker process that
        leased the environment; only the file's identity tells). As cheap
        when another live process listens there for `upstream` (a sibling
        prefork child, or the worker's main process, which initialises
        provisioned environments): OWNER_NAME beside the socket folder names
        the bound file and its owner, and a door so found is used as it is,
        remembered by the file's identity; each later call costs a stat and
        a poll of the owner's pidfd. When the owner has exited (a recycled
        child), the next `ensure` binds anew, so calls never meet a socket
        nobody listens on. Raises OSError (and ValueError for a malformed
        upstream) when the door cannot open, e.g. the folder is gone."""
        path = os.path.join(socket_dir, SOCKET_NAME)
        entry = self._servers.get(path)  # one dict read: atomic, no lock needed
        if entry is not None and entry[2] == upstream:
            try:
                if entry[1] == _identity(path):
                    return path
            except FileNotFoundError:
                pass
        if self._others_door(socket_dir, path, upstream):
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
            self._unborrow(path)
            _write_owner(socket_dir, identity, upstream)
        return path

    def _others_door(self, socket_dir: str, path: str, upstream: str) -> bool:
        """Whether the file at `path` is a door another live process bound
        for `upstream` (its OWNER_NAME says so); remembered by identity."""
        try:
            identity = _identity(path)
        except FileNotFoundError:
            return False
        borrowed = self._borrowed.get(path)
        if borrowed is not None:
            if borrowed[0] == identity and borrowed[1] == upstream and borrowed[2].alive():
                return True
            with self._lock:
                self._unborrow(path)
        try:
            with open(os.path.join(os.path.dirname(socket_dir), OWNER_NAME)) as f:
                pid, started, dev, ino, ctime, owner_upstream = f.read().split()
            pid, started, recorded = int(pid), int(started), (int(dev), int(ino), int(ctime))
        except (OSError, ValueError):
            return False
        if pid == os.getpid() or owner_upstream != upstream or recorded != identity:
            return False
        owner = _Owner.of(pid, started)
        if owner is None:
            return False
        with self._lock:
            if path in self._servers and self._pid == os.getpid():
                self._close(path)  # this process's listener on a file since replaced
            self._unborrow(path)
            self._borrowed[path] = (identity, upstream, owner)
        return True

    def _unborrow(self, path: str) -> None:
        borrowed = self._borrowed.pop(path, None)
        if borrowed is not None:
            borrowed[2].close()

    def forget(self, socket_dir: str) -> None:
        """Stop listening for an environment that is going away; the socket
        file and OWNER_NAME go too when they are still this process's, so
        no other process takes the closed door for a live one."""
        path = os.path.join(socket_dir, SOCKET_NAME)
        with self._lock:
            self._unborrow(path)
            if path in self._servers and self._pid == os.getpid():
                identity = self._servers[path][1]
                self._close(path)
                try:
                    if _identity(path) == identity:
                        os.unlink(path)
                        os.unlink(os.path.join(os.path.dirname(socket_dir), OWNER_NAME))
                except FileNotFoundError:
                    pass

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
            self._unborrow(path)

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
    not mounted in its container): "pid start-time dev inode ctime-ns
    upstream", this process and the file it bound. Written to a temporary
    file of this pid's and renamed, so a reader sees a whole record."""
    owner = os.path.join(os.path.dirname(socket_dir), OWNER_NAME)
    tmp = f"{owner}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            pid = os.getpid()
            f.write(f"{pid} {_start_time(pid)} {identity[0]} {identity[1]} {identity[2]} {upstream}")
        os.replace(tmp, owner)
    except OSError as e:  # other processes bind their own door then
        log.warning("could not record the AWS door's owner in %s: %s", owner, e)


def _start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, /proc/<pid>/stat
    field 22): with the pid, names one process even after pids wrap. None
    when there is no such process or it has exited (a zombie, not yet
    reaped by its parent, still has its pid and start time)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        # pid (comm) state ...: comm may hold spaces and parentheses, so split after the last ")".
        fields = stat.rsplit(b")", 1)[1].split()
        return None if fields[0] in (b"Z", b"X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


class _Owner:
    """A live process that owns a door, watched through a pidfd (Linux
    5.3+): readable once the process has exited, and never another process
    even if its pid is reused. Where pidfd_open is refused, the pid and its
    start time are read again each time."""

    def __init__(self, pid: int, started: int, fd: int | None) -> None:
        self.pid, self.started, self.fd = pid, started, fd
        if fd is not None:
            self._poll = select.poll()  # not select(): no FD_SETSIZE limit on the fd
            self._poll.register(fd, select.POLLIN)

    @classmethod
    def of(cls, pid: int, started: int) -> _Owner | None:
        """The process `pid` if it is alive and started at `started`, else None."""
        fd = None
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None
        except (AttributeError, OSError):  # no pidfds here: fall back on the pid
            pass
        owner = cls(pid, started, fd)
        # Checked after the pidfd opened, so the pidfd names this very process.
        if _start_time(pid) != started or not owner.alive():
            owner.close()
            return None
        return owner

    def alive(self) -> bool:
        if self.fd is not None:
            return not self._poll.poll(0)
        return _start_time(self.pid) == self.started

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


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
