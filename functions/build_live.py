"""The function page's dependency build panel (templates/functions/_build.html),
sent live to the function's Channels group (invocations.live) while a build
runs and when it ends, where htmx swaps it in out-of-band."""

from __future__ import annotations

from django.template.loader import render_to_string

from functions import dependencies
from functions.models import DependencyBuild, Function
from invocations import live


def panel_context(fn: Function, build: DependencyBuild | None = None, log_text: str | None = None) -> dict:
    """What the panel shows for `fn`: its last build when it is pending,
    failed for this function, or made the code that runs; else nothing."""
    build = build or fn.last_build
    if build is None:
        return {"fn": fn, "build": None}
    pending = dependencies.build_pending(fn)
    failed = fn.last_update_status == "Failed" and build.status == "Failed"
    current = build.result_id is not None and build.result_id == fn.code_id
    if not (pending or failed or current):
        return {"fn": fn, "build": None}
    return {
        "fn": fn,
        "build": build,
        "pending": pending,
        "failed": failed,
        "log_text": build.log if log_text is None else log_text,
        "manifest": dependencies.MANIFESTS.get(dependencies.dependency_install.language(build.runtime), ""),
        "held": _held(fn),
    }


def _held(fn: Function) -> int | None:
    """How many async events wait for a function that is not Active
    (invocations.dispatch.not_ready holds them); None when it is Active."""
    if fn.state not in ("Pending", "Failed"):
        return None
    from invocations.models import Invocation

    return Invocation.objects.filter(
        function_id=fn.pk, status="queued", invocation_type="Event", attempts=0).count()


def render(fn: Function, build: DependencyBuild | None = None, log_text: str | None = None,
           oob: bool = False) -> str:
    """The panel, and the Code tab's note (swapped where that tab is open)."""
    context = {**panel_context(fn, build, log_text), "oob": oob}
    note = {"fn": fn, "pending": dependencies.build_pending(fn), "oob": oob}
    return (render_to_string("functions/_build.html", context)
            + render_to_string("functions/_build_note.html", note))


def _send(build: DependencyBuild, functions: list[Function], log_text: str | None) -> None:
    for fn in functions:
        group = live.fn_group(fn.id)
        if live.watched([group]):
            live.send([group], render(fn, build, log_text, oob=True))


def send_progress(build: DependencyBuild, log_text: str) -> None:
    """The panel with the log so far, to every waiting function's page."""
    _send(build, dependencies.waiting_functions(build), log_text)


def send_final(build: DependencyBuild, function_ids: list) -> None:
    """The finished panel (status, reason, whole log) to the functions
    that waited on it."""
    functions = list(Function.objects.select_related("last_build", "team").filter(id__in=function_ids))
    _send(build, functions, None)
