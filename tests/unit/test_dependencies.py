"""Dependency builds (functions.dependencies, functions.dependency_build):
which code needs one, the function's Lambda states around it, the cache,
failure keeping the previous code, time and size limits, and recovery of
builds a stopped worker left behind. The installer is a small script here;
tests/integration/test_dependencies_real.py runs the real pip."""

import json
import sys
import time
import zipfile
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from functions import code as codestore
from functions import (
    dependencies, dependency_build, dependency_install, lambda_shapes, qualifiers, service, versions,
)
from functions.models import DependencyBuild, Function
from tests.integration.helpers import zip_of

HANDLER = "import tabulate\n\ndef handler(event, context):\n    return tabulate.__name__\n"


def checked(files: dict[str, str]) -> codestore.CheckedZip:
    return codestore.check_zip(zip_of(files))


ONE = "def handler(e, c): return 1\n"
WITH_REQUIREMENTS = {"app.py": HANDLER, "requirements.txt": "tabulate==0.9.0\n"}


@pytest.fixture
def queued(monkeypatch):
    """Build ids queued (the Celery task is not run by unit tests)."""
    ids = []
    monkeypatch.setattr(dependencies, "queue", lambda build_id: ids.append(str(build_id)))
    return ids


@pytest.fixture
def fake_installer(monkeypatch):
    """An installer that writes a package the way pip --target does, or
    whatever `script` says."""
    state = {"script": (
        "import os; os.makedirs('_packages/tabulate', exist_ok=True);"
        "open('_packages/tabulate/__init__.py','w').write('X = 1\\n');"
        "os.makedirs('_packages/tabulate-0.9.0.dist-info', exist_ok=True);"
        "print('Successfully installed tabulate-0.9.0')"
    ), "packages_dir": "_packages"}

    def installer_for(runtime, manifest, folder):
        return dependency_install.Installer(
            tool="fake", argv=[sys.executable, "-c", state["script"]],
            packages_dir=state["packages_dir"], env={}, hint_on_failure="(the hint)",
        )

    monkeypatch.setattr(dependency_install, "installer_for", installer_for)
    return state


# Which code needs a build --------------------------------------------------


@pytest.mark.parametrize("files, runtime, expected", [
    (WITH_REQUIREMENTS, "python3.11", "requirements.txt"),
    ({**WITH_REQUIREMENTS, "requirements.txt": "# nothing\n\n"}, "python3.11", None),
    ({**WITH_REQUIREMENTS, "tabulate-0.9.0.dist-info/METADATA": "x"}, "python3.11", None),
    ({**WITH_REQUIREMENTS, "tabulate/__init__.py": ""}, "python3.11", None),
    ({"app.py": HANDLER, "requirements.txt": "Tabulate>=0.9 ; python_version>'3'\n",
      "tabulate.py": ""}, "python3.11", None),
    ({"app.py": HANDLER, "lib/requirements.txt": "tabulate\n"}, "python3.11", None),
    ({"index.js": "", "package.json": '{"dependencies": {"left-pad": "1.3.0"}}'},
     "nodejs20.x", "package.json"),
    ({"index.js": "", "package.json": '{"dependencies": {"left-pad": "1.3.0"}}',
      "node_modules/left-pad/index.js": ""}, "nodejs20.x", None),
    ({"index.js": "", "package.json": '{"name": "x"}'}, "nodejs20.x", None),
    ({"index.js": "", "package.json": '{"dependencies": {"a": "1"}}'}, "python3.11", None),
    (WITH_REQUIREMENTS, "provided.al2023", None),
])
def test_it_detects_code_that_needs_its_dependencies_installed(files, runtime, expected):
    assert dependencies.manifest_to_build(checked(files), runtime) == expected


def test_it_reads_requirement_names_as_pip_compares_them():
    text = "# c\n-r other.txt\n--index-url x\nFoo_Bar.baz==1 # pinned\nqux[extra]>=2\n\n"
    assert dependencies.requirement_names(text) == ["foo-bar-baz", "qux"]


def test_it_refuses_a_package_json_that_is_not_json(team):
    with pytest.raises(dependencies.ManifestError, match="package.json is not valid JSON"):
        dependencies.manifest_to_build(checked({"package.json": "{"}), "nodejs20.x")


# States ---------------------------------------------------------------------


def create(team, name="deps", files=None):
    return service.create_function(
        team, name=name, zip_bytes=zip_of(files or WITH_REQUIREMENTS), handler="app.handler",
    )


def test_create_with_requirements_is_pending_until_built(team, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        fn = create(team)
    fn = Function.objects.get(pk=fn.pk)
    build = DependencyBuild.objects.get()
    assert queued == [str(build.pk)]
    assert (build.status, build.runtime, build.source_id) == ("InProgress", "python3.11", fn.code_id)
    shape = lambda_shapes.function_configuration(fn)
    states = (shape["State"], shape["StateReasonCode"], shape["LastUpdateStatus"])
    assert states == ("Pending", "Creating", "InProgress")
    assert dependencies.refuse_invoke(fn).endswith("in the following state: Pending")
    with pytest.raises(service.BuildPending, match="state: Pending"):
        service.update_code(fn, zip_of({"app.py": HANDLER}))
    with pytest.raises(service.BuildPending):
        service.update_configuration(fn, timeout_s=9)


def test_code_without_requirements_needs_no_build(team, queued):
    fn = create(team, files={"app.py": HANDLER})
    assert (fn.state, fn.last_update_status, fn.last_build) == ("Active", "Successful", None)
    assert not DependencyBuild.objects.exists() and queued == []


def test_a_successful_build_switches_the_code_and_keeps_the_uploaded_hash(team, queued, fake_installer):
    fn = create(team)
    uploaded = fn.code
    assert dependency_build.run(str(fn.last_build_id)) == "Successful"
    fn = Function.objects.get(pk=fn.pk)
    build = DependencyBuild.objects.get()
    assert (fn.state, fn.last_update_status, fn.code_id) == ("Active", "Successful", build.result_id)
    assert fn.code_id != uploaded.sha256
    assert (fn.code.files_dir / "tabulate" / "__init__.py").read_text() == "X = 1\n"
    assert (fn.code.files_dir / "app.py").read_text() == HANDLER
    with zipfile.ZipFile(fn.code.zip_path) as zf:
        assert {"app.py", "requirements.txt", "tabulate/__init__.py"} <= set(zf.namelist())
    # Lambda's CodeSha256 is the uploaded zip's; the editor edits that code.
    shape = lambda_shapes.function_configuration(fn)
    assert shape["CodeSha256"] == uploaded.sha256_b64 and "StateReason" not in shape
    assert dependencies.submitted_code(fn) == uploaded
    assert "Successfully installed tabulate-0.9.0" in build.log


def test_an_update_keeps_the_old_code_until_built(team, queued, fake_installer):
    fn = service.create_function(team, name="u", zip_bytes=zip_of({"app.py": ONE}), handler="app.handler")
    old_code, old_revision = fn.code_id, fn.revision
    service.update_code(fn, zip_of(WITH_REQUIREMENTS))
    fn = Function.objects.get(pk=fn.pk)
    assert (fn.state, fn.last_update_status, fn.code_id) == ("Active", "InProgress", old_code)
    assert dependencies.refuse_invoke(fn) is None  # the old code runs meanwhile
    with pytest.raises(service.BuildPending, match="An update is in progress for resource: arn:"):
        service.update_code(fn, zip_of({"app.py": HANDLER}))
    dependency_build.run(str(fn.last_build_id))
    fn = Function.objects.get(pk=fn.pk)
    assert fn.last_update_status == "Successful" and fn.code_id != old_code and fn.revision != old_revision


def test_a_failed_update_keeps_the_previous_code_and_says_why(team, queued, fake_installer):
    fn = service.create_function(team, name="f", zip_bytes=zip_of({"app.py": ONE}), handler="app.handler")
    old_code = fn.code_id
    fake_installer["script"] = (
        "import sys; print('ERROR: No matching distribution found for nope-xyz'); sys.exit(1)"
    )
    service.update_code(fn, zip_of({**WITH_REQUIREMENTS, "requirements.txt": "nope-xyz\n"}))
    assert dependency_build.run(str(Function.objects.get(pk=fn.pk).last_build_id)) == "Failed"
    fn = Function.objects.get(pk=fn.pk)
    assert (fn.state, fn.last_update_status, fn.code_id) == ("Active", "Failed", old_code)
    assert fn.last_update_status_reason_code == "DependencyError"
    assert "No matching distribution found for nope-xyz" in fn.last_update_status_reason
    assert "(the hint)" in fn.last_update_status_reason
    shape = lambda_shapes.function_configuration(fn)
    assert shape["LastUpdateStatusReason"] == fn.last_update_status_reason
    assert shape["CodeSha256"] == fn.code.sha256_b64  # the code it keeps
    assert "nope-xyz" in DependencyBuild.objects.get().log
    # Not pending any more: a new upload is taken, the old failure forgotten.
    service.update_code(fn, zip_of({"app.py": "def handler(e, c): return 2\n"}))
    assert (fn.last_update_status, fn.last_update_status_reason) == ("Successful", "")


# npm 10's output for a package the registry does not have, as it prints it.
NPM_404 = """npm error code E404
npm error 404 Not Found - GET https://registry.npmjs.org/stratus-no-such-pkg - Not found
npm error 404
npm error 404  'stratus-no-such-pkg@^1.0.0' is not in this registry.
npm error 404
npm error 404 Note that you can also install from a
npm error 404 tarball, folder, http url, or git url.
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-12-01T05_20_00_000Z-debug-0.log"""


def test_a_failed_npm_build_says_which_package_and_no_host_path(team, queued, fake_installer):
    fake_installer["script"] = f"import sys; print({NPM_404!r}); sys.exit(1)"
    fn = service.create_function(
        team, name="node", runtime="nodejs20.x", handler="index.handler",
        zip_bytes=zip_of({"index.js": "exports.handler = async () => 1;\n",
                          "package.json": '{"dependencies": {"stratus-no-such-pkg": "^1.0.0"}}'}),
    )
    assert dependency_build.run(str(fn.last_build_id)) == "Failed"
    fn = Function.objects.get(pk=fn.pk)
    reason = fn.state_reason
    assert fn.state == "Failed" and fn.state_reason_code == "DependencyError"
    assert "'stratus-no-such-pkg@^1.0.0' is not in this registry." in reason
    assert "404 Not Found - GET https://registry.npmjs.org/stratus-no-such-pkg" in reason
    for noise in ("/root", "_logs", "tarball", "E404"):
        assert noise not in reason
    assert "/root/.npm/_logs/" in DependencyBuild.objects.get().log  # all of it in the build's log


def test_the_reason_shows_no_absolute_path(team, queued, fake_installer):
    fake_installer["script"] = (
        "import sys; print('npm error code ENOENT\\nnpm error path /srv/build/x/package.json\\n"
        "npm error enoent Could not read package.json: open \\'/tmp/stratus-x/package.json\\''); sys.exit(1)"
    )
    fn = create(team)
    assert dependency_build.run(str(fn.last_build_id)) == "Failed"
    reason = Function.objects.get(pk=fn.pk).state_reason
    assert "npm error enoent Could not read package.json: open '<path>'" in reason
    assert "/srv" not in reason and "/tmp" not in reason


def test_a_failed_update_after_a_build_keeps_the_uploaded_hash_of_its_code(team, queued, fake_installer):
    fn = create(team)
    uploaded = fn.code
    assert dependency_build.run(str(fn.last_build_id)) == "Successful"
    built = Function.objects.get(pk=fn.pk).code_id
    fake_installer["script"] = "import sys; sys.exit(1)"
    fn = Function.objects.get(pk=fn.pk)
    service.update_code(fn, zip_of({**WITH_REQUIREMENTS, "requirements.txt": "nope-xyz\n"}))
    assert dependency_build.run(str(Function.objects.get(pk=fn.pk).last_build_id)) == "Failed"
    fn = Function.objects.get(pk=fn.pk)
    assert (fn.last_update_status, fn.code_id) == ("Failed", built)
    # What runs is the earlier build's result; Lambda's CodeSha256 and the
    # editor's code are still the zip its user uploaded, not our packages.
    assert dependencies.submitted_code(fn) == uploaded
    shape = lambda_shapes.function_configuration(fn)
    assert (shape["CodeSha256"], shape["CodeSize"]) == (uploaded.sha256_b64, uploaded.size)


def test_a_built_function_is_published_with_the_code_sha256_it_shows(team, queued, fake_installer):
    fn = create(team)
    assert dependency_build.run(str(fn.last_build_id)) == "Successful"
    fn = Function.objects.get(pk=fn.pk)
    shown = lambda_shapes.function_configuration(fn)["CodeSha256"]
    version, created = versions.publish(fn, code_sha256=shown)
    assert created and version.code_id == fn.code_id  # the build's bundle runs
    copy = qualifiers.resolve(Function.objects.get(pk=fn.pk), str(version.version))
    assert lambda_shapes.function_configuration(copy)["CodeSha256"] == shown


def test_a_failed_create_is_failed_and_cannot_be_invoked(team, queued, fake_installer):
    fake_installer["script"] = "import sys; sys.exit(3)"
    fn = create(team)
    dependency_build.run(str(fn.last_build_id))
    fn = Function.objects.get(pk=fn.pk)
    assert (fn.state, fn.state_reason_code, fn.last_update_status) == ("Failed", "DependencyError", "Failed")
    assert "exited with status 3" in fn.state_reason
    assert dependencies.refuse_invoke(fn).endswith("state: Failed")


def test_the_same_code_again_reuses_the_build(
    team, queued, fake_installer, django_capture_on_commit_callbacks, monkeypatch,
):
    with django_capture_on_commit_callbacks(execute=True):
        first = create(team, name="one")
    assert dependency_build.run(str(first.last_build_id)) == "Successful"
    assert len(queued) == 1
    # The same files zipped later (zipfile's clock 10 s on) are the same
    # code: zip_of's bytes, and so the CodeSha256, do not depend on when.
    later = time.time() + 10
    monkeypatch.setattr(zipfile, "time", SimpleNamespace(time=lambda: later, localtime=time.localtime))
    with django_capture_on_commit_callbacks(execute=True):
        second = create(team, name="two")
    assert len(queued) == 1  # no second install
    assert (second.state, second.code_id) == ("Active", Function.objects.get(pk=first.pk).code_id)
    assert DependencyBuild.objects.count() == 1


def test_a_build_is_run_once_even_if_queued_twice(team, queued, fake_installer):
    fn = create(team)
    assert dependency_build.run(str(fn.last_build_id)) == "Successful"
    assert dependency_build.run(str(fn.last_build_id)) == "skipped"


def test_a_build_over_the_time_limit_fails_clearly(team, queued, fake_installer, settings):
    settings.STRATUS_BUILD_TIMEOUT_S = 1
    fake_installer["script"] = "import time; print('working', flush=True); time.sleep(60)"
    fn = create(team)
    assert dependency_build.run(str(fn.last_build_id)) == "Failed"
    fn = Function.objects.get(pk=fn.pk)
    assert "took longer than 1 s" in fn.state_reason and fn.state == "Failed"


def test_a_build_over_the_size_limit_fails_clearly(team, queued, fake_installer, monkeypatch):
    fn = create(team)
    monkeypatch.setattr(codestore, "MAX_UNZIPPED", 50)
    assert dependency_build.run(str(fn.last_build_id)) == "Failed"
    fn = Function.objects.get(pk=fn.pk)
    assert "Lambda's limit is 250 MB" in fn.state_reason


# Recovery -------------------------------------------------------------------


def test_a_build_whose_worker_stopped_is_built_again_then_failed(team, queued):
    fn = create(team)
    build = DependencyBuild.objects.get()
    queued.clear()
    assert dependencies.claim(build.pk) is not None  # a task started it ...
    assert dependencies.claim(build.pk) is None  # ... and no other may meanwhile
    long_ago = timezone.now() - timedelta(seconds=dependencies.STALE_AFTER_S + 5)
    DependencyBuild.objects.filter(pk=build.pk).update(heartbeat_at=long_ago)  # ... then its worker died
    assert dependencies.recover() == 1
    assert queued == [str(build.pk)]
    build.refresh_from_db()
    assert build.heartbeat_at is None and "Building again" in build.log
    assert dependencies.claim(build.pk).attempts == 2
    DependencyBuild.objects.filter(pk=build.pk).update(heartbeat_at=long_ago)
    assert dependencies.recover() == 1
    fn = Function.objects.get(pk=fn.pk)
    assert (fn.state, fn.state_reason_code) == ("Failed", "InternalError")
    assert "interrupted 2 times" in fn.state_reason


def test_a_build_whose_task_was_lost_is_queued_again(team, queued, settings):
    create(team)
    build = DependencyBuild.objects.get()
    queued.clear()
    assert dependencies.recover() == 0  # queued just now: not lost
    DependencyBuild.objects.filter(pk=build.pk).update(
        queued_at=timezone.now() - timedelta(seconds=settings.STRATUS_REQUEUE_AFTER + 1))
    assert dependencies.recover() == 1 and queued == [str(build.pk)]
    assert dependencies.recover() == 0


def test_the_editor_edits_the_uploaded_code_and_a_save_builds_again(
    team, queued, fake_installer, django_capture_on_commit_callbacks,
):
    fn = create(team)
    dependency_build.run(str(fn.last_build_id))
    fn = Function.objects.get(pk=fn.pk)
    uploaded = dependencies.submitted_code(fn)
    with zipfile.ZipFile(uploaded.zip_path) as zf:
        assert "tabulate/__init__.py" not in zf.namelist()  # the packages are not the user's
    with django_capture_on_commit_callbacks(execute=True):
        service.update_code_files(fn, base_sha256=uploaded.sha256, edits={"requirements.txt": "tabulate\n"})
    fn = Function.objects.get(pk=fn.pk)
    assert fn.last_update_status == "InProgress" and len(queued) == 1
    with pytest.raises(service.BuildPending):
        service.update_code_files(fn, base_sha256=dependencies.submitted_code(fn).sha256,
                                  edits={"app.py": HANDLER + "# x\n"})


def test_a_new_runtime_installs_the_dependencies_again(team, queued, fake_installer, settings):
    settings.STRATUS_RUNTIMES = ["python3.11", "python3.13"]
    fn = create(team)
    dependency_build.run(str(fn.last_build_id))
    fn = Function.objects.get(pk=fn.pk)
    built_for_311 = fn.code_id
    service.update_configuration(fn, runtime="python3.13")
    fn = Function.objects.get(pk=fn.pk)
    assert (fn.runtime, fn.last_update_status, fn.code_id) == ("python3.13", "InProgress", built_for_311)
    assert fn.last_build.runtime == "python3.13" and fn.last_build.source == dependencies.submitted_code(fn)
    dependency_build.run(str(fn.last_build_id))
    fn = Function.objects.get(pk=fn.pk)
    assert fn.last_update_status == "Successful" and DependencyBuild.objects.count() == 2
    # A change that keeps the runtime builds nothing.
    service.update_configuration(fn, timeout_s=5)
    assert Function.objects.get(pk=fn.pk).last_update_status == "Successful"


@pytest.mark.parametrize("requirements, says", [
    ("-r /etc/passwd\n", "must name a file of the code"),
    ("-r ../outside.txt\n", "must name a file of the code"),
    ("-e .\n", "the option -e is not taken"),
    ("--find-links /opt/wheels\ntabulate\n", "the option --find-links is not taken"),
    ("-f=/x\ntabulate\n", "the option -f is not taken"),
    ("/tmp/x.whl\n", "is a local path"),
    ("./pkg\n", "is a local path"),
    ("file:///etc/x\n", "is a local path"),
    ("tabulate @ file:///x.whl\n", "is a local path"),
    ("--index-url file:///opt/pypi/simple\ntabulate\n", "must be an http.s. URL"),
    ("-r more.txt\n", "the option -e is not taken"),  # the included file is checked too
])
def test_it_refuses_requirements_that_would_read_the_hosts_files(team, requirements, says):
    files = {"app.py": HANDLER, "requirements.txt": requirements, "more.txt": "-e .\n"}
    with pytest.raises(service.FunctionError, match=says) as e:
        service.create_function(team, name="bad-reqs", zip_bytes=zip_of(files), handler="app.handler")
    assert e.value.field == "code" and not Function.objects.exists()


def test_it_takes_index_options_and_included_files_of_the_code():
    files = {"requirements.txt": "--index-url https://pypi.org/simple\n--pre\n-r more.txt\n",
             "more.txt": "tabulate==0.9.0\n"}
    assert dependencies.manifest_to_build(checked(files), "python3.11") == "requirements.txt"


@pytest.mark.parametrize("spec", ["file:../secret", "link:/etc", "./local", "/abs", "~/x"])
def test_it_refuses_local_node_dependencies(spec):
    package = json.dumps({"dependencies": {"x": spec}})
    with pytest.raises(dependencies.ManifestError, match="local paths"):
        dependencies.manifest_to_build(checked({"package.json": package}), "nodejs20.x")


def test_two_functions_given_the_same_code_wait_on_one_build(
    team, queued, fake_installer, django_capture_on_commit_callbacks,
):
    code = zip_of(WITH_REQUIREMENTS)
    with django_capture_on_commit_callbacks(execute=True):
        first = service.create_function(team, name="a", zip_bytes=code, handler="app.handler")
        second = service.create_function(team, name="b", zip_bytes=code, handler="app.handler")
    assert len(queued) == 1 and first.last_build_id == second.last_build_id
    assert second.state == "Pending"
    dependency_build.run(queued[0])
    a, b = (Function.objects.get(pk=f.pk) for f in (first, second))
    assert a.state == b.state == "Active"
    assert a.code_id == b.code_id == DependencyBuild.objects.get().result_id


def test_a_failed_pip_install_says_plainly_what_failed():
    hint = dependency_install.installer_for("python3.13", "requirements.txt", None).hint_on_failure
    assert hint.startswith("pip could not find or download a ready-built package (a wheel) for Python 3.13")
    assert "never compiles one from its source code" in hint
    assert "another interpreter" not in hint


def test_the_wheel_hint_is_given_only_for_a_missing_wheel():
    installer = dependency_install.installer_for("python3.13", "requirements.txt", None)
    missing = "pip ERROR: No matching distribution found for nope==9.9"
    assert installer.hint_for(missing) == installer.hint_on_failure
    # A requirements.txt pip cannot read is not about wheels.
    assert installer.hint_for("pip ERROR: Invalid requirement: 'tabulate==='") == ""
