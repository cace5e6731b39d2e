"""The AWS door on the real stack (invocations.aws_forwarder): warm calls to
one function, which Redis hands to the worker's prefork children in turn,
use the door one process bound instead of binding it again each call; when
that process dies (a child killed or recycled), the next calls bind it anew
and boto3 inside the handler still reaches the platform."""

import glob
import os
import signal
import time

import pytest

from tests.integration.test_boto3_inside_real import clients, console, deploy, invoke, set_policy  # noqa: F401
from tests.integration.test_team_concurrency_real import four_lanes_alive
from tests.stack import Stack, group_members

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack():
    # A stack of its own: the test SIGKILLs one of its worker's children,
    # which the shared stack's later tests (four live lanes, the team's
    # concurrency) must not see.
    s = Stack().start()
    try:
        yield s
    finally:
        s.stop()

HANDLER = """import boto3

lam = boto3.client("lambda")


def handler(event, context):
    return {"names": sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])}
"""
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"},
]}


def doors(stack) -> dict[str, tuple]:
    """Every environment's aws.sock -> the identity of the file there."""
    found = {}
    for path in glob.glob(str(stack.data_dir / "envs" / "*" / "*" / "aws.sock")):
        st = os.stat(path)
        found[path] = (st.st_dev, st.st_ino, st.st_ctime_ns)
    return found


def test_warm_calls_use_one_door_and_a_dead_owners_door_is_bound_again(stack, clients, console):  # noqa: F811
    deploy(clients, "door-warm", {"app.py": HANDLER}, "app.handler")
    set_policy(stack, console, "door-warm", POLICY)
    before = set(doors(stack))
    assert "door-warm" in invoke(clients, "door-warm", {})["names"]
    mine = [p for p in doors(stack) if p not in before]
    assert len(mine) == 1, mine  # the environment the call specialised
    path = mine[0]
    owner_file = os.path.join(os.path.dirname(os.path.dirname(path)), "aws.owner")

    seen = {doors(stack)[path]}
    for _ in range(30):  # more calls than children: every child takes some
        assert "door-warm" in invoke(clients, "door-warm", {})["names"]
        seen.add(doors(stack)[path])
    assert len(seen) == 1, f"the door was bound {len(seen) - 1} more times in 30 warm calls"

    worker = stack.procs["worker"].pid
    owner = int(open(owner_file).read().split()[0])
    assert owner in group_members(worker) and owner != worker  # a prefork child bound it
    children = len(group_members(worker))
    os.kill(owner, signal.SIGKILL)  # as a recycled or crashed child
    deadline = time.monotonic() + 30
    while owner in group_members(worker) or len(group_members(worker)) < children:
        assert time.monotonic() < deadline, "Celery did not replace the killed child"
        time.sleep(0.1)

    for _ in range(8):
        assert "door-warm" in invoke(clients, "door-warm", {})["names"]
    new_owner = int(open(owner_file).read().split()[0])
    assert new_owner != owner and new_owner in group_members(worker)
    assert doors(stack)[path] not in seen
    # The child Celery started in its place serves as a lane: the worker's
    # capacity (and its team's concurrency) is whole again once the dead
    # child's beat is old.
    four_lanes_alive(stack)
