"""Shared fixtures: a team with an owner, a member, a read-only member and
an outsider, and a small function factory."""

import pytest

from functions import code as codestore
from functions import service
from functions.models import Membership, Team

HELLO = '''
def lambda_handler(event, context):
    print("hello from", context.function_name)
    return {"echo": event}
'''


@pytest.fixture
def team(db):
    return Team.objects.create(name="alpha")


@pytest.fixture
def users(db, team, django_user_model):
    def make(name, role=None):
        user = django_user_model.objects.create_user(name, password="pw-" + name)
        if role:
            Membership.objects.create(team=team, user=user, role=role)
        return user

    return {
        "owner": make("owner", "owner"),
        "member": make("member", "member"),
        "reader": make("reader", "readonly"),
        "outsider": make("outsider"),
    }


@pytest.fixture
def make_function(team):
    def make(name="hello", source=HELLO, **kwargs):
        zip_bytes = codestore.zip_single_file("lambda_function.py", source)
        kwargs.setdefault("handler", "lambda_function.lambda_handler")
        return service.create_function(team, name=name, zip_bytes=zip_bytes, **kwargs)

    return make


@pytest.fixture(scope="session")
def stack():
    """One whole platform for the integration and browser tests."""
    from tests.stack import Stack

    s = Stack().start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def second_engine():
    """A second Docker engine holding the runtime image, for a second node.
    It starts in the background: a module can start its stack meanwhile and
    call `second_engine.ready()` when it needs the engine."""
    from django.conf import settings

    from runtimes.build import build
    from tests.engines import DockerEngine

    # Every runtime's image (built first if missing): the node's pool keeps
    # generic environments of each.
    engine = DockerEngine("node-b").start(images=[build(r) for r in settings.STRATUS_RUNTIMES])
    try:
        yield engine
    finally:
        engine.stop()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "chaos: kills and restarts the stack's processes (tests/integration/test_chaos.py)"
    )
    config.addinivalue_line(
        "markers", "nodes: two Docker engines, one worker each (tests/integration/test_nodes.py)"
    )
