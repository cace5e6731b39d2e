"""A worker process uses the AWS door another live process of the node bound
for an environment (invocations.aws_forwarder: OWNER_NAME beside the socket
folder), so calls rotating across a Celery worker's prefork children do not
bind it again each call; a door whose owner has exited is bound anew, and a
record that does not name the file, the upstream or the very process (a
reused pid) is not trusted. The other processes here are real forked ones."""

import errno
import hashlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from invocations import aws_forwarder
from tests.unit.test_aws_forwarder import post, read_response, upstream  # noqa: F401 - a fixture

FORK = multiprocessing.get_context("fork")


@pytest.fixture(autouse=True, params=["pidfd", "no pidfd"])
def pidfds(request, monkeypatch):
    """Each test with pidfds and where pidfd_open is refused (old kernels,
    seccomp): the owner is then told by its pid and start time."""
    if request.param == "no pidfd":
        def refused(pid, flags=0):
            raise OSError(errno.ENOSYS, "pidfd_open refused")
        monkeypatch.setattr(aws_forwarder.os, "pidfd_open", refused)


@pytest.fixture
def env_dir():
    base = tempfile.mkdtemp(prefix="stratus-fw-")  # short: sun_path is 108 bytes
    os.mkdir(os.path.join(base, "sock"))
    yield base
    shutil.rmtree(base)


def answered(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        post(sock, [b"x"], 1)
        return read_response(sock).split()[0].decode() == hashlib.sha256(b"x").hexdigest()


def identity(path: str) -> tuple:
    return aws_forwarder._identity(path)  # inode numbers alone are reused at once


def _bind_and_wait(socket_dir: str, upstream: str, replace: bool, conn) -> None:  # noqa: F811
    if replace:  # as a worker before this change did: bind whatever the file was
        os.unlink(os.path.join(socket_dir, aws_forwarder.SOCKET_NAME))
    forwarder = aws_forwarder.Forwarder()
    path = forwarder.ensure(socket_dir, upstream)
    conn.send((identity(path), path in forwarder._servers))
    signal.pause()  # listening until killed


@pytest.fixture
def sibling():
    """start(socket_dir, upstream, replace=False): another process (a forked
    one, as a prefork sibling is) ensures the door and keeps it open until
    killed; returns (process, identity of the file at the path)."""
    started = []

    def start(socket_dir, upstream, replace=False):  # noqa: F811
        mine, theirs = FORK.Pipe()
        proc = FORK.Process(target=_bind_and_wait, args=(socket_dir, upstream, replace, theirs), daemon=True)
        proc.start()
        started.append(proc)
        assert mine.poll(20), "the sibling did not bind"
        bound, binds = mine.recv()
        proc.binds = binds  # whether it bound the door itself
        return proc, bound

    yield start
    for proc in started:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)


def test_a_door_a_live_sibling_bound_is_used_without_binding(upstream, env_dir, sibling):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    proc, bound = sibling(socket_dir, upstream)
    assert proc.binds
    here = aws_forwarder.Forwarder()
    path = here.ensure(socket_dir, upstream)
    assert here._servers == {} and here._loop is None  # no bind, no loop of its own
    assert identity(path) == bound and answered(path)
    for _ in range(3):  # warm calls: still the sibling's door
        assert here.ensure(socket_dir, upstream) == path and here._servers == {}
    assert identity(path) == bound


def test_a_child_uses_the_door_its_parent_bound(upstream, env_dir, sibling):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    here = aws_forwarder.Forwarder()  # the worker's main process, initialising
    path = here.ensure(socket_dir, upstream)
    bound = identity(path)
    child, seen = sibling(socket_dir, upstream)  # a prefork child taking the call
    assert not child.binds and seen == bound == identity(path) and answered(path)
    here.forget(socket_dir)


def test_calls_rotating_between_two_processes_bind_once_each_at_most(upstream, env_dir, sibling):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    here = aws_forwarder.Forwarder()
    path = here.ensure(socket_dir, upstream)  # this process specialised the environment
    _, bound = sibling(socket_dir, upstream, replace=True)  # a sibling bound it since
    assert identity(path) == bound
    here.ensure(socket_dir, upstream)  # the next call here takes the sibling's door
    assert path not in here._servers  # and lets its own, orphaned listener go
    assert identity(path) == bound and answered(path)


def test_when_the_owner_dies_the_next_call_binds_again(upstream, env_dir, sibling):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    proc, bound = sibling(socket_dir, upstream)
    here = aws_forwarder.Forwarder()
    path = here.ensure(socket_dir, upstream)
    assert here._servers == {}
    os.kill(proc.pid, signal.SIGKILL)  # a prefork child recycled
    proc.join(10)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(path)  # nobody listens on the file it left
    assert here.ensure(socket_dir, upstream) == path
    assert path in here._servers and identity(path) != bound and answered(path)
    with open(os.path.join(env_dir, aws_forwarder.OWNER_NAME)) as f:
        assert int(f.read().split()[0]) == os.getpid()  # the record names the new owner
    here.forget(socket_dir)


def test_an_owner_that_exited_but_is_not_reaped_yet_is_dead(upstream, env_dir, sibling):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    proc, bound = sibling(socket_dir, upstream)
    os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while b") Z " not in open(f"/proc/{proc.pid}/stat", "rb").read():  # a zombie: pid and start time kept
        assert time.monotonic() < deadline
        time.sleep(0.01)
    here = aws_forwarder.Forwarder()
    path = here.ensure(socket_dir, upstream)
    assert path in here._servers and identity(path) != bound and answered(path)
    here.forget(socket_dir)


def test_another_upstream_is_not_borrowed(upstream, env_dir, sibling):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    _, bound = sibling(socket_dir, "127.0.0.1:9")  # a door to somewhere else
    here = aws_forwarder.Forwarder()
    path = here.ensure(socket_dir, upstream)
    assert path in here._servers and identity(path) != bound and answered(path)
    here.forget(socket_dir)


def test_a_reused_pid_is_not_taken_for_the_owner(upstream, env_dir):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    first = aws_forwarder.Forwarder()
    path = first.ensure(socket_dir, upstream)
    first._servers.clear()  # forgotten without closing: as if its process had exited ...
    owner = os.path.join(env_dir, aws_forwarder.OWNER_NAME)
    with open(owner) as f:
        fields = f.read().split()
    other = subprocess.Popen(["sleep", "60"])  # ... and its pid now named another process
    try:
        fields[0] = str(other.pid)  # the record's start time is not this one's
        with open(owner, "w") as f:
            f.write(" ".join(fields))
        bound = identity(path)
        here = aws_forwarder.Forwarder()
        here.ensure(socket_dir, upstream)
        assert path in here._servers and identity(path) != bound and answered(path)
        here.forget(socket_dir)
    finally:
        other.kill()
        other.wait()


def test_forget_removes_the_door_so_no_one_borrows_a_closed_one(upstream, env_dir):  # noqa: F811
    socket_dir = os.path.join(env_dir, "sock")
    here = aws_forwarder.Forwarder()
    path = here.ensure(socket_dir, upstream)
    here.forget(socket_dir)
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.join(env_dir, aws_forwarder.OWNER_NAME))
