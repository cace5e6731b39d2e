"""invocations.sandbox against the real Docker engine and the real runtime image
(built by runtimes/build.py if missing). No Django, no Celery."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import time
import uuid

import docker
import pytest

from invocations.sandbox import (
    EnvironmentSpec,
    EnvironmentStartError,
    classify_crash,
    destroy,
    invoke,
    list_environments,
    start_environment,
)
from runtimes.build import build, runtime_image

pytestmark = pytest.mark.integration

CODE = textwrap.dedent("""
    import os, time

    calls = 0

    def counter(event, context):
        global calls
        calls += 1
        print("call", calls)
        return {"calls": calls, "event": event, "region": os.environ["AWS_REGION"],
                "host_env_leaked": "VIRTUAL_ENV" in os.environ}

    def hog(event, context):
        data = b"x" * (400 * 1024 * 1024)  # bytes * n writes every page
        return len(data)

    def sleeps(event, context):
        time.sleep(60)

    def probe(event, context):
        def can_write(path):
            try:
                with open(path, "w") as f:
                    f.write("x")
                return True
            except OSError:
                return False
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        def can_unlink(path):
            try:
                os.unlink(path)
                return True
            except OSError:
                return False
        return {"task": can_write("/var/task/x"), "root": can_write("/x"),
                "sock_dir": can_write("/var/runtime/sock/x"),
                "sock_unlink": can_unlink("/var/runtime/sock/bootstrap.sock"),
                "tmp": can_write("/tmp/x"), "uid": os.getuid(), "gid": os.getgid(),
                "cap_eff": int(status["CapEff"].strip(), 16),
                "no_new_privs": status["NoNewPrivs"].strip(),
                "interfaces": sorted(os.listdir("/sys/class/net"))}
""")


@pytest.fixture(scope="module")
def client():
    try:
        client = docker.from_env()
        client.info()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine means skip
        pytest.fail(f"Docker engine not reachable (`docker info` fails): {exc}; `make test` starts one")
    yield client
    client.close()


@pytest.fixture(scope="module")
def image(client):
    name = runtime_image("python3.11")
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        build("python3.11")
    return name


@pytest.fixture(scope="module")
def labels(client):
    labels = {"stratus.test": uuid.uuid4().hex}
    yield labels
    for container in list_environments(client, labels):
        destroy(client, container.id)


@pytest.fixture
def start(client, image, labels, tmp_path):
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "app.py").write_text(CODE)
    os.chmod(code_dir, 0o755)  # pytest makes 0700 dirs; the sandbox user must read it
    os.chmod(code_dir / "app.py", 0o644)
    # Not under tmp_path: a Unix socket path must fit in 108 bytes.
    sock_root = tempfile.mkdtemp(prefix="stratus-t-")
    started = []

    def start(handler: str, memory_mb: int = 128, code: str | None = None):
        if code is not None:
            (code_dir / "app.py").write_text(code)
        env_id = uuid.uuid4().hex
        spec = EnvironmentSpec(
            env_id=env_id,
            image=image,
            code_dir=str(code_dir),
            socket_dir=os.path.join(sock_root, env_id[:12]),
            memory_mb=memory_mb,
            handler=handler,
            function_name="demo",
            function_version="$LATEST",
            env_vars={"GREETING": "hi"},
            labels=labels,
            region="eu-west-1",
        )
        env = start_environment(client, spec)
        started.append(env)
        return env

    yield start
    for env in started:
        destroy(client, env.container_id)
    shutil.rmtree(sock_root, ignore_errors=True)


def request(event=None) -> dict:
    return {
        "requestId": str(uuid.uuid4()),
        "event": event,
        "deadlineMs": int(time.time() * 1000) + 30_000,
        "functionName": "demo",
        "functionVersion": "$LATEST",
        "memoryLimitInMB": 128,
        "invokedFunctionArn": "arn:aws:lambda:eu-west-1:000000000000:function:demo",
        "logGroupName": "/aws/lambda/demo",
        "logStreamName": "stream",
    }


def test_it_invokes_and_reuses_a_warm_environment(client, start, labels):
    env = start("app.counter")
    assert env.init_ms > 0
    logs: list[str] = []
    first = invoke(env.socket_path, request({"n": 1}), 10, logs.append)
    second = invoke(env.socket_path, request({"n": 2}), 10, logs.append)
    assert first.kind == second.kind == "result"
    assert first.payload == {
        "calls": 1,
        "event": {"n": 1},
        "region": "eu-west-1",
        "host_env_leaked": False,
    }
    assert second.payload["calls"] == 2
    assert "call 1" in logs and "call 2" in logs
    assert 0 < second.max_memory_used_mb <= 128
    ids = [c.id for c in list_environments(client, labels)]
    assert env.container_id in ids


def test_it_is_sandboxed(start):
    outcome = invoke(start("app.probe").socket_path, request(), 10, lambda line: None)
    assert outcome.kind == "result", outcome.error
    assert outcome.payload == {
        "task": False,
        "root": False,
        # The socket folder is locked before user code runs: no host disk
        # to fill, no swapping the socket for a link.
        "sock_dir": False,
        "sock_unlink": False,
        "tmp": True,
        "uid": 10001,
        "gid": 10001,
        "cap_eff": 0,
        "no_new_privs": "1",
        "interfaces": ["lo"],
    }


def test_it_reports_out_of_memory(client, start):
    env = start("app.hog", memory_mb=128)
    outcome = invoke(env.socket_path, request(), 30, lambda line: None)
    assert outcome.kind == "crashed"
    assert classify_crash(client, env.container_id) == "out_of_memory"


def test_it_times_out_and_destroys_the_environment(client, start):
    env = start("app.sleeps")
    outcome = invoke(env.socket_path, request(), 0.5, lambda line: None)
    assert outcome.kind == "timeout"
    destroy(client, env.container_id)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(env.container_id)
    destroy(client, env.container_id)  # already gone: no error


def test_it_fails_to_start_when_the_runtime_exits_during_init(client, start, labels):
    with pytest.raises(EnvironmentStartError) as info:
        start("app.handler", code="import os\nprint('bye', flush=True)\nos._exit(3)\n")
    assert "exit code 3" in str(info.value)
    assert "bye" in info.value.logs
    assert info.value.container_id not in [
        c.id for c in list_environments(client, labels)
    ]
