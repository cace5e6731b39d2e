import pytest


@pytest.fixture(autouse=True)
def lane_pushes(monkeypatch):
    """Sync invocations handed to the sync lane, recorded instead of pushed
    to a Redis the unit tests do not run (tests of the lane itself undo it)."""
    from invocations import lane

    pushed = []

    def push(request_id, groups, priority="normal"):
        pushed.append(str(request_id))
        return True

    monkeypatch.setattr(lane, "push", push)
    return pushed


@pytest.fixture(autouse=True)
def fresh_function_lookup(monkeypatch):
    """Invoke's per-process function copies must not outlive a test's rows."""
    from functions import lookup

    monkeypatch.setattr(lookup, "_cache", {})


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
