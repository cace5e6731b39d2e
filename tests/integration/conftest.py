"""Fixtures of the sandbox tests against the real Docker engine and the real
runtime image (built by runtimes/build.py if missing). No Django, no Celery."""

from __future__ import annotations

import shutil
import tempfile
import uuid

import docker
import pytest

from invocations.sandbox import destroy, list_environments
from runtimes.build import build, runtime_image


@pytest.fixture(scope="module")
def docker_client():
    try:
        client = docker.from_env()
        client.info()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine means skip
        pytest.fail(f"Docker engine not reachable (`docker info` fails): {exc}; `make test` starts one")
    yield client
    client.close()


@pytest.fixture(scope="module")
def sandbox_image(docker_client):
    name = runtime_image("python3.11")
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        build("python3.11")
    return name


@pytest.fixture(scope="module")
def sandbox_labels(docker_client):
    labels = {"stratus.test": uuid.uuid4().hex}
    yield labels
    for container in list_environments(docker_client, labels):
        destroy(docker_client, container.id)


@pytest.fixture
def env_root():
    """Where environments' folders go. Not under pytest's tmp_path: a Unix
    socket path must fit in 108 bytes."""
    root = tempfile.mkdtemp(prefix="stratus-t-")
    yield root
    shutil.rmtree(root, ignore_errors=True)
