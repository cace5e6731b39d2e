"""The python3.11 bootstrap run as a local subprocess (no Docker), driven by
invocations.sandbox.invoke over its Unix socket."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from invocations.sandbox import (
    FunctionConfig,
    init_frame,
    initialize,
    invoke,
    wait_for_socket,
)

BOOTSTRAP = (
    Path(__file__).resolve().parents[2] / "runtimes" / "shared" / "python" / "bootstrap.py"
)

HANDLER_CODE = textwrap.dedent("""
    import json, os, subprocess, sys, time

    calls = 0

    def handler(event, context):
        global calls
        calls += 1
        return {"event": event, "calls": calls, "request_id": context.aws_request_id,
                "memory": context.memory_limit_in_mb,
                "remaining_positive": context.get_remaining_time_in_millis() > 0}

    def fails(event, context):
        raise ValueError("bad input: " + str(event))

    def slow_logs(event, context):
        print("first")
        time.sleep(1)
        print("second", file=sys.stderr)
        return "done"

    def from_subprocess(event, context):
        subprocess.run(["sh", "-c", "echo from-child; echo child-err >&2"], check=True)
        sys.stdout.write("no newline")
        return None

    def not_json(event, context):
        return {1, 2}

    def decimals(event, context):
        from decimal import Decimal

        # What boto3's DynamoDB resource hands out.
        return {"price": Decimal("19.99"), "qty": Decimal("3"), "big": Decimal("12345678901234567890"),
                "neg": Decimal("-0.5"), "sci": Decimal("1E+2"), "tenth": Decimal("3.0"),
                "nested": [Decimal("7"), {"x": Decimal("0.1")}], "plain": 1.5}

    def decimal_nan(event, context):
        from decimal import Decimal

        return [Decimal("NaN"), Decimal("Infinity")]

    def decimal_and_set(event, context):
        from decimal import Decimal

        return {"price": Decimal("1"), "tags": {"a"}}

    def chatty(event, context):
        # More than a pipe holds, then a raw write with no newline.
        for i in range(4000):
            print(f"line {i:05d} " + "x" * 60)
        os.write(1, b"raw tail")
        return "said it all"

    def sleeps(event, context):
        time.sleep(30)

    def killed_after_printing(event, context):
        import logging, signal
        print("last words", event)
        logging.getLogger().warning("logged too")
        # As the OOM killer does: no flush, no time for another thread.
        os.kill(os.getpid(), signal.SIGKILL)

    def mixed_writers(event, context):
        os.write(1, b"fd one\\n")
        print("py two")
        os.write(2, b"fd three\\n")
        print("py four", file=sys.stderr)
        return "ok"
""")


def config(handler: str, **overrides) -> FunctionConfig:
    return FunctionConfig(
        **{
            "code_dir": "unused",  # the local bootstrap reads LAMBDA_TASK_ROOT
            "handler": handler,
            "function_name": "demo",
            "memory_mb": 256,
            **overrides,
        }
    )


class LocalBootstrap:
    """A generic bootstrap process (it knows no function) that the test
    then initialises, as specialise does."""

    def __init__(
        self, tmp_path: Path, handler: str, code: str = HANDLER_CODE, **config_overrides
    ) -> None:
        own = tmp_path / uuid.uuid4().hex[:8]  # several may run in one test
        task = own / "task"
        task.mkdir(parents=True)
        (task / "app.py").write_text(code)
        self.socket_path = str(own / "bootstrap.sock")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "STRATUS_SOCKET_PATH": self.socket_path,
            "LAMBDA_TASK_ROOT": str(task),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(BOOTSTRAP)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert wait_for_socket(
            self.socket_path, 10, lambda: self.proc.poll() is None
        ), self.proc.stdout.read().decode()
        self.ready = initialize(
            self.socket_path, init_frame(config(handler, **config_overrides)), 10
        )
        assert self.ready is not None and self.ready["type"] == "ready"

    def invoke(self, event, timeout_s: float = 5.0):
        events: list[tuple[str, str]] = []
        outcome = invoke(
            self.socket_path,
            request(event),
            timeout_s,
            lambda line: events.append(("log", line)),
        )
        events.append(("returned", outcome.kind))
        return outcome, events

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def request(event) -> dict:
    return {
        "requestId": str(uuid.uuid4()),
        "event": event,
        "deadlineMs": int(time.time() * 1000) + 60_000,
        "functionName": "demo",
        "functionVersion": "$LATEST",
        "memoryLimitInMB": 256,
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:demo",
        "logGroupName": "/aws/lambda/demo",
        "logStreamName": "2024/01/01/[$LATEST]abc",
    }


@pytest.fixture
def bootstrap(request, tmp_path):
    started: list[LocalBootstrap] = []

    def start(handler: str, code: str = HANDLER_CODE, **config_overrides) -> LocalBootstrap:
        started.append(LocalBootstrap(tmp_path, handler, code, **config_overrides))
        return started[-1]

    yield start
    for b in started:
        b.stop()


def log_lines(events):
    return [text for kind, text in events if kind == "log"]


def test_it_returns_the_handler_result_with_context(bootstrap):
    outcome, events = bootstrap("app.handler").invoke({"x": 1})
    assert outcome.kind == "result"
    assert outcome.payload["event"] == {"x": 1}
    assert outcome.payload["memory"] == "256"
    assert outcome.payload["remaining_positive"] is True
    assert outcome.max_memory_used_mb > 0
    lines = log_lines(events)
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith(
        "Version: $LATEST"
    )
    assert lines[-1] == f"END RequestId: {outcome.payload['request_id']}"


def test_it_keeps_module_state_across_invokes(bootstrap):
    b = bootstrap("app.handler")
    assert b.invoke(1)[0].payload["calls"] == 1
    assert b.invoke(2)[0].payload["calls"] == 2


def test_it_reports_a_handler_exception_like_lambda(bootstrap):
    outcome, events = bootstrap("app.fails").invoke("oops")
    assert outcome.kind == "error"
    assert outcome.error["errorType"] == "ValueError"
    assert outcome.error["errorMessage"] == "bad input: oops"
    trace = outcome.error["stackTrace"]
    assert len(trace) == 1 and 'app.py", line' in trace[0] and "in fails" in trace[0]
    lines = log_lines(events)
    assert "[ERROR] ValueError: bad input: oops" in lines
    assert "Traceback (most recent call last):" in lines


def test_it_streams_logs_before_the_invoke_returns(bootstrap):
    outcome, events = bootstrap("app.slow_logs").invoke(None)
    assert outcome.kind == "result" and outcome.payload == "done"
    body = [e for e in events if not e[1].startswith(("START", "END"))]
    assert body == [("log", "first"), ("log", "second"), ("returned", "result")]


def test_it_captures_subprocess_output_and_partial_lines(bootstrap):
    outcome, events = bootstrap("app.from_subprocess").invoke(None)
    assert outcome.kind == "result" and outcome.payload is None
    lines = log_lines(events)
    assert {"from-child", "child-err", "no newline"} <= set(lines)
    assert lines[-1].startswith("END RequestId")


def test_every_line_arrives_in_order_before_the_result(bootstrap):
    box = bootstrap("app.chatty")
    for _ in range(2):  # and again on the same warm process
        outcome, events = box.invoke(None)
        assert outcome.kind == "result" and outcome.payload == "said it all"
        lines = log_lines(events)
        body = lines[1:-1]  # between START and END
        assert body == [f"line {i:05d} " + "x" * 60 for i in range(4000)] + ["raw tail"]
        assert events[-1] == ("returned", "result")


def test_a_line_printed_just_before_a_kill_arrives(bootstrap):
    """Python's output leaves before print() returns: a process killed
    right after (out of memory) does not take its last lines with it."""
    for n in range(5):
        outcome, events = bootstrap("app.killed_after_printing").invoke(n)
        assert outcome.kind == "crashed"
        lines = log_lines(events)
        assert lines[0].startswith("START RequestId")
        assert f"last words {n}" in lines
        assert any(line.endswith("logged too") for line in lines)


def test_direct_and_python_writes_keep_their_order(bootstrap):
    outcome, events = bootstrap("app.mixed_writers").invoke(None)
    assert outcome.kind == "result"
    assert log_lines(events)[1:-1] == ["fd one", "py two", "fd three", "py four"]


def test_it_reports_an_unserialisable_result(bootstrap):
    outcome, events = bootstrap("app.not_json").invoke(None)
    assert outcome.kind == "error"
    assert outcome.error == {
        "errorType": "Runtime.MarshalError",
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "stackTrace": [],
    }
    assert "[ERROR] Runtime.MarshalError: Unable to marshal response: Object of type set " \
        "is not JSON serializable" in log_lines(events)


def test_it_answers_decimals_as_numbers_like_lambda(bootstrap):
    outcome, _ = bootstrap("app.decimals").invoke(None)
    assert outcome.kind == "result", outcome.error
    assert outcome.payload == {
        "price": 19.99, "qty": 3, "big": 12345678901234567890, "neg": -0.5,
        "sci": 100.0, "tenth": 3.0, "nested": [7, {"x": 0.1}], "plain": 1.5,
    }
    # Integral digits stay integers; a point or an exponent makes a float.
    assert type(outcome.payload["qty"]) is int and type(outcome.payload["big"]) is int
    assert type(outcome.payload["tenth"]) is float and type(outcome.payload["sci"]) is float


def test_it_answers_decimal_nan_and_infinity_as_json_does_floats(bootstrap):
    outcome, _ = bootstrap("app.decimal_nan").invoke(None)
    assert outcome.kind == "result", outcome.error
    nan, inf = outcome.payload
    assert nan != nan and inf == float("inf")


def test_a_decimal_does_not_excuse_other_unserialisable_values(bootstrap):
    outcome, _ = bootstrap("app.decimal_and_set").invoke(None)
    assert outcome.error["errorType"] == "Runtime.MarshalError"
    assert outcome.error["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_it_reports_an_import_error_on_every_invoke(bootstrap):
    b = bootstrap("missing.handler")
    for _ in range(2):
        outcome, events = b.invoke(None)
        assert outcome.kind == "error"
        assert outcome.error["errorType"] == "Runtime.ImportModuleError"
        assert (
            outcome.error["errorMessage"]
            == "Unable to import module 'missing': No module named 'missing'"
        )
        assert any(
            line.startswith("[ERROR] Runtime.ImportModuleError")
            for line in log_lines(events)
        )


def test_it_reports_a_missing_handler_function(bootstrap):
    outcome, _ = bootstrap("app.nope").invoke(None)
    assert outcome.error["errorType"] == "Runtime.HandlerNotFound"
    assert outcome.error["errorMessage"] == "Handler 'nope' missing on module 'app'"


def test_it_times_out_at_the_deadline(bootstrap):
    outcome, _ = bootstrap("app.sleeps").invoke(None, timeout_s=0.3)
    assert outcome.kind == "timeout"


def test_it_reports_crashed_when_the_process_dies(bootstrap):
    b = bootstrap("app.sleeps")
    b.proc.kill()
    b.proc.wait()
    outcome, _ = b.invoke(None)
    assert outcome.kind == "unreachable"  # nothing listens: the request never left


def test_it_runs_no_user_code_before_the_worker_says_init(tmp_path):
    """The socket comes first, so the worker can lock its folder before the
    function's module is imported."""
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'w').close()\ndef handler(e, c):\n    return 1\n"
    task = tmp_path / "task"
    task.mkdir()
    (task / "app.py").write_text(code)
    socket_path = str(tmp_path / "b.sock")
    env = {"PATH": "/usr/bin:/bin", "STRATUS_SOCKET_PATH": socket_path,
           "LAMBDA_TASK_ROOT": str(task)}
    proc = subprocess.Popen([sys.executable, "-u", str(BOOTSTRAP)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_socket(socket_path, 10, lambda: proc.poll() is None)
        assert not marker.exists()
        assert initialize(socket_path, init_frame(config("app.handler")), 10)
        assert marker.exists()
    finally:
        proc.kill()
        proc.wait()


def test_the_ready_frame_says_how_the_init_phase_went(bootstrap):
    good = bootstrap("app.handler")
    assert good.ready["initError"] is None and good.ready["initMs"] > 0
    bad = bootstrap("missing.handler")
    assert bad.ready["initError"]["errorType"] == "Runtime.ImportModuleError"


def test_the_configuration_arrives_with_init_not_at_start(bootstrap):
    code = "import os\nSEEN = os.environ.get('GREETING')\n" \
           "def handler(e, c):\n    return [SEEN, c.function_name, c.memory_limit_in_mb]\n"
    outcome, _ = bootstrap("app.handler", code, env_vars={"GREETING": "hi"}).invoke(None)
    # The module's top level (the init phase) already sees the variables.
    assert outcome.payload == ["hi", "demo", "256"]


JSON_LOGGING = textwrap.dedent("""
    import logging

    def handler(event, context):
        logging.getLogger("orders").info("placed %s", event["id"])
        logging.getLogger().debug("hidden at INFO")
        try:
            raise KeyError("gone")
        except KeyError:
            logging.getLogger().exception("failed", extra={"order": 7})
        print("plain")
        return "ok"
""")


def test_logging_config_json_writes_lambdas_structured_lines(bootstrap):
    import json

    b = bootstrap("app.handler", JSON_LOGGING, log_format="JSON",
                  application_log_level="INFO", system_log_level="DEBUG")
    outcome, events = b.invoke({"id": 3})
    assert outcome.kind == "result", outcome
    lines = log_lines(events)
    start, end = json.loads(lines[0]), json.loads(lines[-1])
    assert start["type"] == "platform.start" and start["record"]["version"] == "$LATEST"
    # SystemLogLevel DEBUG: the END line (platform.runtimeDone) is kept.
    assert end["type"] == "platform.runtimeDone" and end["record"]["status"] == "success"
    app = [json.loads(line) for line in lines[1:-1] if line.startswith("{")]
    assert [(e["level"], e["message"], e["logger"]) for e in app] == [
        ("INFO", "placed 3", "orders"), ("ERROR", "failed", "root"),
    ]
    assert app[0]["requestId"] == start["record"]["requestId"]
    assert app[1]["errorType"] == "KeyError" and app[1]["order"] == 7
    assert "plain" in lines


def test_system_log_level_warn_drops_start_and_end(bootstrap):
    b = bootstrap("app.handler", JSON_LOGGING, log_format="JSON", system_log_level="WARN")
    outcome, events = b.invoke({"id": 1})
    lines = log_lines(events)
    assert outcome.kind == "result"
    assert not any("platform." in line or "RequestId" in line for line in lines)
