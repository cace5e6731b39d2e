"""invocations.sandbox without Docker: the init configuration, CPU for
memory, and specialise() driving a local bootstrap process through a fake
Docker client."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from invocations import sandbox
from invocations.envdirs import (
    environment_dirs,
    prepare_socket_dir,
    prepare_task_dir,
)
from invocations.sandbox import (
    EnvironmentStartError,
    FunctionConfig,
    StartedEnvironment,
    cpu_quota,
    function_environment,
    init_frame,
    invoke,
    specialise,
    wait_for_socket,
)

BOOTSTRAP = Path(__file__).resolve().parents[2] / "runtimes" / "shared" / "python" / "bootstrap.py"


def config(**overrides) -> FunctionConfig:
    return FunctionConfig(
        **{
            "code_dir": "/unused",
            "handler": "app.handler",
            "function_name": "orders",
            "memory_mb": 256,
            "env_vars": {"GREETING": "hi", "AWS_REGION": "mine", "N": 3},
            "region": "eu-west-1",
            **overrides,
        }
    )


def test_the_functions_environment_has_its_variables_and_lambdas_reserved_ones():
    env = function_environment(config())
    assert env["GREETING"] == "hi" and env["N"] == "3"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"  # reserved win
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "orders"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/orders"
    assert "/[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["TZ"] == ":UTC"
    assert all(isinstance(v, str) for v in env.values())
    assert "PATH" not in env and "VIRTUAL_ENV" not in env  # nothing from the host


def test_the_init_frame_carries_the_configuration_as_the_environment():
    frame = init_frame(config(log_group="/custom/group", log_stream="s1"))
    assert frame["type"] == "init"
    assert frame["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] == "/custom/group"
    assert frame["env"]["AWS_LAMBDA_LOG_STREAM_NAME"] == "s1"


def test_cpu_is_in_proportion_to_memory_within_bounds(monkeypatch):
    monkeypatch.setattr(sandbox.os, "cpu_count", lambda: 2)
    assert cpu_quota(1769, 0.5) == (100_000, 1024)  # one vCPU
    assert cpu_quota(128, 0.5) == (50_000, 74)  # the floor
    assert cpu_quota(10240, 0.5) == (200_000, 5927)  # at most the host's cores


class FakeDocker:
    """The few Docker API calls specialise() makes, recorded."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.api = self
        self.updates: list[dict] = []
        self.removed: list[str] = []

    def update_container(self, container_id, **kwargs):
        self.updates.append(kwargs)

    def wait(self, container_id, timeout=None):
        self.proc.wait(timeout)

    def inspect_container(self, container_id):
        return {"State": {"Status": "exited", "ExitCode": self.proc.returncode, "OOMKilled": False}}

    def logs(self, container_id, tail=None):
        return self.proc.stdout.read() if self.proc.poll() is not None else b""

    def remove_container(self, container_id, force=False):
        self.removed.append(container_id)
        if self.proc.poll() is None:
            self.proc.kill()


@pytest.fixture
def generic():
    """A generic bootstrap process standing in for a started container."""
    procs = []
    root = tempfile.mkdtemp(prefix="stratus-u-")  # short: AF_UNIX paths fit 108 bytes

    def start(memory_mb: int = 128):
        env_id = uuid.uuid4().hex
        socket_dir, task_dir = environment_dirs(root, env_id)
        socket_path = prepare_socket_dir(socket_dir)
        task_dir = prepare_task_dir(env_id, socket_dir)
        proc = subprocess.Popen(
            [sys.executable, "-u", str(BOOTSTRAP)],
            env={"PATH": "/usr/bin:/bin", "STRATUS_SOCKET_PATH": socket_path, "TZ": "JST-9",
                 "LAMBDA_TASK_ROOT": task_dir, "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        assert wait_for_socket(socket_path, 10, lambda: proc.poll() is None)
        env = StartedEnvironment(
            container_id=f"c-{env_id}", socket_path=socket_path, task_dir=task_dir,
            memory_mb=memory_mb, env_id=env_id,
        )
        return env, FakeDocker(proc)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    shutil.rmtree(root, ignore_errors=True)


def code_dir(tmp_path: Path, source: str) -> str:
    code = tmp_path / f"code-{uuid.uuid4().hex[:8]}"
    code.mkdir()
    (code / "app.py").write_text(source)
    return str(code)


ECHO_ENV = """
import os, time
def handler(event, context):
    return {k: os.environ.get(k) for k in event} | {"tz": time.strftime("%z"), "cwd": os.getcwd(),
            "group": context.log_group_name}
"""


def test_it_specialises_a_generic_environment_at_the_same_memory(tmp_path, generic):
    env, client = generic(memory_mb=256)
    done = specialise(client, env, config(code_dir=code_dir(tmp_path, ECHO_ENV), memory_mb=256))
    assert done.init_error is None
    assert client.updates == []  # same memory: no docker update
    assert done.update_ms == 0 and done.total_ms >= done.init_ms > 0
    assert done.bootstrap_init_ms > 0
    assert os.listdir(env.task_dir) == ["app.py"]
    if os.geteuid() == 0:  # locked before the handler's module ran
        st = os.stat(os.path.dirname(env.socket_path))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o711)
    req = {"requestId": "r1", "event": ["GREETING", "_HANDLER", "AWS_LAMBDA_FUNCTION_NAME"],
           "deadlineMs": int(time.time() * 1000) + 10_000}
    outcome = invoke(env.socket_path, req, 10, lambda line: None)
    assert outcome.kind == "result", outcome.error
    assert outcome.payload == {
        "GREETING": "hi", "_HANDLER": "app.handler", "AWS_LAMBDA_FUNCTION_NAME": "orders",
        "tz": "+0000", "cwd": env.task_dir, "group": "/aws/lambda/orders",
    }


def test_it_resizes_the_environment_when_the_memory_differs(tmp_path, generic):
    env, client = generic(memory_mb=128)
    specialise(client, env, config(code_dir=code_dir(tmp_path, ECHO_ENV), memory_mb=512))
    assert client.updates == [{
        "mem_limit": "512m", "memswap_limit": "512m", "cpu_period": 100_000,
        "cpu_quota": cpu_quota(512, 0.5)[0], "cpu_shares": cpu_quota(512, 0.5)[1],
    }]
    assert env.memory_mb == 512


def test_it_reports_an_init_error_and_returns_it_on_every_invoke(tmp_path, generic):
    env, client = generic()
    done = specialise(client, env, config(code_dir=code_dir(tmp_path, "def handler(e, c)\n")))
    assert done.init_error["errorType"] == "Runtime.UserCodeSyntaxError"
    req = {"requestId": "r1", "event": None, "deadlineMs": int(time.time() * 1000) + 10_000}
    for _ in range(2):
        outcome = invoke(env.socket_path, req, 10, lambda line: None)
        assert outcome.kind == "error" and outcome.error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert client.removed == []


def test_it_refuses_to_specialise_twice(tmp_path, generic):
    env, client = generic()
    specialise(client, env, config(code_dir=code_dir(tmp_path, ECHO_ENV), memory_mb=128))
    with pytest.raises(ValueError, match="specialised already"):
        specialise(client, env, config(code_dir=code_dir(tmp_path, ECHO_ENV), memory_mb=128))
    assert client.removed == []  # still its first function's


def test_it_removes_an_environment_whose_bootstrap_dies_during_init(tmp_path, generic):
    env, client = generic()
    source = "import os\nprint('bye', flush=True)\nos._exit(3)\n"
    with pytest.raises(EnvironmentStartError) as info:
        specialise(client, env, config(code_dir=code_dir(tmp_path, source), memory_mb=128))
    assert "exit code 3" in str(info.value) and "bye" in info.value.logs
    assert client.removed == [env.container_id]


def test_it_gives_up_on_an_init_that_does_not_end_in_time(tmp_path, generic):
    env, client = generic()
    source = "import time\ntime.sleep(30)\n"
    with pytest.raises(EnvironmentStartError, match="did not finish the init of orders in 0.5 s"):
        specialise(client, env, config(code_dir=code_dir(tmp_path, source), memory_mb=128),
                   init_timeout_s=0.5)
    assert client.removed == [env.container_id]


def test_listing_leaves_out_a_container_removed_between_list_and_inspect():
    """docker-py lists ids, then inspects each: a discard beside the reaper
    removed one in between (seen in CI as a NotFound out of pool.reap)."""
    import docker
    from docker.errors import NotFound

    class Api:
        def containers(self, **kwargs):
            return [{"Id": "gone"}, {"Id": "kept"}]

        def inspect_container(self, container_id):
            if container_id == "gone":
                raise NotFound("No such container: gone")
            return {"Id": container_id, "Config": {"Labels": {"stratus.env": "e"}}}

    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = Api()
    listed = sandbox.list_environments(client, {"stratus.node": "n"})
    assert [c.id for c in listed] == ["kept"]
