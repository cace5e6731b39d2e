"""invocations.sandbox against the real Docker engine and the real runtime image
(built by runtimes/build.py if missing). No Django, no Celery. Cold starts
(start_for_function); generic environments are in test_sandbox_generic_docker."""

from __future__ import annotations

import os
import textwrap
import uuid

import docker
import pytest

from invocations.envdirs import (
    environment_dirs,
)
from invocations.sandbox import (
    EnvironmentSpec,
    EnvironmentStartError,
    FunctionConfig,
    classify_crash,
    destroy,
    invoke,
    list_environments,
    start_for_function,
)
from tests.integration.sandbox_support import request

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


@pytest.fixture
def start(docker_client, sandbox_image, sandbox_labels, tmp_path, env_root):
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "app.py").write_text(CODE)
    os.chmod(code_dir, 0o755)  # pytest makes 0700 dirs; the sandbox user must read it
    os.chmod(code_dir / "app.py", 0o644)
    started = []

    def start(handler: str, memory_mb: int = 128, code: str | None = None):
        if code is not None:
            (code_dir / "app.py").write_text(code)
        env_id = uuid.uuid4().hex
        socket_dir, task_dir = environment_dirs(env_root, env_id)
        spec = EnvironmentSpec(
            env_id=env_id,
            image=sandbox_image,
            socket_dir=socket_dir,
            task_dir=task_dir,
            memory_mb=memory_mb,
            labels=sandbox_labels,
        )
        config = FunctionConfig(
            code_dir=str(code_dir),
            handler=handler,
            function_name="demo",
            memory_mb=memory_mb,
            env_vars={"GREETING": "hi"},
            region="eu-west-1",
        )
        env = start_for_function(docker_client, spec, config)
        started.append(env)
        return env

    yield start
    for env in started:
        destroy(docker_client, env.container_id)


def test_it_invokes_and_reuses_a_warm_environment(docker_client, start, sandbox_labels):
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
    ids = [c.id for c in list_environments(docker_client, sandbox_labels)]
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


def test_it_reports_out_of_memory(docker_client, start):
    env = start("app.hog", memory_mb=128)
    outcome = invoke(env.socket_path, request(), 30, lambda line: None)
    assert outcome.kind == "crashed"
    assert classify_crash(docker_client, env.container_id) == "out_of_memory"


def test_it_times_out_and_destroys_the_environment(docker_client, start):
    env = start("app.sleeps")
    outcome = invoke(env.socket_path, request(), 0.5, lambda line: None)
    assert outcome.kind == "timeout"
    destroy(docker_client, env.container_id)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(env.container_id)
    destroy(docker_client, env.container_id)  # already gone: no error


def test_it_fails_to_start_when_the_runtime_exits_during_init(docker_client, start, sandbox_labels):
    with pytest.raises(EnvironmentStartError) as info:
        start("app.handler", code="import os\nprint('bye', flush=True)\nos._exit(3)\n")
    assert "exit code 3" in str(info.value)
    assert "bye" in info.value.logs
    assert info.value.container_id not in [
        c.id for c in list_environments(docker_client, sandbox_labels)
    ]
