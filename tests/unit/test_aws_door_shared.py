"""A prefork child uses the AWS door its worker's main process opened for
an environment (invocations.aws_forwarder: `shared` binds and OWNER_NAME),
and binds its own for any other owner."""

import hashlib
import os
import shutil
import socket
import tempfile

import pytest

from invocations import aws_forwarder
from tests.unit.test_aws_forwarder import post, read_response, upstream  # noqa: F401 - a fixture


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


def test_a_child_uses_its_parents_shared_door_without_binding(upstream, env_dir, monkeypatch):  # noqa: F811
    parent, child = aws_forwarder.Forwarder(), aws_forwarder.Forwarder()
    socket_dir = os.path.join(env_dir, "sock")
    path = parent.ensure(socket_dir, upstream, shared=True)
    assert os.path.exists(os.path.join(env_dir, aws_forwarder.OWNER_NAME))
    monkeypatch.setattr(aws_forwarder.os, "getppid", os.getpid)  # the parent is this process
    bound = os.stat(path).st_ino
    assert child.ensure(socket_dir, upstream) == path
    assert child._servers == {} and child._loop is None  # no bind, no loop of its own
    assert os.stat(path).st_ino == bound and answered(path)
    assert child.ensure(socket_dir, upstream) == path and child._servers == {}
    parent.forget(socket_dir)


def test_a_child_binds_its_own_door_for_any_other_owner(upstream, env_dir, monkeypatch):  # noqa: F811
    parent, child = aws_forwarder.Forwarder(), aws_forwarder.Forwarder()
    socket_dir = os.path.join(env_dir, "sock")
    path = parent.ensure(socket_dir, upstream, shared=True)
    monkeypatch.setattr(aws_forwarder.os, "getppid", lambda: 1)  # not our parent's door
    child.ensure(socket_dir, upstream)
    assert path in child._servers and answered(path)
    child.forget(socket_dir)
    parent.forget(socket_dir)


def test_a_door_bound_without_sharing_is_not_borrowed(upstream, env_dir, monkeypatch):  # noqa: F811
    parent, child = aws_forwarder.Forwarder(), aws_forwarder.Forwarder()
    socket_dir = os.path.join(env_dir, "sock")
    path = parent.ensure(socket_dir, upstream)  # an on-demand call's own door
    assert not os.path.exists(os.path.join(env_dir, aws_forwarder.OWNER_NAME))
    monkeypatch.setattr(aws_forwarder.os, "getppid", os.getpid)
    child.ensure(socket_dir, upstream)
    assert path in child._servers
    child.forget(socket_dir)
    parent.forget(socket_dir)
