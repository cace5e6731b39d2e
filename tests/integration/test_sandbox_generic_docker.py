"""Generic pre-warmed environments against the real Docker engine: a
container starts knowing no function, specialise() gives it one. No Django,
no Celery (fixtures: conftest.py)."""

from __future__ import annotations

import os
import stat
import textwrap
import uuid
from pathlib import Path

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
    specialise,
    start_environment,
)
from tests.integration.sandbox_support import request

pytestmark = pytest.mark.integration

ALPHA = textwrap.dedent("""
    import os

    def handler(event, context):
        with open("/tmp/alpha-secret.txt", "w") as f:
            f.write("alpha's secret")
        return {"tmp": sorted(os.listdir("/tmp")), "task": sorted(os.listdir("/var/task"))}
""")

BETA = textwrap.dedent("""
    import os

    def handler(event, context):
        def read(path):
            try:
                with open(path) as f:
                    return f.read()
            except OSError as exc:
                return type(exc).__name__
        return {"tmp": sorted(os.listdir("/tmp")), "task": sorted(os.listdir("/var/task")),
                "reads": {path: read(path) for path in event}}
""")

ENV_ECHO = textwrap.dedent("""
    import os

    AT_IMPORT = os.environ.get("SECRET_TOKEN")

    def handler(event, context):
        return {"at_import": AT_IMPORT, "now": os.environ.get("SECRET_TOKEN"),
                "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "memory": context.memory_limit_in_mb,
                "region": os.environ["AWS_REGION"], "group": os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]}
""")

HOG = textwrap.dedent("""
    def handler(event, context):
        data = b"x" * (event * 1024 * 1024)  # bytes * n writes every page
        return len(data) // (1024 * 1024)
""")

# The module's top level is the first user code to run: it tries to write
# where the socket lives and to take the socket away.
SOCKET_PROBE = textwrap.dedent("""
    import os

    def attempt(action):
        try:
            action()
            return True
        except OSError:
            return False

    def write():
        with open("/var/runtime/sock/x", "w") as f:
            f.write("x")

    AT_IMPORT = {"write": attempt(write),
                 "unlink": attempt(lambda: os.unlink("/var/runtime/sock/bootstrap.sock")),
                 "rename": attempt(lambda: os.rename("/var/runtime/sock/bootstrap.sock", "/tmp/s"))}

    def handler(event, context):
        return AT_IMPORT
""")

DECIMALS = textwrap.dedent("""
    from decimal import Decimal

    def handler(event, context):
        return {"price": Decimal("19.99"), "qty": Decimal("3")}
""")


@pytest.fixture
def generic(docker_client, sandbox_image, sandbox_labels, env_root):
    """start(memory_mb) -> a started generic environment; removed at the end."""
    started = []

    def start(memory_mb: int = 128):
        env_id = uuid.uuid4().hex
        socket_dir, task_dir = environment_dirs(env_root, env_id)
        env = start_environment(
            docker_client,
            EnvironmentSpec(
                env_id=env_id,
                image=sandbox_image,
                socket_dir=socket_dir,
                task_dir=task_dir,
                memory_mb=memory_mb,
                labels=sandbox_labels,
            ),
        )
        started.append(env)
        return env

    yield start
    for env in started:
        destroy(docker_client, env.container_id)


@pytest.fixture
def function(tmp_path):
    """function(name, source, **config) -> a FunctionConfig with its code
    folder (app.py plus <name>_code.py) as the code store keeps one."""

    def make(name: str, source: str, **overrides) -> FunctionConfig:
        code = tmp_path / f"code-{name}"
        code.mkdir()
        (code / "app.py").write_text(source)
        (code / f"{name}_code.py").write_text(f"OWNER = {name!r}\n")
        os.chmod(code, 0o755)  # pytest makes 0700 dirs; the sandbox user must read it
        for path in code.iterdir():
            os.chmod(path, 0o644)
        return FunctionConfig(
            **{"code_dir": str(code), "handler": "app.handler", "function_name": name,
               "memory_mb": 128, "region": "eu-west-1", **overrides}
        )

    return make


def call(env, event=None, name="demo", timeout_s=30.0):
    return invoke(env.socket_path, request(event, name=name), timeout_s, lambda line: None)


def test_one_functions_code_and_tmp_never_reach_another(docker_client, generic, function):
    alpha_env, beta_env = generic(), generic()
    specialise(docker_client, alpha_env, function("alpha", ALPHA))
    specialise(docker_client, beta_env, function("beta", BETA))

    first = call(alpha_env, name="alpha")
    assert first.kind == "result", first.error
    assert first.payload == {"tmp": ["alpha-secret.txt"], "task": ["alpha_code.py", "app.py"]}

    alpha_paths = [
        "/tmp/alpha-secret.txt",
        "/var/task/alpha_code.py",
        # alpha's folders on the host are not mounted in beta's container
        os.path.join(alpha_env.task_dir, "alpha_code.py"),
        os.path.join(os.path.dirname(alpha_env.socket_path), "bootstrap.sock"),
    ]
    second = call(beta_env, event=alpha_paths, name="beta")
    assert second.kind == "result", second.error
    assert second.payload == {
        "tmp": [],
        "task": ["app.py", "beta_code.py"],
        "reads": {path: "FileNotFoundError" for path in alpha_paths},
    }
    # And alpha still has its own, untouched by beta.
    again = call(alpha_env, name="alpha")
    assert again.payload["task"] == ["alpha_code.py", "app.py"]


def test_a_generic_container_starts_with_no_function_in_it(docker_client, generic, function):
    env = generic()
    attrs = docker_client.api.inspect_container(env.container_id)
    names = {item.split("=", 1)[0] for item in attrs["Config"]["Env"]}
    assert not {n for n in names if n.startswith(("AWS_", "LAMBDA_", "_HANDLER"))}
    assert names <= {"PATH", "PYTHONDONTWRITEBYTECODE", "LANG", "HOSTNAME", "HOME"}
    assert not [k for k in attrs["Config"]["Labels"] if k.startswith("stratus.function")]
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts["/var/task"]["Source"] == env.task_dir and mounts["/var/task"]["RW"] is False
    assert os.listdir(env.task_dir) == []
    # Nothing to run before init: the bootstrap hangs up on an invoke...
    assert call(env).kind == "crashed"
    # ...and still waits for its function.
    assert docker_client.api.inspect_container(env.container_id)["State"]["Status"] == "running"
    specialise(docker_client, env, function("late", DECIMALS))
    assert call(env).kind == "result"


def test_the_functions_variables_arrive_with_init_and_never_in_dockers_config(
    docker_client, generic, function
):
    env = generic()
    config = function("secretive", ENV_ECHO, env_vars={"SECRET_TOKEN": "s3cr3t"})
    done = specialise(docker_client, env, config)
    assert done.init_error is None
    outcome = call(env, name="secretive")
    assert outcome.kind == "result", outcome.error
    assert outcome.payload == {
        "at_import": "s3cr3t", "now": "s3cr3t", "name": "secretive", "memory": "128",
        "region": "eu-west-1", "group": "/aws/lambda/secretive",
    }
    attrs = docker_client.api.inspect_container(env.container_id)
    assert "s3cr3t" not in str(attrs["Config"]) and "SECRET_TOKEN" not in str(attrs["Config"])


def test_specialise_grows_the_memory_of_a_generic_environment(docker_client, generic, function):
    env = generic(memory_mb=128)
    done = specialise(docker_client, env, function("big", HOG, memory_mb=512))
    assert done.update_ms > 0 and env.memory_mb == 512
    host = docker_client.api.inspect_container(env.container_id)["HostConfig"]
    assert host["Memory"] == host["MemorySwap"] == 512 * 1024 * 1024
    assert host["CpuPeriod"] == 100_000 and host["CpuQuota"] > 0
    outcome = call(env, event=300)  # would not fit in the 128 MB it started with
    assert outcome.kind == "result", outcome.error
    assert outcome.payload == 300 and 300 < outcome.max_memory_used_mb <= 512


def test_specialise_shrinks_the_memory_and_the_kernel_enforces_it(docker_client, generic, function):
    env = generic(memory_mb=512)
    specialise(docker_client, env, function("small", HOG, memory_mb=128))
    outcome = call(env, event=200)
    assert outcome.kind == "crashed"
    assert classify_crash(docker_client, env.container_id) == "out_of_memory"


def test_the_socket_folder_is_locked_before_user_code_runs(docker_client, generic, function):
    env = generic()
    socket_dir = os.path.dirname(env.socket_path)
    # Generic and idle: the bootstrap still owns its folder.
    assert os.stat(socket_dir).st_uid == 10001
    specialise(docker_client, env, function("prober", SOCKET_PROBE))
    st = os.stat(socket_dir)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o711)
    outcome = call(env)
    assert outcome.kind == "result", outcome.error
    assert outcome.payload == {"write": False, "unlink": False, "rename": False}
    assert os.listdir(socket_dir) == ["bootstrap.sock"]


@pytest.mark.parametrize(
    ("handler", "source", "error_type", "message"),
    [
        ("missing.handler", "", "Runtime.ImportModuleError",
         "Unable to import module 'missing': No module named 'missing'"),
        ("app.handler", "def handler(event, context)\n    return 1\n",
         "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': "),
        ("app.nope", "def handler(event, context):\n    return 1\n",
         "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"),
    ],
)
def test_init_errors_are_reported_on_every_invoke(
    docker_client, generic, function, handler, source, error_type, message
):
    env = generic()
    done = specialise(docker_client, env, function("broken", source, handler=handler))
    assert done.init_error["errorType"] == error_type
    for _ in range(2):
        outcome = call(env)
        assert outcome.kind == "error"
        assert outcome.error["errorType"] == error_type
        assert outcome.error["errorMessage"].startswith(message)


def test_a_bootstrap_that_exits_during_init_fails_the_specialise(
    docker_client, generic, function, sandbox_labels
):
    env = generic()
    source = "import os\nprint('bye', flush=True)\nos._exit(3)\n"
    with pytest.raises(EnvironmentStartError) as info:
        specialise(docker_client, env, function("quitter", source))
    assert "exit code 3" in str(info.value) and "bye" in info.value.logs
    assert env.container_id not in [c.id for c in list_environments(docker_client, sandbox_labels)]


def test_a_decimal_result_is_its_number(docker_client, generic, function):
    env = generic()
    specialise(docker_client, env, function("prices", DECIMALS))
    outcome = call(env)
    assert outcome.kind == "result", outcome.error
    assert outcome.payload == {"price": 19.99, "qty": 3}


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_an_idle_generic_environment_stays_small(docker_client, generic):
    env = generic()
    top = docker_client.api.top(env.container_id)
    pids = [int(row[top["Titles"].index("PID")]) for row in top["Processes"]]
    assert len(pids) == 1  # the bootstrap alone
    assert vm_rss_kb(pids[0]) <= 15 * 1024
