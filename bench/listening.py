"""Waiting for a peer the bench started (moto.server, serverless-offline)
to listen on its loopback ports, and stopping it again."""

from __future__ import annotations

import signal
import socket
import subprocess
import time


def wait_listening(proc: subprocess.Popen, host: str, ports: tuple[int, ...], timeout: float,
                   name: str, log) -> None:
    """Return once `host` accepts a TCP connection on every one of `ports`
    (in turn, all within `timeout` seconds). RuntimeError if `proc` exits
    first ("see `log`") or a port is still closed at the deadline."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {log}")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not listening on {port} after {timeout}s")
                time.sleep(0.05)


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM to `proc`'s PID, SIGKILL if it is still there after 15 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
