"""Creating a provided.al2023 function in the console: inline code becomes
an executable `bootstrap`, and the code check looks for it (not for a
Python handler module)."""

import io
import zipfile

from django.urls import reverse

from functions import service
from functions.models import Function

SHELL = "#!/bin/sh\r\nwhile true; do sleep 1; done\r\n"


def _create(client, team, **overrides):
    data = {
        "team": team.pk, "name": "custom", "runtime": "provided.al2023", "handler": "function.handler",
        "memory_mb": "128", "timeout_s": "3", "description": "", "environment": "",
        "code_source": "inline", "source": SHELL,
    }
    data.update(overrides)
    return client.post(reverse("fn-create"), data)


def test_it_stores_inline_code_as_an_executable_bootstrap(client, users, team):
    client.force_login(users["member"])
    r = _create(client, team)
    assert r.status_code == 302
    fn = Function.objects.get(name="custom")
    assert fn.runtime == "provided.al2023"
    with open(fn.code.zip_path, "rb") as f, zipfile.ZipFile(io.BytesIO(f.read())) as zf:
        info = zf.getinfo("bootstrap")
        assert (info.external_attr >> 16) & 0o777 == 0o755
        assert zf.read("bootstrap") == b"#!/bin/sh\nwhile true; do sleep 1; done\n"  # no CR for the kernel
    assert (fn.code.files_dir / "bootstrap").stat().st_mode & 0o777 == 0o755
    assert service.handler_problem(fn) is None


def test_the_code_check_wants_an_executable_bootstrap(make_function):
    fn = make_function(name="nobootstrap", runtime="provided.al2023", handler="anything")
    problem = service.handler_problem(fn)
    assert problem.startswith("The code has no bootstrap file at its top level")


def test_a_python_function_is_still_checked_for_its_module(make_function):
    fn = make_function(name="py", handler="missing.handler")
    assert "missing" in service.handler_problem(fn)
