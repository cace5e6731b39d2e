"""Every process that loads Django can queue an invocation's task, not only
the workers that import the tasks modules themselves: the web and the CLI
queue async events, and a task missing from the registry left each event to
the reconciler, a minute later."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_process_knows_the_run_task():
    code = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        "print('invocations.run' in current_app.tasks)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]
