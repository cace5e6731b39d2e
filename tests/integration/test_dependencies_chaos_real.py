"""A worker killed (kill -9 of its process group) in the middle of a
dependency build, on a stack of this module's own: the submitted code is
not lost, the periodic reconciler finds the build's heartbeat stale and
queues it again, the revived worker builds it, and the function goes from
Pending to Active and imports the package.

To hold pip mid-build, requirements.txt names a package index of the
test's own on loopback (pip reads --index-url from requirements files),
which does not answer until the worker is dead; then it serves the real
tabulate wheel (fetched with pip beforehand)."""

import http.server
import subprocess
import sys
import threading
import time

import pytest

from tests.integration.helpers import invoke_json, zip_of
from tests.stack import Stack

pytestmark = pytest.mark.integration

USES_TABULATE = (
    "import tabulate\n\n"
    "def handler(event, context):\n"
    "    return tabulate.tabulate([['after', 'crash']], tablefmt='plain')\n"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(folder),
         "tabulate==0.9.0"], check=True, capture_output=True, timeout=300,
    )
    return next(folder.glob("tabulate-*.whl"))


class StallingIndex:
    """A PEP 503 index with one project, whose pages wait for `release`."""

    def __init__(self, wheel):
        self.hit = threading.Event()
        self.release = threading.Event()
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                index.hit.set()
                index.release.wait(120)
                if self.path.rstrip("/") == "/simple/tabulate":
                    link = f'<a href="/files/{wheel.name}">{wheel.name}</a>'
                    body = f"<html><body>{link}</body></html>".encode()
                    kind = "text/html"
                elif self.path == f"/files/{wheel.name}":
                    body, kind = wheel.read_bytes(), "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()


@pytest.fixture(scope="module")
def stack():
    s = Stack().start()
    try:
        yield s
    finally:
        s.stop()


def test_a_build_interrupted_by_a_dead_worker_is_built_again(stack, wheel):
    index = StallingIndex(wheel)
    lam = stack.lambda_client()
    try:
        made = lam.create_function(
            FunctionName="deps-crash", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
            Handler="app.handler", Timeout=10, Code={"ZipFile": zip_of({
                "app.py": USES_TABULATE,
                "requirements.txt": f"--index-url {index.url}\ntabulate==0.9.0\n",
            })},
        )
        assert made["State"] == "Pending"
        # pip asked the index: the build is running. Kill its worker now.
        assert index.hit.wait(120), "pip never reached the test's index"
        stack.kill("worker")
        index.release.set()
        time.sleep(1)
        stack.revive("worker")
        stack.wait_for_worker()
        # Still Pending (nothing was lost); the reconciler queues it again
        # once its heartbeat is stale, and the new worker builds it.
        assert lam.get_function(FunctionName="deps-crash")["Configuration"]["State"] in ("Pending", "Active")
        lam.get_waiter("function_active_v2").wait(
            FunctionName="deps-crash", WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    finally:
        index.close()
    resp, body = invoke_json(lam, "deps-crash", {})
    assert "FunctionError" not in resp and body == "after  crash"
    log = stack.shell(
        "from functions.models import DependencyBuild\n"
        "b = DependencyBuild.objects.get(function__name='deps-crash')\n"
        "print('attempts:', b.attempts)\nprint(b.log)"
    )
    assert "attempts: 2" in log
    assert "The worker running this build stopped before it finished. Building again." in log
    assert "Successfully installed tabulate-0.9.0" in log
