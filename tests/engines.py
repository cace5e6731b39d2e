"""A second Docker engine on this machine, for tests with two nodes.

`DockerEngine("node-b").start(images=[...])` runs its own dockerd (its own
socket, data root, exec root and managed containerd) beside the machine's
engine, and copies the images into it with `docker save | docker load`.
Both happen on a background thread, so the caller can start a stack
meanwhile; `ready()` waits for them. `stop()` removes its containers, stops
that dockerd by its PID and removes its folders."""

import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import docker

from tests.stack import kill_group


class DockerEngine:
    def __init__(self, name: str):
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix=f"stratus-engine-{name}-"))
        # containerd and the shims put unix sockets under the exec root, and a
        # socket path must fit in 107 bytes: keep it short.
        self.exec_root = Path(tempfile.mkdtemp(prefix="sx", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        self._preparing: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, images: tuple[str, ...] | list[str] = ()) -> "DockerEngine":
        """Start dockerd and copy `images` from the default engine into it,
        in the background; ready() waits for both."""
        log = open(self.root / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            [
                "dockerd", "--bridge=none", "--iptables=false",
                "-H", self.host,
                "--data-root", str(self.root / "data"),
                "--exec-root", str(self.exec_root),
                "--pidfile", str(self.root / "docker.pid"),
                # Containers are removed before the engine stops; this only
                # bounds a stop that finds one left over.
                "--shutdown-timeout", "2",
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self._preparing = threading.Thread(
            target=self._prepare, args=(list(images),), name=f"engine-{self.name}", daemon=True
        )
        self._preparing.start()
        return self

    def _prepare(self, images: list[str]) -> None:
        try:
            self._wait_answering()
            for image in images:
                self._copy_image(image)
        except BaseException as e:  # handed to ready()
            self._error = e

    def _wait_answering(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd {self.name} exited with {self.proc.returncode}: {self.log()}")
            try:
                if self.client().ping():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"dockerd {self.name} did not answer within {timeout}s: {self.log()}")

    def _copy_image(self, image: str) -> None:
        try:
            self.client().images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        load = subprocess.run(
            ["docker", "-H", self.host, "load", "-q"], stdin=save.stdout,
            capture_output=True, timeout=300,
        )
        save.stdout.close()
        if save.wait(timeout=60) or load.returncode:
            raise RuntimeError(f"could not copy {image} into {self.name}: {load.stderr.decode()}")

    def ready(self, timeout: float = 180) -> "DockerEngine":
        """Wait until the engine answers and holds its images."""
        self._preparing.join(timeout)
        if self._preparing.is_alive():
            raise RuntimeError(f"engine {self.name} not ready within {timeout}s")
        if self._error is not None:
            raise RuntimeError(f"engine {self.name} failed to start") from self._error
        return self

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=60)

    def log(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self._preparing is not None:
            self._preparing.join(120)
        if self.proc is not None and self.proc.poll() is None:
            try:
                for container in self.client().containers.list(all=True):
                    container.remove(force=True)
            except Exception:
                pass
            # dockerd stops its containerd on SIGTERM; the group's SIGKILL
            # is only for an engine that does not stop.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            kill_group(self.proc, signal.SIGTERM, timeout=10)
        self._unmount_leftovers()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.exec_root, ignore_errors=True)

    def _unmount_leftovers(self) -> None:
        """An engine that died hard can leave overlay and shm mounts behind."""
        prefixes = (str(self.root) + "/", str(self.exec_root) + "/")
        with open("/proc/mounts") as f:
            points = [line.split()[1] for line in f]
        for point in sorted((p for p in points if p.startswith(prefixes)), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
