import pytest

from invocations import dispatch

# The real hand-over, taken before `handed_over` replaces it in every test;
# tests of the hand-over itself put it back.
REAL_BEGIN = dispatch.SyncCall.__dict__["begin"]


class HandOver:
    """The fake hand-over: `calls` holds each SyncRequest; every call is
    answered with a Done of `answer`'s fields (status, result, ...)."""

    def __init__(self):
        self.calls = []
        self.answer = {"status": "cancelled"}


class PendingCall:
    def __init__(self, request, hand_over):
        self.request = request
        self.hand_over = hand_over

    async def wait(self):
        from invocations.done import Done

        return Done(self.request.request_id, **self.hand_over.answer)


@pytest.fixture(autouse=True)
def handed_over(monkeypatch):
    """Sync calls handed over to the lane, recorded (as SyncRequests)
    instead of pushed to a Redis the unit tests do not run; tests of the
    hand-over itself use the real `redis_url` and undo this."""
    import time
    import uuid

    from invocations.sync_request import SyncRequest

    hand_over = HandOver()

    async def begin(cls, fn, event, *, source, trigger="", priority="normal", request_id=None,
                    client_context=""):
        request = SyncRequest(
            request_id=str(request_id or uuid.uuid4()), function_id=str(fn.id),
            revision=str(fn.revision), event=event, source=source, trigger=trigger,
            priority=priority, expires_at=time.time() + 30, client_context=client_context,
            # As the real begin: the version that runs and what the caller named.
            version=fn.executed_version, qualifier=fn.qualifier or "",
        )
        hand_over.calls.append(request)
        return PendingCall(request, hand_over)

    monkeypatch.setattr(dispatch.SyncCall, "begin", classmethod(begin))
    return hand_over


@pytest.fixture(autouse=True)
def fresh_function_lookup(monkeypatch):
    """Invoke's per-process function copies (and the AWS door's: roles,
    queues, topics, buckets) must not outlive a test's rows."""
    from functions import changes, lookup

    changes.received(None)

    monkeypatch.setattr(lookup, "_cache", {})
    from triggers import route_table

    monkeypatch.setattr(route_table, "_table", None)


@pytest.fixture(autouse=True)
def quiet_announcements(monkeypatch):
    """Cache invalidations stay in this process (no Redis to publish to)."""
    from functions import changes

    monkeypatch.setattr(changes, "_publish", lambda what: None)


@pytest.fixture(scope="session")
def redis_url():
    """A real redis-server of the tests' own, on a free port."""
    import shutil
    import subprocess
    import tempfile

    from tests.stack import free_port, wait_for_port

    if not shutil.which("redis-server"):
        pytest.fail("redis-server is needed for these tests (apt-get install redis-server)")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="stratus-redis-")
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir", folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def door_threads_inline(monkeypatch):
    """The fast doors' database work runs on the test's own thread (the
    in-memory test database is per connection), as Django's test client
    runs views."""
    from asgiref.sync import sync_to_async

    from awsapi import asgi

    async def in_thread(func, *args):
        return await sync_to_async(func, thread_sensitive=True)(*args)

    monkeypatch.setattr(asgi, "in_thread", in_thread)


@pytest.fixture(autouse=True)
def fresh_team_terms(monkeypatch):
    """Concurrency's per-process team terms must not outlive a test's rows."""
    from invocations import concurrency

    monkeypatch.setattr(concurrency, "_terms", {})


# Keys and boto3 clients (tests.unit.aws_clients) of the member, the reader
# and a stranger (the owner of another team, "beta"); tests import no
# client until they use one, so console.asgi loads only where it is needed.


@pytest.fixture
def member_key(users, team):
    """(ApiKey, secret) of the member of `team`."""
    from functions.models import ApiKey

    return ApiKey.issue(users["member"], team)


@pytest.fixture
def reader_key(users, team):
    """(ApiKey, secret) of the read-only member of `team`."""
    from functions.models import ApiKey

    return ApiKey.issue(users["reader"], team)


@pytest.fixture
def stranger_key(users):
    """(ApiKey, secret) of `outsider`, owner of a team of its own ("beta")."""
    from functions.models import ApiKey, Membership, Team

    other = Team.objects.create(name="beta")
    Membership.objects.create(team=other, user=users["outsider"], role="owner")
    return ApiKey.issue(users["outsider"], other)


def _client_fixture(keys: str, make: str, *args):
    """A fixture: tests.unit.aws_clients.`make`(*args, key id, secret) for
    the (ApiKey, secret) of fixture `keys`."""

    @pytest.fixture
    def client(request):
        from tests.unit import aws_clients

        key, secret = request.getfixturevalue(keys)
        return getattr(aws_clients, make)(*args, key.access_key_id, secret)

    return client


sqs = _client_fixture("member_key", "boto_client", "sqs")
sns = _client_fixture("member_key", "boto_client", "sns")
s3 = _client_fixture("member_key", "s3_client")
reader_s3 = _client_fixture("reader_key", "s3_client")
stranger_s3 = _client_fixture("stranger_key", "s3_client")
lam = _client_fixture("member_key", "boto_lambda")
reader_lam = _client_fixture("reader_key", "boto_lambda")
stranger_lam = _client_fixture("stranger_key", "boto_lambda")
ddb = _client_fixture("member_key", "aws_client", "dynamodb")
# Without botocore's parameter checks: the server's own are tested.
raw_ddb = _client_fixture("member_key", "boto_client", "dynamodb")
ddbs = _client_fixture("member_key", "aws_client", "dynamodbstreams")
kin = _client_fixture("member_key", "boto_client", "kinesis")
reader_kin = _client_fixture("reader_key", "boto_client", "kinesis")
stranger_kin = _client_fixture("stranger_key", "boto_client", "kinesis")


@pytest.fixture
def objects_dir(settings, tmp_path):
    """Each test's own object files (settings.STRATUS_OBJECTS_DIR), so a
    test can count them; modules of S3 tests use it for every test."""
    settings.STRATUS_OBJECTS_DIR = tmp_path / "objects"
    return settings.STRATUS_OBJECTS_DIR
