"""Layers under /opt against the real Docker engine and the real python3.11
runtime image: a cold start (start_for_function) and a pre-warmed generic
environment specialised later (start_environment + specialise) both get
the function's layers unpacked in order, read-only, on Python's path. No
Django, no Celery (fixtures: conftest.py)."""

from __future__ import annotations

import os
import textwrap
import uuid

import pytest

from invocations.envdirs import environment_dirs
from invocations.sandbox import (
    EnvironmentSpec,
    FunctionConfig,
    destroy,
    invoke,
    specialise,
    start_environment,
    start_for_function,
)
from tests.integration.sandbox_support import request

pytestmark = pytest.mark.integration

HANDLER = textwrap.dedent("""
    import os, subprocess, sys

    import mylib, shared, sitepkg

    def handler(event, context):
        try:
            open("/opt/python/new.txt", "w")
            writable = True
        except OSError:
            writable = False
        tool = subprocess.run(["tool"], capture_output=True, text=True).stdout.strip()
        return {"mylib": mylib.VALUE, "shared": shared.WHO, "sitepkg": sitepkg.WHERE,
                "opt_writable": writable, "tool": tool,
                "path": sys.path[:4], "env_path": os.environ["PATH"],
                "ld": os.environ["LD_LIBRARY_PATH"]}
""")

NO_LAYERS = textwrap.dedent("""
    import os

    def handler(event, context):
        return sorted(os.listdir("/opt"))
""")


def _folder(root, files: dict[str, str], modes: dict[str, int] | None = None) -> str:
    """A folder as functions.code.store keeps one: 0755 folders, 0644 files."""
    os.makedirs(root, exist_ok=True)
    for name, text in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, (modes or {}).get(name, 0o644))
    for here, _folders, _files in os.walk(root):
        os.chmod(here, 0o755)
    return str(root)


@pytest.fixture
def layer_dirs(tmp_path):
    first = _folder(tmp_path / "layer1", {
        "python/mylib.py": "VALUE = 'mylib from layer 1'\n",
        "python/shared.py": "WHO = 'layer 1'\n",
        "bin/tool": "#!/bin/sh\necho tool from layer 1\n",
    }, modes={"bin/tool": 0o755})
    second = _folder(tmp_path / "layer2", {
        "python/shared.py": "WHO = 'layer 2'\n",
        "python/lib/python3.11/site-packages/sitepkg.py": "WHERE = 'site-packages'\n",
    })
    return [first, second]


@pytest.fixture
def config(tmp_path, layer_dirs):
    def make(source=HANDLER, layers=True) -> FunctionConfig:
        code = _folder(tmp_path / f"code-{uuid.uuid4().hex[:6]}", {"app.py": source})
        return FunctionConfig(
            code_dir=code, handler="app.handler", function_name="layered",
            env_vars={"PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
                      "LD_LIBRARY_PATH": "/lib64:/opt/lib"},
            layer_dirs=layer_dirs if layers else [],
        )

    return make


@pytest.fixture
def environments(docker_client, sandbox_image, sandbox_labels, env_root):
    started = []

    def spec() -> EnvironmentSpec:
        env_id = uuid.uuid4().hex
        socket_dir, task_dir = environment_dirs(env_root, env_id)
        return EnvironmentSpec(env_id=env_id, image=sandbox_image, socket_dir=socket_dir,
                               task_dir=task_dir, memory_mb=128, labels=sandbox_labels)

    def cold(cfg):
        env = start_for_function(docker_client, spec(), cfg)
        started.append(env)
        return env

    def generic():
        env = start_environment(docker_client, spec())
        started.append(env)
        return env

    yield cold, generic
    for env in started:
        destroy(docker_client, env.container_id)


def call(env):
    outcome = invoke(env.socket_path, request({}, name="layered"), 30.0, lambda line: None)
    assert outcome.kind == "result", outcome.error
    return outcome.payload


def _check(payload):
    assert payload["mylib"] == "mylib from layer 1"
    assert payload["shared"] == "layer 2"  # the later layer's file replaced the earlier one's
    assert payload["sitepkg"] == "site-packages"
    assert payload["opt_writable"] is False
    assert payload["tool"] == "tool from layer 1"  # /opt/bin on PATH
    assert payload["path"] == ["/var/task", "/opt/python/lib/python3.11/site-packages", "/opt/python"] + [
        payload["path"][3]
    ]


def test_a_cold_environment_gets_the_layers_under_opt(environments, config):
    cold, _ = environments
    _check(call(cold(config())))


def test_a_pre_warmed_environment_gets_the_layers_at_specialise(docker_client, environments, config):
    _, generic = environments
    env = generic()
    assert env.opt_dir and os.listdir(env.opt_dir) == []  # generic: /opt empty
    specialise(docker_client, env, config())
    _check(call(env))


def test_a_function_without_layers_sees_an_empty_opt(docker_client, environments, config):
    cold, generic = environments
    assert call(cold(config(NO_LAYERS, layers=False))) == []
    env = generic()
    specialise(docker_client, env, config(NO_LAYERS, layers=False))
    assert call(env) == []


def test_an_environment_without_an_opt_folder_is_refused_a_function_with_layers(
    docker_client, environments, config
):
    _, generic = environments
    env = generic()
    env.opt_dir = ""  # as one started by an older Stratus
    with pytest.raises(ValueError, match="no /opt folder"):
        specialise(docker_client, env, config())
