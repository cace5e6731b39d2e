"""The peer: serverless v3 + serverless-offline running a Python handler,
set up from ``../shared/peers/serverless-offline`` (see its README.md).

``Peer.prepare()`` copies that folder into the git-ignored ``bench/peers/``
and runs ``npm install`` once; ``start()`` runs node directly (so there is
one PID to stop) on free loopback ports with fake AWS credentials; ``stop()``
sends that PID SIGTERM (it stops its python workers itself), then SIGKILLs
any of its descendants still alive. Without node or npm, or when a step
fails, ``prepare()`` returns the reason and the bench reports no peer."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.listening import terminate, wait_listening
from tests.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
NAME = "serverless-offline"
DEFAULT_SOURCE = ROOT.parent / "shared" / "peers" / NAME
HOST = "127.0.0.1"
# serverless.yml: service peer-bench, stage dev, function hello.
FUNCTION = "peer-bench-dev-hello"
ROUTE = "/hello"
EXPECT_GET = json.dumps({"ok": True, "n": 0}).encode()


def _children(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _identity(pid: int) -> tuple[int, str] | None:
    """(pid, start time) of a live process, so a PID reused later is not taken for it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (pid, fields[19])


class Peer:
    def __init__(self, source: Path = DEFAULT_SOURCE):
        self.source = source
        self.dir = PEERS / NAME
        self.proc: subprocess.Popen | None = None
        self.http_port = 0
        self.lambda_port = 0
        self.log_path = PEERS / f"{NAME}.log"

    def prepare(self, say=print) -> str | None:
        """Bring the copy up to date with the source and install its
        packages when they changed (once, in practice); the reason there is
        no peer, or None."""
        node, npm = shutil.which("node"), shutil.which("npm")
        if not node or not npm:
            missing = " and ".join(n for n, p in [("node", node), ("npm", npm)] if not p)
            return f"{missing} not found on PATH (install Debian's nodejs and npm to compare with the peer)"
        if (self.source / "package.json").exists():
            if not self.dir.exists():
                say(f"copying the peer {self.source} into {self.dir}")
            PEERS.mkdir(parents=True, exist_ok=True)
            # The few source files every time (an edited serverless.yml or
            # handler is picked up); node_modules stays.
            shutil.copytree(self.source, self.dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
                "node_modules", ".serverless", "logs"))
            # shared/ is read-only, and a copy keeps the mode: npm must write here.
            for path in [self.dir, *(p for p in self.dir.iterdir() if p.name != "node_modules")]:
                path.chmod(path.stat().st_mode | 0o200)
        elif not (self.dir / "package.json").exists():
            return f"the peer's folder {self.source} is missing, and so is its copy {self.dir}"
        wanted = hashlib.sha256(b"".join(
            (self.dir / name).read_bytes() for name in ("package.json", "package-lock.json")
            if (self.dir / name).exists()
        )).hexdigest()
        stamp = self.dir / "node_modules" / ".stratus-bench-installed"
        entry = self.dir / "node_modules" / "serverless" / "bin" / "serverless.js"
        if not entry.exists() or not stamp.exists() or stamp.read_text() != wanted:
            say(f"npm install --no-audit --no-fund in {self.dir} (once; ~30 s)")
            try:
                done = subprocess.run(
                    [npm, "install", "--no-audit", "--no-fund"], cwd=self.dir,
                    capture_output=True, text=True, timeout=600,
                )
            except subprocess.TimeoutExpired:
                return "npm install took more than 10 minutes"
            if done.returncode != 0 or not entry.exists():
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                return f"npm install failed ({done.returncode}): {' | '.join(tail)}"
            stamp.write_text(wanted)
        return None

    def versions(self) -> dict:
        out = {}
        try:
            out["node"] = subprocess.run(
                ["node", "--version"], capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except OSError:
            out["node"] = None
        for pkg in ("serverless", "serverless-offline"):
            try:
                meta = json.loads((self.dir / "node_modules" / pkg / "package.json").read_text())
                out[pkg] = meta["version"]
            except (OSError, ValueError, KeyError):
                out[pkg] = None
        return out

    def start(self, timeout: float = 60) -> None:
        self.http_port, self.lambda_port = free_port(), free_port()
        while self.lambda_port == self.http_port:
            self.lambda_port = free_port()
        env = {
            **os.environ,
            # Nothing is deployed, so fake credentials are enough.
            "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
            "SLS_TELEMETRY_DISABLED": "1", "SLS_TRACKING_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off", "SLS_INTERACTIVE_SETUP_DISABLE": "1",
            # serverless-offline runs `python3` from PATH: the bench's own
            # interpreter (a shim would add ~60 ms to every cold start).
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        }
        env.pop("VIRTUAL_ENV", None)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["node", str(self.dir / "node_modules" / "serverless" / "bin" / "serverless.js"),
             "offline", "start", "--host", HOST,
             "--httpPort", str(self.http_port), "--lambdaPort", str(self.lambda_port)],
            cwd=self.dir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_listening(self.proc, HOST, (self.http_port, self.lambda_port), timeout,
                       "serverless-offline", self.log_path)

    def handler_processes(self) -> int:
        """Python handler processes (one per Lambda instance) alive now."""
        if self.proc is None:
            return 0
        count = 0
        for pid in _children(self.proc.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ")
            except OSError:
                continue
            if b"invoke.py" in cmd and not cmd.startswith(b"/bin/sh"):
                count += 1
        return count

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        tree = [ident for ident in map(_identity, _children(proc.pid)) if ident]
        if proc.poll() is None:
            terminate(proc)
        time.sleep(0.3)
        for ident in tree:  # only the processes this node started, if still there
            if _identity(ident[0]) == ident:
                try:
                    os.kill(ident[0], signal.SIGKILL)
                except ProcessLookupError:
                    pass
