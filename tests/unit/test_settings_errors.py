"""A bad setting stops every process with one clear line, no traceback
(console/env.py ImproperSetting is a SystemExit): manage.py, a plain
django.setup(), and each process bin/serve starts; bin/serve itself stops
before starting any of them (issue 10: a bad STRATUS_BILLING_ROUNDING_MS
printed a 30-line traceback on `make run`)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from console import env

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
ROUNDING = (
    "STRATUS_BILLING_ROUNDING_MS must be 1 (round up to the millisecond, as Lambda does today) "
    "or 100 (the classic 100 ms model), got 7"
)


def _run(argv, data_dir, timeout=120, **env_vars) -> subprocess.CompletedProcess:
    """argv in a process group of its own with the real settings and
    env_vars; the whole group is ended if it outlives `timeout`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    # A port nothing listens on: should anything start, it stays on loopback.
    environ.update(STRATUS_DATA_DIR=str(data_dir), PORT="18931", **env_vars)
    proc = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{argv[0]} still ran after {timeout} s; stderr: {err[-2000:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def assert_one_line(done, message):
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == message


PROCESSES = {
    "manage.py": [sys.executable, "manage.py", "check"],
    "django.setup": [sys.executable, "-c", "import os, django; "
                     "os.environ['DJANGO_SETTINGS_MODULE'] = 'console.settings'; django.setup()"],
    # bin/serve's processes, as it starts them.
    "web": [str(VENV_BIN / "uvicorn"), "console.asgi:application", "--host", "127.0.0.1", "--port", "18931",
            "--loop", "uvloop", "--http", "httptools", "--ws", "websockets"],
    "worker": [str(VENV_BIN / "celery"), "-A", "console", "worker", "-Q", "invocations,default", "-c", "1",
               "-n", "fixb-settings-test@%h"],
    "threads worker": [str(VENV_BIN / "celery"), "-A", "console", "worker", "-Q", "periodic", "-P", "threads",
                       "-c", "1", "-n", "fixb-settings-test-2@%h"],
    "beat": [str(VENV_BIN / "celery"), "-A", "console", "beat"],
}


@pytest.mark.parametrize("name", PROCESSES)
def test_a_bad_rounding_stops_every_process_with_one_line(tmp_path, name):
    argv = PROCESSES[name]
    if name == "beat":
        argv = [*argv, "-s", str(tmp_path / "celerybeat-schedule")]
    assert_one_line(_run(argv, tmp_path, STRATUS_BILLING_ROUNDING_MS="7"), ROUNDING)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("STRATUS_PRICE_PER_GB_SECOND", "-1",
     "STRATUS_PRICE_PER_GB_SECOND must be a number of 0 or more, got '-1'"),
    ("STRATUS_PRICE_PER_MILLION_REQUESTS", "cheap",
     "STRATUS_PRICE_PER_MILLION_REQUESTS must be a number, got 'cheap'"),
    ("STRATUS_POOL_SIZE", "two", "STRATUS_POOL_SIZE must be a whole number, got 'two'"),
    ("STRATUS_DEBUG", "maybe", "STRATUS_DEBUG must be true or false, got 'maybe'"),
])
def test_a_bad_value_gives_one_line_from_manage_py(tmp_path, name, value, message):
    assert_one_line(_run(PROCESSES["manage.py"], tmp_path, **{name: value}), message)


def test_an_unreadable_secret_file_gives_one_line(tmp_path):
    missing = tmp_path / "no-such-key"
    done = _run(PROCESSES["manage.py"], tmp_path, STRATUS_SECRET_KEY_FILE=str(missing))
    assert_one_line(done, f"STRATUS_SECRET_KEY_FILE names {str(missing)!r}, which cannot be read: "
                          "No such file or directory")


def test_bin_serve_stops_before_starting_anything(tmp_path):
    done = _run(["bin/serve"], tmp_path, timeout=60, STRATUS_BILLING_ROUNDING_MS="7")
    assert_one_line(done, ROUNDING)
    assert "starting it again" not in done.stderr
    assert "Stratus console" not in done.stdout


def test_good_settings_still_start(tmp_path):
    done = _run(PROCESSES["manage.py"], tmp_path, STRATUS_BILLING_ROUNDING_MS="100")
    assert done.returncode == 0, done.stderr


def test_the_error_is_still_an_improper_setting(monkeypatch):
    monkeypatch.setenv("STRATUS_FIXB_N", "x")
    with pytest.raises(env.ImproperSetting, match="STRATUS_FIXB_N must be a whole number, got 'x'"):
        env.envint("STRATUS_FIXB_N", 1)
