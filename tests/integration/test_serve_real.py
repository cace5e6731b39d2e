"""bin/serve started in the background by a script (no job control: bash
starts such a command with SIGINT ignored, and a signal ignored at a
shell's start cannot be trapped) stops everything it started, and exits 0,
on `kill -TERM <its PID>` and on `kill -INT <its PID>`; its web, workers
and beat are real (uvicorn, Celery on a Redis of the test's own)."""

import signal
import socket
import subprocess

import pytest

from tests.integration.helpers import wait_for
from tests.stack import ROOT, Stack, group_members, kill_group, wait_for_port

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_stack():
    s = Stack()
    s.start_redis()
    s.manage("migrate", "--noinput", "-v", "0")
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_it_stops_everything_it_started_when_signalled_after_a_background_start(redis_stack, sig):
    stack = redis_stack
    env = {**stack.env, "PORT": str(stack.port), "STRATUS_WORKER_CONCURRENCY": "1", "STRATUS_POOL_SIZE": "0"}
    # As `make run &` in a script: the script's shell prints bin/serve's PID.
    script = subprocess.Popen(
        ["bash", "-c", f"bin/serve >{stack.data_dir / 'serve.log'} 2>&1 & echo $!; wait $!"],
        cwd=ROOT, env={**env, "PWD": str(ROOT)}, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        serve_pid = int(script.stdout.readline())
        wait_for_port(stack.port, script, timeout=120)
        stack.wait_for_workers()

        subprocess.run(["kill", f"-{sig.name.removeprefix('SIG')}", str(serve_pid)], check=True)
        # wait $! hands on bin/serve's exit status.
        assert script.wait(timeout=120) == 0
        wait_for(lambda: not group_members(script.pid), timeout=60)
    finally:
        if script.poll() is None or group_members(script.pid):
            kill_group(script, signal.SIGKILL)
    with pytest.raises(ConnectionRefusedError):  # the web is gone too
        socket.create_connection(("127.0.0.1", stack.port), timeout=2).close()


def test_a_stop_lets_running_functions_finish_with_the_web_still_up(redis_stack):
    """`kill -TERM` stops the workers first (Celery's warm shutdown: the
    running invocation finishes) and the web last, since running functions
    reach AWS through it: the web still answers while the function runs,
    and the invocation ends succeeded."""
    from runtimes.build import build
    from tests.integration.helpers import create

    stack = redis_stack
    build("python3.11")
    stack.manage("createadmin")
    env = {**stack.env, "PORT": str(stack.port), "STRATUS_WORKER_CONCURRENCY": "1", "STRATUS_POOL_SIZE": "0"}
    script = subprocess.Popen(
        ["bash", "-c", f"bin/serve >{stack.data_dir / 'serve.log'} 2>&1 & echo $!; wait $!"],
        cwd=ROOT, env={**env, "PWD": str(ROOT)}, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        serve_pid = int(script.stdout.readline())
        wait_for_port(stack.port, script, timeout=120)
        stack.wait_for_workers()
        client = stack.lambda_client()
        # After its sleep the function calls AWS through the web's door (a
        # call its empty execution policy refuses: the answer proves the
        # door was reached; a stopped web is a connection error instead).
        source = (
            "import time, boto3\nfrom botocore.exceptions import ClientError\n"
            "def handler(event, context):\n    time.sleep(12)\n"
            "    try:\n        boto3.client('sqs').list_queues()\n    except ClientError as e:\n"
            "        return e.response['Error']['Code']\n    return 'allowed'\n"
        )
        create(client, "slow-at-stop", source, Timeout=60)
        client.invoke(FunctionName="slow-at-stop", InvocationType="Event", Payload=b"{}")
        running = "Invocation.objects.filter(status='running').values_list('request_id', flat=True)"
        wait_for(lambda: stack.rows(running), timeout=120)

        subprocess.run(["kill", "-TERM", str(serve_pid)], check=True)
        # The function sleeps 12 s: the web must still take connections meanwhile.
        socket.create_connection(("127.0.0.1", stack.port), timeout=2).close()
        assert script.wait(timeout=120) == 0
        wait_for(lambda: not group_members(script.pid), timeout=60)
    finally:
        if script.poll() is None or group_members(script.pid):
            kill_group(script, signal.SIGKILL)
    outcomes = stack.rows("Invocation.objects.values_list('status', 'result')")
    assert outcomes == [["succeeded", '"AccessDenied"']]
