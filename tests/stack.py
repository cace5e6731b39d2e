"""A whole Stratus on free ports for integration and browser tests: its own
redis-server, data folder, web server (uvicorn), Celery workers and beat. Containers carry
the stack's instance label and are removed at the end, so the tests pass
beside a running `make run`."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def web_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The web process, as bin/serve starts it."""
    return [
        str(VENV_BIN / "uvicorn"), "console.asgi:application", "--host", host, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets", "--no-access-log",
        "--timeout-graceful-shutdown", "5",
    ]


class Stack:
    def __init__(self, **extra_env: str):
        self.instance = "t" + uuid.uuid4().hex[:10]
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"stratus-{self.instance}-"))
        self.redis_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "STRATUS_DATA_DIR": str(self.data_dir),
            "STRATUS_INSTANCE": self.instance,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "STRATUS_ADMIN_USER": "admin",
            "STRATUS_ADMIN_PASSWORD": "admin-pass-123",
            "STRATUS_RECONCILE_INTERVAL": "1",
            "STRATUS_REQUEUE_AFTER": "2",
            "STRATUS_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "wb")
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def manage(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, check=check, input=input, timeout=300,
        )

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code).stdout

    def start(self) -> "Stack":
        redis = self._spawn("redis", [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
            "--save", "", "--appendonly", "no", "--dir", str(self.data_dir),
        ])
        wait_for_port(self.redis_port, redis)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("createadmin")
        self.start_worker()
        self.start_periodic()
        self.start_beat()
        web = self._spawn("web", [
            *web_command(self.port),
        ])
        wait_for_port(self.port, web)
        self.wait_for_workers()
        return self

    def wait_for_workers(self, timeout: float = 120) -> None:
        """Until a worker process beats (its lane threads then serve sync
        calls): a call made sooner would wait in the lane, and on a busy
        machine a worker can take long to start."""
        import redis

        client = redis.Redis(port=self.redis_port)
        deadline = time.monotonic() + timeout
        while not client.zcard(f"{self.instance}:nodes"):
            if time.monotonic() > deadline:
                log = self.log("worker")[-3000:]
                raise RuntimeError(f"no worker of {self.instance} beat within {timeout} s:\n{log}")
            time.sleep(0.1)

    def start_worker(self, concurrency: int = 4) -> None:
        self._spawn("worker", [
            str(VENV_BIN / "celery"), "-A", "console", "worker", "-Q", "invocations,default",
            "-c", str(concurrency), "-n", f"{self.instance}@%h", "--loglevel", "WARNING",
        ])

    def start_periodic(self) -> None:
        self._spawn("periodic", [
            str(VENV_BIN / "celery"), "-A", "console", "worker", "-Q", "periodic", "-P", "threads",
            "-c", "4", "-n", f"{self.instance}-periodic@%h", "--loglevel", "WARNING",
        ])

    def start_beat(self) -> None:
        self._spawn("beat", [
            str(VENV_BIN / "celery"), "-A", "console", "beat", "--loglevel", "WARNING",
            "-s", str(self.data_dir / "beat-schedule"),
        ])

    def stop_process(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def api_key(self, username: str = "admin") -> tuple[str, str]:
        out = self.manage("createapikey", username).stdout
        values = dict(line.split(" = ", 1) for line in out.strip().splitlines())
        return values["aws_access_key_id"], values["aws_secret_access_key"]

    def lambda_client(self, **config):
        import boto3
        from botocore.config import Config

        key, secret = self.api_key()
        return boto3.client(
            "lambda", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 0}, read_timeout=120, **config),
        )

    def rows(self, model_query: str) -> list:
        """Run a Django ORM expression in the stack's database, return JSON."""
        code = (
            "import json\nfrom invocations.models import Invocation, Environment\n"
            "from functions.models import Function\n"
            "from messaging.models import (EventSourceMapping, Queue, QueueMessage, Subscription,"
            " Topic, TopicMessage)\n"
            f"print(json.dumps(list({model_query}), default=str))"
        )
        return json.loads(self.shell(code).strip().splitlines()[-1])

    def containers(self) -> list:
        import docker

        return docker.from_env().containers.list(
            all=True, filters={"label": f"stratus.instance={self.instance}"}
        )

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for name in ["web", "beat", "periodic", "worker", "redis"]:
            self.stop_process(name)
        for c in self.containers():
            try:
                c.remove(force=True)
            except Exception:
                pass
        shutil.rmtree(self.data_dir, ignore_errors=True)
