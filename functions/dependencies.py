"""Dependency builds: which code needs one, and what a build means for the
functions waiting on it (Lambda's State and LastUpdateStatus).

A zip holding `requirements.txt` (Python runtimes) or `package.json` with
dependencies (Node.js runtimes) and none of the installed packages beside
it gets them installed once per (code hash, runtime): a DependencyBuild row
whose result is a new CodeBundle, the code plus the packages
(functions.dependency_build runs it, in the Celery task
functions.build_dependencies). Meanwhile:

- CreateFunction: State "Pending" (StateReasonCode "Creating"), then
  "Active", or "Failed" with StateReason / StateReasonCode
  "DependencyError"; Invoke while Pending or Failed is Lambda's
  ResourceConflictException.
- UpdateFunctionCode (and the console's upload and editor saves):
  LastUpdateStatus "InProgress", then "Successful" or "Failed"
  (LastUpdateStatusReason says why); until then, and for good on failure,
  the function keeps and runs its previous code.
- Code and configuration updates while a build is pending are refused
  (Lambda: ResourceConflictException), so a function waits on one build.
  A configuration update after a failed build succeeds and says so:
  LastUpdateStatus "Successful", the failure's reason cleared
  (`configuration_updated`).
- Publish=True on the call that submitted the build publishes the
  submitted code as a version of State "Pending" (`pending_version`); the
  build's end makes it "Active" with the built code, or "Failed" with the
  build's reason (`finish`). Such a version is never run before that.

The submitted code is stored (a CodeBundle) and the build row written in
the same transaction as the function's change, before the task is queued
(on commit): a lost task or a worker killed mid-build is queued again by
`recover()` (the periodic functions.reconcile_builds); one interrupted
twice fails clearly. The same code hash again reuses the finished build.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from functions import code as codestore
from functions import dependency_install
from functions.models import CodeBundle, DependencyBuild, Function, FunctionVersion

log = logging.getLogger(__name__)

MANIFESTS = {"python": "requirements.txt", "node": "package.json"}
# A requirement line's project name (PEP 508), after options and comments.
REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
PENDING_MESSAGE = (
    "The operation cannot be performed at this time. The function is currently in the following "
    "state: {state}"
)
UPDATE_IN_PROGRESS = (
    "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
)
CREATING_REASON = "The function is being created."
VERSION_CREATING_REASON = "The version is being created: its code's dependencies are being installed."
UPDATING_REASON = "The function is being updated: its dependencies ({manifest}) are being installed."
DEPENDENCY_ERROR = "DependencyError"  # Lambda's StateReasonCode / LastUpdateStatusReasonCode
INTERNAL_ERROR = "InternalError"
# A build's task beats every second; silent this long, its worker stopped.
STALE_AFTER_S = 30
MAX_ATTEMPTS = 2


class ManifestError(ValueError):
    """A manifest that cannot be read (package.json that is not JSON)."""


# Which code needs a build ------------------------------------------------


def _top_level(checked: codestore.CheckedZip) -> set[str]:
    """Names of the files and folders at the top of the code."""
    return {name.split("/", 1)[0] for name in checked.names}


def requirement_names(text: str) -> list[str]:
    """The project names a requirements.txt asks for (options such as
    -r/--index-url and comments skipped), normalised as pip compares them."""
    names = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = REQUIREMENT_NAME.match(line)
        if match:
            names.append(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


# requirements.txt options a build takes: where to find packages on an
# index, and which to prefer. Anything else (-e, --find-links, a local
# path) could read the worker's own files, so it is refused at upload.
PIP_OPTIONS = {"-i", "--index-url", "--extra-index-url", "--pre", "--prefer-binary", "--only-binary",
               "--trusted-host", "-r", "--requirement", "-c", "--constraint"}
LOCAL_SPEC = re.compile(r"^(file:|link:|portal:|\.{0,2}/|~|[A-Za-z]:\\)")


def _inside_code(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return bool(path) and not path.startswith(("/", "~")) and ".." not in parts and ":" not in path


def check_requirements(text: str) -> None:
    """ManifestError for a requirements.txt line that would make pip read
    files of the worker's host: an option other than PIP_OPTIONS, -r / -c
    naming a file outside the code, a requirement that is a local path or
    file: URL."""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            option, _, value = line.replace("=", " ", 1).partition(" ")
            value = value.strip()
            if option not in PIP_OPTIONS:
                raise ManifestError(
                    f"requirements.txt line {n}: the option {option} is not taken here; use package "
                    "names (with versions), -r/-c files of the code, and --index-url / "
                    "--extra-index-url."
                )
            if option in ("-r", "--requirement", "-c", "--constraint") and not _inside_code(value):
                raise ManifestError(
                    f"requirements.txt line {n}: {option} must name a file of the code (a relative path "
                    "inside it)."
                )
            if option in ("-i", "--index-url", "--extra-index-url") and not value.startswith(("http://", "https://")):
                raise ManifestError(f"requirements.txt line {n}: {option} must be an http(s) URL.")
            continue
        if LOCAL_SPEC.match(line) or " @ file:" in line:
            raise ManifestError(
                f"requirements.txt line {n}: {line[:60]!r} is a local path; name packages from an index."
            )


def check_package_json(package: dict) -> None:
    """ManifestError for a dependency that is a local path (file:, link:,
    ./, ../, /): npm would copy the worker's own files into the code."""
    for field in ("dependencies", "optionalDependencies"):
        wanted = package.get(field) or {}
        if not isinstance(wanted, dict):
            raise ManifestError(f"package.json's {field} must be an object of names and versions.")
        for name, spec in wanted.items():
            if not isinstance(spec, str) or LOCAL_SPEC.match(spec.strip()):
                raise ManifestError(
                    f"package.json: the dependency {name!r} ({spec!r}) is not a version or a URL; local "
                    "paths (file:, link:, ./) are not installed here."
                )


def _read(checked: codestore.CheckedZip, path: str) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(checked.data)) as zf:
        return zf.read(checked.raw[path]).decode("utf-8", errors="replace")


def manifest_to_build(checked: codestore.CheckedZip, runtime: str) -> str | None:
    """The manifest whose dependencies must be installed for this code on
    `runtime`, or None: no manifest at the top of the code, nothing listed
    in it, or the packages are in the zip already (Python: a *.dist-info
    or *.egg-info folder, or a package or module named after a
    requirement, beside it; Node.js: node_modules). ManifestError for a
    package.json that is not a JSON object."""
    kind = dependency_install.language(runtime)
    manifest = MANIFESTS.get(kind)
    if manifest is None or manifest not in checked.raw:
        return None
    top = _top_level(checked)
    text = _read(checked, manifest)
    if kind == "python":
        check_requirements(text)
        for line in text.splitlines():
            # -r/-c files of the code are checked the same way.
            option, _, value = line.strip().replace("=", " ", 1).partition(" ")
            included = value.strip()
            if option in ("-r", "--requirement", "-c", "--constraint") and included in checked.raw:
                check_requirements(_read(checked, included))
        names = requirement_names(text)
        has_options = any(line.strip().startswith("-r") for line in text.splitlines())
        if not names and not has_options:
            return None
        if any(entry.endswith((".dist-info", ".egg-info")) for entry in top):
            return None
        modules = {entry.removesuffix(".py").lower().replace("-", "_") for entry in top}
        if any(name.replace("-", "_") in modules for name in names):
            return None
        return manifest
    try:
        package = json.loads(text)
    except ValueError as e:
        raise ManifestError(f"package.json is not valid JSON ({e}).") from None
    if not isinstance(package, dict):
        raise ManifestError("package.json must hold a JSON object.")
    wanted = package.get("dependencies") or package.get("optionalDependencies")
    if not wanted or "node_modules" in top:
        return None
    check_package_json(package)
    return manifest


# The function's side ------------------------------------------------------


def build_pending(fn: Function) -> bool:
    """True while the function waits for a dependency build."""
    return fn.last_update_status == "InProgress" and fn.last_build_id is not None


def refuse_while_pending(fn: Function) -> str | None:
    """Lambda's ResourceConflictException message for a code or
    configuration change while a build is pending, or None."""
    if not build_pending(fn):
        return None
    if fn.state == "Pending":
        return PENDING_MESSAGE.format(state="Pending")
    return UPDATE_IN_PROGRESS.format(arn=fn.arn)


def refuse_invoke(fn: Function) -> str | None:
    """Lambda's ResourceConflictException message for an Invoke of a
    function that is not Active (Pending while its first build runs,
    Failed when that build failed), or None."""
    if fn.state in ("Pending", "Failed"):
        return PENDING_MESSAGE.format(state=fn.state)
    return None


def submitted_code(fn: Function) -> CodeBundle:
    """The code the function runs or waits to run, as its user uploaded it:
    Lambda's CodeSha256 and CodeSize, and what the console's editor edits.
    It differs from `fn.code` (what runs) while a build is pending, and
    when `fn.code` is a build's result (the code plus its packages), also
    an earlier build's kept after a failed update."""
    build = fn.last_build
    if build is None:  # never built: what runs is what was uploaded
        return fn.code
    if build_pending(fn) or build.result_id == fn.code_id:
        return build.source
    # After a failed update the function keeps the result of an earlier
    # build, which is no longer its last one: still the upload it came from.
    earlier = DependencyBuild.objects.filter(result_id=fn.code_id).select_related("source").first()
    return earlier.source if earlier is not None else fn.code


def _clear_update(fn: Function) -> None:
    fn.state = "Active"
    fn.state_reason = fn.state_reason_code = ""
    fn.last_update_status = "Successful"
    fn.last_update_status_reason = fn.last_update_status_reason_code = ""


# Lambda's State and LastUpdateStatus with their reasons (what _clear_update sets).
STATE_FIELDS = ["state", "state_reason", "state_reason_code", "last_update_status",
                "last_update_status_reason", "last_update_status_reason_code"]
SUBMIT_FIELDS = ["code", "editable_file", "last_build", *STATE_FIELDS, "revision", "updated_at"]


def code_switched(fn: Function) -> list[str]:
    """What an update that needs no build sets (the caller switched the
    code): Active and Successful, no reasons. Returns the fields to save."""
    _clear_update(fn)
    return list(STATE_FIELDS)


def configuration_updated(fn: Function) -> list[str]:
    """What a successful configuration update (no new build) sets: a
    failed build's LastUpdateStatus becomes "Successful" with its reason
    cleared, as Lambda's (the function keeps the code it had; its State is
    left alone: a function whose create failed stays Failed). Returns the
    fields to save."""
    if fn.last_update_status != "Failed":
        return []
    fn.last_update_status = "Successful"
    fn.last_update_status_reason = fn.last_update_status_reason_code = ""
    return ["last_update_status", "last_update_status_reason", "last_update_status_reason_code"]


def pending_version(fn: Function) -> dict:
    """What a version published while `fn` waits on its dependency build
    freezes beyond $LATEST's fields: {"frozen": {"code_id": the submitted
    code}, "state": "Pending", ...}; {} when no build is pending (the
    version freezes $LATEST as it is). `finish` ends such versions."""
    if not build_pending(fn):
        return {}
    return {
        "frozen": {"code_id": fn.last_build.source_id},
        "state": "Pending", "state_reason": VERSION_CREATING_REASON, "state_reason_code": "Creating",
    }


def _end_versions(build: DependencyBuild, result: CodeBundle | None, reason: str, reason_code: str) -> None:
    """The versions published waiting on `build` (their code is its source,
    on its runtime): Active with the built code, or Failed with the reason.
    A new revision each, so no process keeps its pending copy
    (functions.lookup, invocations.runner key them on it)."""
    for version in FunctionVersion.objects.select_for_update().filter(
        code_id=build.source_id, runtime=build.runtime, state="Pending",
    ):
        if result is not None:
            version.code = result
            version.state, version.state_reason, version.state_reason_code = "Active", "", ""
        else:
            version.state, version.state_reason, version.state_reason_code = "Failed", reason, reason_code
        version.revision = uuid.uuid4()
        version.save(update_fields=["code", "state", "state_reason", "state_reason_code", "revision"])


def submit(fn: Function, bundle: CodeBundle, manifest: str, *, creating: bool) -> DependencyBuild:
    """Make `fn` wait for the build of `bundle` (stored already) on its
    runtime, inside the caller's transaction; the caller saves
    SUBMIT_FIELDS. A finished build of the same code is reused at once (the
    code switches now); a failed one is built again; one in progress is
    waited on. The task is queued when the transaction commits."""
    build, created = DependencyBuild.objects.get_or_create(
        source=bundle, runtime=fn.runtime, defaults={"function": fn},
    )
    if build.status == "Successful" and build.result is not None and build.result.files_dir.is_dir():
        fn.code = build.result
        fn.editable_file = ""
        fn.last_build = build
        _clear_update(fn)
        return build
    if not created and build.status != "InProgress":
        # Failed (or its result's files are gone): built again from the start.
        DependencyBuild.objects.filter(pk=build.pk).update(
            status="InProgress", log="", result=None, finished_at=None, heartbeat_at=None,
            attempts=0, queued_at=timezone.now(),
        )
        build.refresh_from_db()
        created = True
    fn.last_build = build
    if creating:
        fn.code = bundle  # runs nothing: Invoke is refused while Pending
        fn.editable_file = ""
    if creating or fn.state in ("Pending", "Failed"):
        fn.state, fn.state_reason, fn.state_reason_code = "Pending", CREATING_REASON, "Creating"
    fn.last_update_status = "InProgress"
    fn.last_update_status_reason = CREATING_REASON if creating else UPDATING_REASON.format(manifest=manifest)
    fn.last_update_status_reason_code = "Creating" if creating else ""
    if created:
        transaction.on_commit(lambda: queue(build.pk))
    return build


def queue(build_id) -> None:
    """Queue the build's task by name (functions.tasks registers it in every
    process; CELERY_TASK_ROUTES puts it on the workers' default queue)."""
    from celery import current_app

    current_app.send_task("functions.build_dependencies", args=[str(build_id)])


def finish(build: DependencyBuild, *, result: CodeBundle | None = None, log_text: str = "",
           reason: str = "", reason_code: str = DEPENDENCY_ERROR) -> list | None:
    """End a build: Successful with `result`, else Failed with `reason`;
    then every function waiting on it switches to the result or records
    the failure (keeping its previous code). One conditional UPDATE of the
    build, so of two tasks running one build only the first to end
    counts. Returns the ids of the functions that waited on it, or None
    when another call ended it first."""
    status = "Successful" if result is not None else "Failed"
    now = timezone.now()
    with transaction.atomic():
        ended = DependencyBuild.objects.filter(pk=build.pk, status="InProgress").update(
            status=status, result=result, log=log_text, finished_at=now,
        )
        if ended != 1:
            return None
        waiting = list(
            Function.objects.select_for_update().select_related("team")
            .filter(last_build=build, last_update_status="InProgress")
        )
        for fn in waiting:
            if result is not None:
                fn.code = result
                fn.editable_file = ""
                _clear_update(fn)
                fn.touch_revision()
            else:
                if fn.state == "Pending":
                    fn.state, fn.state_reason, fn.state_reason_code = "Failed", reason, reason_code
                fn.last_update_status = "Failed"
                fn.last_update_status_reason = reason
                fn.last_update_status_reason_code = reason_code
            # save(): post_save drops every process's copy of the function.
            fn.save(update_fields=SUBMIT_FIELDS)
        _end_versions(build, result, reason, reason_code)
    build.refresh_from_db()
    return [fn.id for fn in waiting]


def waiting_functions(build: DependencyBuild) -> list[Function]:
    return list(Function.objects.filter(last_build=build, last_update_status="InProgress"))


# Recovery -----------------------------------------------------------------


def claim(build_id) -> DependencyBuild | None:
    """Start a build (a task's first step): it must be InProgress and no
    other task may be beating it. A conditional UPDATE, so two tasks for
    one build never both run it. None when there is nothing to do."""
    now = timezone.now()
    stale = now - timedelta(seconds=STALE_AFTER_S)
    claimed = DependencyBuild.objects.filter(pk=build_id, status="InProgress").filter(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale)
    ).update(heartbeat_at=now, attempts=F("attempts") + 1)
    if claimed != 1:
        return None
    return DependencyBuild.objects.select_related("source").get(pk=build_id)


def beat(build: DependencyBuild, log_text: str) -> bool:
    """Record progress (the log so far) and a sign of life; False when the
    build ended meanwhile (another task finished it)."""
    return DependencyBuild.objects.filter(pk=build.pk, status="InProgress").update(
        heartbeat_at=timezone.now(), log=log_text,
    ) == 1


def recover() -> int:
    """Builds left behind (functions.reconcile_builds, periodic): one whose
    task was lost (never started STRATUS_REQUEUE_AFTER after it was queued)
    is queued again; one whose worker stopped mid-build (no beat for
    STALE_AFTER_S) is built again once, then Failed with InternalError.
    Returns how many were acted on. Safe to run twice: conditional UPDATEs."""
    now = timezone.now()
    count = 0
    lost_cutoff = now - timedelta(seconds=settings.STRATUS_REQUEUE_AFTER)
    for build_id in DependencyBuild.objects.filter(
        status="InProgress", heartbeat_at__isnull=True, queued_at__lt=lost_cutoff,
    ).values_list("pk", flat=True)[:100]:
        if DependencyBuild.objects.filter(
            pk=build_id, status="InProgress", heartbeat_at__isnull=True, queued_at__lt=lost_cutoff,
        ).update(queued_at=now) == 1:
            queue(build_id)
            count += 1
    stale = now - timedelta(seconds=STALE_AFTER_S)
    for build in DependencyBuild.objects.filter(status="InProgress", heartbeat_at__lt=stale)[:100]:
        note = "\n[Stratus] The worker running this build stopped before it finished."
        if build.attempts >= MAX_ATTEMPTS:
            ended = finish(build, log_text=build.log + note, reason_code=INTERNAL_ERROR, reason=(
                f"The dependency build was interrupted {build.attempts} times (the worker running it "
                "stopped). Upload the code again to retry."
            ))
            if ended is not None:
                count += 1
            continue
        again = DependencyBuild.objects.filter(
            pk=build.pk, status="InProgress", heartbeat_at=build.heartbeat_at,
        ).update(heartbeat_at=None, queued_at=now, log=build.log + note + " Building again.\n")
        if again == 1:
            queue(build.pk)
            count += 1
    return count
