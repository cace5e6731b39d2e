"""A whole Stratus on free ports for integration and browser tests: its own
redis-server, data folder, web server (uvicorn), Celery workers and beat. Containers carry
the stack's instance label and are removed at the end, so the tests pass
beside a running `make run`.

Chaos tests take processes down and bring them back with `kill()` (SIGKILL
to the process's whole group: a Celery worker and all its prefork children)
and `revive()` (the same command, environment and port again). A second
node is a worker started with `start_worker(node=..., docker_host=...)`
against a second Docker engine (tests/engines.py)."""

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
DEFAULT_NODE = "node-a"


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


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`. Orphans of a
    killed group are adopted by PID 1, which may never reap them, so a
    zombie still answers kill(pid, 0) and does not count here."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after it.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 20) -> None:
    """Send `sig` to the group `proc` leads (it was started in a session of
    its own) and wait until no live member is left; members that outlive
    a SIGTERM by `timeout` seconds get SIGKILL."""
    for attempt in (sig, signal.SIGKILL):
        try:
            os.killpg(proc.pid, attempt)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while proc.poll() is None or group_members(proc.pid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        else:
            return
    raise RuntimeError(f"processes of group {proc.pid} outlived SIGKILL")


class Stack:
    def __init__(self, *, redis_appendonly: bool = True, **extra_env: str):
        """`redis_appendonly`: Redis with an append-only file, as bin/setup
        runs it, so a Redis restarted after kill -9 keeps what it had
        acknowledged (unwritten sync records, queued tasks, the pool's
        state). False: a restarted Redis comes back empty (no persistence,
        or a Redis that lost its data), the worst case for the platform."""
        self.instance = "t" + uuid.uuid4().hex[:10]
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"stratus-{self.instance}-"))
        self.redis_port = free_port()
        self.redis_appendonly = redis_appendonly
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "DJANGO_", "DOCKER_"))},
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "STRATUS_DATA_DIR": str(self.data_dir),
            "STRATUS_INSTANCE": self.instance,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "STRATUS_AWS_UPSTREAM": f"127.0.0.1:{self.port}",
            "STRATUS_ADMIN_USER": "admin",
            "STRATUS_ADMIN_PASSWORD": "admin-pass-123",
            "STRATUS_RECONCILE_INTERVAL": "1",
            # Long enough that a task the platform failed to queue shows up
            # as a slow test, not a pass the reconciler rescued.
            "STRATUS_REQUEUE_AFTER": "20",
            "STRATUS_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.procs: dict[str, subprocess.Popen] = {}
        # What each process was started with, so revive() starts it again alike.
        self.specs: dict[str, tuple[list[str], dict[str, str]]] = {}
        # Node name -> its Docker engine (DOCKER_HOST; None: the default engine).
        self.nodes: dict[str, str | None] = {}
        # Worker process name -> its Celery node name.
        self.worker_names: dict[str, str] = {}

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None, append: bool = False
    ) -> subprocess.Popen:
        env = env or self.env
        log = open(self.data_dir / f"{name}.log", "ab" if append else "wb")
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()  # the child holds its own copy
        self.procs[name] = proc
        self.specs[name] = (args, env)
        return proc

    def manage(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, input=input, timeout=300,
        )
        if check and done.returncode:
            # CalledProcessError alone would hide the traceback that says why.
            raise RuntimeError(
                f"manage.py {args[0]} exited with {done.returncode}:\n...{done.stderr[-1200:]}"
            )
        return done

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code).stdout

    def start(self) -> "Stack":
        # As `bin/setup test` does: a test run alone must not meet a runtime
        # image older than the bootstrap it tests, nor a runtime without one.
        from runtimes.build import build_all, configured_runtimes

        build_all(configured_runtimes())
        self.start_redis()
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("createadmin")
        self.start_worker()
        self.start_periodic()
        self.start_deliveries()
        self.start_beat()
        self.start_web()
        self.wait_for_workers()
        return self

    def start_redis(self) -> None:
        args = [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
            "--save", "", "--dir", str(self.data_dir),
        ]
        if self.redis_appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        wait_for_port(self.redis_port, self._spawn("redis", args))

    def start_web(self) -> None:
        web = self._spawn("web", [
            *web_command(self.port),
        ])
        wait_for_port(self.port, web)

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

    def start_worker(
        self, concurrency: int = 4, *, node: str = DEFAULT_NODE, docker_host: str | None = None
    ) -> str:
        """A worker for `node` (STRATUS_NODE), whose Docker engine is
        `docker_host` (DOCKER_HOST; None: the default engine). The first
        node's process is named "worker", the others "worker-<node>";
        returns the name."""
        name = "worker" if node == DEFAULT_NODE else f"worker-{node}"
        env = {**self.env, "STRATUS_NODE": node}
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        self.nodes[node] = docker_host
        self.worker_names[name] = f"{node}.{self.instance}@{socket.gethostname()}"
        self._spawn(name, [
            str(VENV_BIN / "celery"), "-A", "console", "worker", "-Q", "invocations,default",
            "-c", str(concurrency), "-n", self.worker_names[name], "--loglevel", "WARNING",
        ], env)
        return name

    def start_periodic(self) -> None:
        self._spawn("periodic", [
            str(VENV_BIN / "celery"), "-A", "console", "worker", "-Q", "periodic", "-P", "threads",
            "-c", "4", "-n", f"{self.instance}-periodic@%h", "--loglevel", "WARNING",
        ])

    def start_deliveries(self) -> None:
        """SNS HTTP/S deliveries' worker, as bin/serve starts it."""
        self._spawn("deliveries", [
            str(VENV_BIN / "celery"), "-A", "console", "worker", "-Q", "deliveries", "-P", "threads",
            "-c", "32", "-n", f"{self.instance}-deliveries@%h", "--loglevel", "WARNING",
        ])

    def start_beat(self) -> None:
        self._spawn("beat", [
            str(VENV_BIN / "celery"), "-A", "console", "beat", "--loglevel", "WARNING",
            "-s", str(self.data_dir / "beat-schedule"),
        ])

    # Chaos ------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """kill -9 the process `name` and everything in its process group (a
        Celery worker's prefork children with it), and wait until they are gone."""
        kill_group(self.procs[name], signal.SIGKILL)

    def revive(self, name: str) -> subprocess.Popen:
        """Start `name` again with the command and environment it had (the
        same port for Redis and the web server), its log continuing in the same file."""
        if self.procs[name].poll() is None:
            raise RuntimeError(f"{name} is still running; kill it first")
        args, env = self.specs[name]
        with open(self.data_dir / f"{name}.log", "ab") as log:
            log.write(f"\n---- started again by the test at {time.time():.3f} ----\n".encode())
        proc = self._spawn(name, args, env, append=True)
        if name == "redis":
            wait_for_port(self.redis_port, proc)
        elif name == "web":
            wait_for_port(self.port, proc)
        return proc

    def restart(self, name: str, down_s: float = 0.0) -> subprocess.Popen:
        """kill -9, stay down `down_s` seconds, start again."""
        self.kill(name)
        time.sleep(down_s)
        return self.revive(name)

    def restart_all(self, down_s: float = 0.0, timeout: float = 120) -> None:
        """kill -9 every process of the stack at once (web, workers, the
        periodic and deliveries workers, beat and Redis, each with its process group), stay
        down `down_s` seconds, then start them again as they were (Redis
        first: the others connect to it) and wait until the web listens and
        every Celery worker, periodic and deliveries ones included, answers a ping."""
        names = list(self.procs)
        for name in names:
            # Every group gets its SIGKILL before any is waited for, so no
            # process sees the others go one by one.
            try:
                os.killpg(self.procs[name].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for name in names:
            self.kill(name)
        time.sleep(down_s)
        for name in sorted(names, key=lambda n: (n != "redis", n == "web")):
            self.revive(name)
        pings = {name: self.worker_names[name] for name in names if name in self.worker_names}
        for name in ("periodic", "deliveries"):
            if name in names:
                pings[name] = f"{self.instance}-{name}@{socket.gethostname()}"
        for name, node in pings.items():
            self._wait_for_ping(name, node, timeout)

    def _wait_for_ping(self, name: str, node: str, timeout: float) -> None:
        """Until the Celery node `node` (process `name`) answers a ping."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}")
            done = subprocess.run(
                [str(VENV_BIN / "celery"), "-A", "console", "inspect", "ping", "-d", node, "-t", "2"],
                cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60,
            )
            if done.returncode == 0 and "pong" in done.stdout:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{name} ({node}) did not answer a ping within {timeout}s")

    def wait_for_worker(self, name: str = "worker", timeout: float = 60) -> None:
        """Until the worker answers a Celery ping (its consumer is connected)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}")
            done = subprocess.run(
                [str(VENV_BIN / "celery"), "-A", "console", "inspect", "ping",
                 "-d", self.worker_names[name], "-t", "2"],
                cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60,
            )
            if done.returncode == 0 and "pong" in done.stdout:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{name} did not answer a ping within {timeout}s")

    def pids(self, name: str) -> list[int]:
        """The live processes of `name`'s group (a worker and its children)."""
        return group_members(self.procs[name].pid)

    def log_size(self, name: str) -> int:
        path = self.data_dir / f"{name}.log"
        return path.stat().st_size if path.exists() else 0

    def log_since(self, name: str, offset: int) -> str:
        with open(self.data_dir / f"{name}.log", "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    # Reading the stack ------------------------------------------------------

    def api_key(self, username: str = "admin") -> tuple[str, str]:
        out = self.manage("createapikey", username).stdout
        values = dict(line.split(" = ", 1) for line in out.strip().splitlines())
        return values["aws_access_key_id"], values["aws_secret_access_key"]

    def lambda_client(self, **config):
        import boto3
        from botocore.config import Config

        key, secret = self.api_key()
        config.setdefault("read_timeout", 120)
        return boto3.client(
            "lambda", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 0}, **config),
        )

    def rows(self, model_query: str) -> list:
        """Run a Django ORM expression in the stack's database, return JSON."""
        code = (
            "import json\nfrom django.db.models import Q\n"
            "from invocations.models import Attempt, DeadLetter, Environment, Invocation\n"
            "from functions.models import Function\n"
            "from mappings.models import EventSourceMapping\n"
            "from messaging.models import Queue, QueueMessage, Subscription, Topic, TopicMessage\n"
            f"print(json.dumps(list({model_query}), default=str))"
        )
        return json.loads(self.shell(code).strip().splitlines()[-1])

    def docker(self, node: str = DEFAULT_NODE):
        """A Docker client for `node`'s engine."""
        import docker

        host = self.nodes.get(node)
        return docker.DockerClient(base_url=host) if host else docker.from_env()

    def containers(self, node: str | None = DEFAULT_NODE) -> list:
        """This stack's containers on `node`'s engine (None: on every node's)."""
        nodes = list(self.nodes or [DEFAULT_NODE]) if node is None else [node]
        found = []
        for name in nodes:
            found += self.docker(name).containers.list(
                all=True, filters={"label": f"stratus.instance={self.instance}"}
            )
        return found

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        # The web first (no new work), Redis last (the others talk to it).
        order = sorted(self.procs, key=lambda n: (n == "redis", n != "web"))
        for name in order:
            self.stop_process(name)
        for node in list(self.nodes or [DEFAULT_NODE]):
            try:
                containers = self.containers(node)
            except Exception:
                continue  # that engine is gone already
            for c in containers:
                try:
                    c.remove(force=True)
                except Exception:
                    pass
        keep = os.environ.get("STRATUS_TEST_KEEP_LOGS")
        if keep:
            # The logs outlive the stack, for a failure to be read afterwards.
            target = Path(keep) / self.instance
            target.mkdir(parents=True, exist_ok=True)
            for log in self.data_dir.glob("*.log"):
                shutil.copy(log, target / log.name)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def stop_process(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            kill_group(proc, signal.SIGTERM)
