"""Every process that loads Django can queue a task, not only the workers
that import the tasks modules themselves: the web (uvicorn) and the
manage.py commands queue async invocations and SNS http deliveries by name,
after nothing but `django.setup()`. A name missing from that process's
registry left each one to a reconciler, a minute later (invocations.run
once, messaging.deliver_http later).

So: every task an app declares, and every task name the code refers to as
a string (`tasks["..."]`, `send_task("...")`, `signature("...")`, the beat
schedule's `"task": "..."`, CELERY_TASK_ROUTES), must be registered in a
fresh process that only ran `django.setup()`. A task object called with
`.delay()`/`.apply_async()` is imported by its caller, so registered there
already; the string references are the ones that can go missing."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", "tests", "node_modules", ".git", "static", "var"}

# `shared_task(name="x.y")` / `@app.task(name="x.y")`: what apps declare.
DECLARED = re.compile(r"""(?:shared_task|\.task)\(\s*[^)]*?\bname\s*=\s*["']([\w.]+)["']""", re.S)
# Names used as strings where Celery looks them up.
REFERENCED = [
    re.compile(r"""\btasks\[\s*["']([\w.]+)["']\s*\]"""),
    re.compile(r"""\bsend_task\(\s*["']([\w.]+)["']"""),
    re.compile(r"""\bsignature\(\s*["']([\w.]+)["']"""),
    re.compile(r"""["']task["']\s*:\s*["']([\w.]+)["']"""),
]


def sources():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in SKIP:
            continue
        yield rel, path.read_text(encoding="utf-8")


def named_in_code() -> dict[str, set[str]]:
    """Task name -> the files that declare or refer to it."""
    found: dict[str, set[str]] = {}
    for rel, text in sources():
        for pattern in (DECLARED, *REFERENCED):
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(rel))
    return found


def registered_after_setup() -> dict:
    """The registry and routes of a fresh process that only ran
    django.setup(), as the web under uvicorn and manage.py do."""
    code = (
        "import json, django; django.setup()\n"
        "from celery import current_app\n"
        "from django.conf import settings\n"
        "print(json.dumps({'tasks': sorted(current_app.tasks),"
        " 'routes': sorted(settings.CELERY_TASK_ROUTES)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_it_finds_the_names_it_must_check():
    # The scan itself: if these went unseen, the next test would check nothing.
    names = named_in_code()
    for name in ("invocations.run", "messaging.deliver_http", "messaging.requeue_http_deliveries",
                 "triggers.fire_due_schedules", "invocations.reconcile"):
        assert name in names, name
    assert "messaging/sns_http.py" in names["messaging.deliver_http"]


def test_it_registers_every_task_named_anywhere_after_django_setup():
    fresh = registered_after_setup()
    wanted = named_in_code()
    for route in fresh["routes"]:
        wanted.setdefault(route, set()).add("CELERY_TASK_ROUTES")
    missing = {name: sorted(where) for name, where in wanted.items() if name not in fresh["tasks"]}
    assert missing == {}, f"not registered after django.setup() alone: {missing}"
