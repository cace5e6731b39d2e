"""The provided.al2023 environment run as a local subprocess (no Docker),
initialised and invoked through invocations.sandbox over its Unix socket,
with real bootstraps (a shell script using curl, a Python script) talking
to its Runtime API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from invocations.sandbox import FunctionConfig, init_frame, initialize, invoke, wait_for_socket

PROGRAM = Path(__file__).resolve().parents[2] / "runtimes" / "provided.al2023" / "bootstrap.py"

SHELL_BOOTSTRAP = textwrap.dedent("""\
    #!/bin/sh
    set -eu
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    echo "init of $_HANDLER in $(pwd)"
    HEADERS="$(mktemp)"
    while true; do
      EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
      ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
      DEADLINE=$(grep -i '^Lambda-Runtime-Deadline-Ms:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
      echo "handling $ID"
      echo "to stderr" >&2
      case "$EVENT" in
        *fail*) curl -sS -o /dev/null -X POST "$API/invocation/$ID/error" \\
                  -H "Lambda-Runtime-Function-Error-Type: Shell.Failure" \\
                  -d '{"errorMessage":"it failed","errorType":"Shell.Failure",'\
'"stackTrace":["line 1"]}' ;;
        *text*) curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" -d "plain text, not JSON" ;;
        *exit*) exit 3 ;;
        *) BODY="{\\"event\\":$EVENT,\\"id\\":\\"$ID\\",\\"deadline\\":$DEADLINE,"
           BODY="$BODY\\"handler\\":\\"$_HANDLER\\"}"
           curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" -d "$BODY" ;;
      esac
    done
""")

PYTHON_BOOTSTRAP = textwrap.dedent("""\
    #!/usr/bin/env python3
    import json, os, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
    calls = 0
    while True:
        with urllib.request.urlopen(api + "/invocation/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            headers = dict(r.headers)
            event = json.loads(r.read())
        calls += 1
        print("python handled", request_id, flush=True)
        body = json.dumps({"event": event, "calls": calls, "headers": headers,
                           "env": {k: os.environ.get(k) for k in (
                               "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME",
                               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
                               "AWS_EXECUTION_ENV", "GREETING", "PATH", "LD_LIBRARY_PATH")}})
        urllib.request.urlopen(urllib.request.Request(
            api + "/invocation/" + request_id + "/response", data=body.encode(), method="POST"))
""")

INIT_ERROR_BOOTSTRAP = textwrap.dedent("""\
    #!/bin/sh
    echo "cannot load the handler"
    curl -sS -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" \\
      -H "Lambda-Runtime-Function-Error-Type: Runtime.Custom" \\
      -d '{"errorMessage":"Failed to load function.","errorType":"InvalidFunctionException"}'
    sleep 30
""")


class LocalEnvironment:
    """A generic provided.al2023 environment process, then initialised."""

    def __init__(
        self, files: dict[str, str], executable: tuple[str, ...] = ("bootstrap",), init_limit_s: float = 10,
        opt_files: dict[str, str] | None = None, **config,
    ) -> None:
        # Not under pytest's tmp_path: a Unix socket path must fit in 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="prov-"))
        task = self.root / "task"
        task.mkdir()
        (self.root / "opt").mkdir()
        for name, text in (opt_files or {}).items():  # what a layer unpacks under /opt
            (self.root / "opt" / name).write_text(text)
            (self.root / "opt" / name).chmod(0o755)
        for name, text in files.items():
            (task / name).write_text(text)
            (task / name).chmod(0o755 if name in executable else 0o644)
        self.socket_path = str(self.root / "bootstrap.sock")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "STRATUS_SOCKET_PATH": self.socket_path,
            "LAMBDA_TASK_ROOT": str(task),
            "STRATUS_OPT_DIR": str(self.root / "opt"),
            "STRATUS_RUNTIME_API_PORT": "0",
            "STRATUS_INIT_LIMIT_S": str(init_limit_s),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(PROGRAM)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        assert wait_for_socket(self.socket_path, 10, lambda: self.proc.poll() is None)
        fn = FunctionConfig(code_dir="unused", handler="function.handler", function_name="demo",
                            memory_mb=256, **config)
        self.ready = initialize(self.socket_path, init_frame(fn), 10)
        assert self.ready is not None and self.ready["type"] == "ready"

    def invoke(self, event, timeout_s: float = 10.0, raw_event: str | None = None):
        lines: list[str] = []
        request = {
            "requestId": str(uuid.uuid4()), "event": event,
            "deadlineMs": int(time.time() * 1000) + 60_000, "functionName": "demo",
            "functionVersion": "$LATEST", "memoryLimitInMB": 256,
            "invokedFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:demo",
        }
        if raw_event is not None:
            del request["event"]  # as the worker's runner sends it: spliced in
        outcome = invoke(self.socket_path, request, timeout_s, lines.append, raw_event=raw_event)
        return request["requestId"], outcome, lines

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def environment():
    started: list[LocalEnvironment] = []

    def start(files: dict[str, str], **kwargs) -> LocalEnvironment:
        started.append(LocalEnvironment(files, **kwargs))
        return started[-1]

    yield start
    for env in started:
        env.stop()


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the shell bootstrap uses curl")


@needs_curl
def test_it_runs_a_shell_bootstrap_through_the_runtime_api(environment):
    env = environment({"bootstrap": SHELL_BOOTSTRAP})
    assert env.ready["initError"] is None
    request_id, outcome, lines = env.invoke({"name": "ada"})
    assert outcome.kind == "result", outcome
    body = json.loads(outcome.payload_text)
    assert body["event"] == {"name": "ada"}
    assert body["id"] == request_id
    assert body["deadline"] > time.time() * 1000
    assert body["handler"] == "function.handler"
    # The init's output leads the first invocation's log, then its own lines.
    assert lines[0].startswith("init of function.handler in ")
    assert lines[1] == f"START RequestId: {request_id} Version: $LATEST"
    assert f"handling {request_id}" in lines
    assert "to stderr" in lines
    assert lines[-1] == f"END RequestId: {request_id}"


@needs_curl
def test_it_passes_the_event_and_the_response_on_byte_for_byte(environment):
    env = environment({"bootstrap": SHELL_BOOTSTRAP})
    raw = '{"b": 1.50, "a": [1e3, "x"], "nested": {"event": 2}}'
    request_id, outcome, _ = env.invoke(None, raw_event=raw)
    assert outcome.kind == "result"
    assert f'"event":{raw},' in outcome.payload_text
    _, outcome, _ = env.invoke({"want": "text"})
    assert outcome.payload_text == "plain text, not JSON"


@needs_curl
def test_it_returns_the_posted_error_and_stays_warm(environment):
    env = environment({"bootstrap": SHELL_BOOTSTRAP})
    _, outcome, lines = env.invoke({"want": "fail"})
    assert outcome.kind == "error"
    assert outcome.error == {
        "errorType": "Shell.Failure", "errorMessage": "it failed", "stackTrace": ["line 1"],
    }
    _, again, _ = env.invoke({"n": 2})
    assert again.kind == "result"
    assert env.proc.poll() is None


@needs_curl
def test_a_runtime_that_exits_during_an_invocation_is_an_exit_error(environment):
    env = environment({"bootstrap": SHELL_BOOTSTRAP})
    request_id, outcome, lines = env.invoke({"want": "exit"})
    assert outcome.kind == "error"
    assert outcome.error["errorType"] == "Runtime.ExitError"
    assert outcome.error["errorMessage"] == (
        f"RequestId: {request_id} Error: Runtime exited with error: exit status 3"
    )
    assert "Runtime.ExitError" in lines
    # The environment ends with its runtime, as in Lambda.
    assert env.proc.wait(timeout=10) != 0


def test_a_python_bootstrap_keeps_its_state_and_gets_lambdas_environment(environment):
    env = environment({"bootstrap": PYTHON_BOOTSTRAP}, env_vars={"GREETING": "hi"})
    _, first, lines = env.invoke({"n": 1})
    request_id, second, _ = env.invoke({"n": 2})
    assert first.kind == second.kind == "result"
    one, two = json.loads(first.payload_text), json.loads(second.payload_text)
    assert (one["calls"], two["calls"]) == (1, 2)  # one process serves both
    headers = two["headers"]
    assert headers["Lambda-Runtime-Aws-Request-Id"] == request_id
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == (
        "arn:aws:lambda:us-east-1:000000000000:function:demo"
    )
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    assert "Lambda-Runtime-Client-Context" not in headers
    assert two["env"]["_HANDLER"] == "function.handler"
    assert two["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert two["env"]["GREETING"] == "hi"
    assert two["env"]["AWS_EXECUTION_ENV"] is None  # none for OS-only runtimes
    assert two["env"]["PATH"] == "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert any(line.startswith("python handled ") for line in lines)


@needs_curl
def test_an_init_error_is_every_invocations_answer(environment):
    env = environment({"bootstrap": INIT_ERROR_BOOTSTRAP})
    assert env.ready["initError"]["errorType"] == "InvalidFunctionException"
    for _ in range(2):
        _, outcome, lines = env.invoke({})
        assert outcome.kind == "error"
        assert outcome.error == {
            "errorType": "InvalidFunctionException", "errorMessage": "Failed to load function.",
            "stackTrace": [],
        }
    assert env.proc.poll() is None


def test_a_bootstrap_that_exits_before_next_is_an_init_exit_error(environment):
    env = environment({"bootstrap": "#!/bin/sh\necho 'missing config' >&2\nexit 2\n"})
    assert env.ready["initError"] == {
        "errorType": "Runtime.ExitError", "errorMessage": "Runtime exited with error: exit status 2",
        "stackTrace": [],
    }
    request_id, outcome, lines = env.invoke({})
    assert outcome.error["errorType"] == "Runtime.ExitError"
    assert outcome.error["errorMessage"] == (
        f"RequestId: {request_id} Error: Runtime exited with error: exit status 2"
    )
    assert lines[0] == "missing config"  # the init's output is the first call's to see


def test_no_bootstrap_is_an_invalid_entrypoint(environment):
    env = environment({"function.sh": "echo hi\n"})
    assert env.ready["initError"]["errorType"] == "Runtime.InvalidEntrypoint"
    _, outcome, _ = env.invoke({})
    assert outcome.error["errorType"] == "Runtime.InvalidEntrypoint"
    assert "Couldn't find valid bootstrap(s): [" in outcome.error["errorMessage"]


def test_a_bootstrap_that_is_not_executable_is_an_invalid_entrypoint(environment):
    env = environment({"bootstrap": "#!/bin/sh\nexit 0\n"}, executable=())
    _, outcome, _ = env.invoke({})
    assert outcome.error["errorType"] == "Runtime.InvalidEntrypoint"
    assert outcome.error["errorMessage"].endswith("/bootstrap: permission denied")



SLOW_INIT = textwrap.dedent("""\
    #!/bin/sh
    echo "warming up"
    sleep 2
    echo "warm now"
    exec python3 -u -c '
    import json, os, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
    while True:
        with urllib.request.urlopen(api + "next") as r:
            rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], r.read()
        urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=event, method="POST"))
    '
""")


def test_an_init_past_lambdas_limit_goes_on_during_the_first_call(environment):
    env = environment({"bootstrap": SLOW_INIT}, init_limit_s=0.5)
    assert env.ready["initError"] is None  # not an error: the init goes on
    request_id, outcome, lines = env.invoke({"late": True})
    assert outcome.kind == "result", outcome
    assert json.loads(outcome.payload_text) == {"late": True}
    assert lines.index(f"START RequestId: {request_id} Version: $LATEST") < lines.index("warm now")


def test_without_its_own_bootstrap_the_code_runs_a_layers(environment):
    env = environment({"function.sh": "echo hi\n"}, opt_files={"bootstrap": PYTHON_BOOTSTRAP})
    assert env.ready["initError"] is None
    _, outcome, _ = env.invoke({"from": "layer"})
    assert json.loads(outcome.payload_text)["event"] == {"from": "layer"}


def test_the_codes_bootstrap_wins_over_a_layers(environment):
    env = environment({"bootstrap": PYTHON_BOOTSTRAP}, opt_files={"bootstrap": "#!/bin/sh\nexit 9\n"})
    _, outcome, _ = env.invoke({"from": "code"})
    assert json.loads(outcome.payload_text)["event"] == {"from": "code"}
