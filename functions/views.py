"""The console's function pages. Thin: access goes through functions.access,
validation and changes through functions.service."""

import json
import re
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from django.conf import settings

from awsapi import errors, jsontext
from functions import (
    build_live, code_tab, dependencies, handlers, qualifiers, service, url_tag_views, versions, versions_tab,
)
from functions.access import can_write, get_function_for_user, teams_for, writable_teams
from functions.code import SINGLE_FILE_SUFFIXES, CodeError, bootstrap_zip, zip_single_file
from functions.forms import (
    ConfigurationForm,
    ExecutionPolicyForm,
    CodeFileForm,
    CreateFunctionForm,
    NewFileForm,
    SourceForm,
    TestEventForm,
    UploadCodeForm,
    family,
    starters,
)
from functions.layer_forms import FunctionLayersForm
from functions.models import Function, TestEvent
from invocations import dispatch, env_views, redis_link, unrecorded
from invocations.done import Done
from invocations.forms import AsyncConfigForm
from invocations.models import STATUSES, Invocation
from invocations.stats import stats_for
from monitor.views import tab_context as monitor_context

TABS = ["code", "configuration", "versions", "test", "invocations", "monitor", "environments", "triggers"]
PAGE_SIZE = 50
# Lambda's limit for a synchronous request payload.
MAX_EVENT_BYTES = 6 * 1024 * 1024
# How long an Invoke click's token is remembered (a double click, a resent form).
INVOKE_TOKEN_TTL_S = 300


def _detail_url(fn: Function, tab: str) -> str:
    return reverse("fn-detail", args=[fn.id]) + f"?tab={tab}"


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    functions = Function.objects.filter(team__in=teams_for(request.user)).select_related("team")
    rows = [(fn, stats_for(fn)) for fn in functions]
    can_create = writable_teams(request.user).exists()
    return render(request, "functions/list.html", {"rows": rows, "can_create": can_create})


# Creating -----------------------------------------------------------------


_ESM_SYNTAX = re.compile(r"^\s*(export|import)\s", re.MULTILINE)


def _inline_file_name(data: dict) -> str:
    """The file inline code is stored as: the handler's module. Python:
    <module>.py; Node: <file>.mjs when the code uses ES module syntax
    (export/import statements), else <file>.js (CommonJS), as Lambda's
    Node runtime tells them apart."""
    module = data["handler"].rsplit(".", 1)[0]
    if family(data["runtime"]) == "nodejs":
        name = data["handler"].split(".", 1)[0]
        name = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else "index"
        return name + (".mjs" if _ESM_SYNTAX.search(data["source"]) else ".js")
    return f"{module}.py" if module.isidentifier() else "lambda_function.py"


def _zip_from_form(form: CreateFunctionForm) -> bytes:
    data = form.cleaned_data
    if data["code_source"] == "inline" and handlers.is_custom(data["runtime"]):
        return bootstrap_zip(data["source"])
    if data["code_source"] == "inline":
        return zip_single_file(_inline_file_name(data), data["source"])
    upload = data["code_file"]
    if data["code_source"] == "py":
        return zip_single_file(upload.name, upload.read())
    return upload.read()


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    """The new-function page; a rejected value is a form error and stores
    nothing (functions.service)."""
    teams = writable_teams(request.user)
    if not teams:
        raise PermissionDenied("You can create functions only in a team where you are not read-only.")
    if request.method == "POST":
        form = CreateFunctionForm(request.POST, request.FILES, teams=teams)
    else:
        form = CreateFunctionForm(teams=teams)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        code_field = "source" if data["code_source"] == "inline" else "code_file"
        try:
            fn = service.create_function(
                data["team"],
                name=data["name"],
                zip_bytes=_zip_from_form(form),
                handler=data["handler"],
                runtime=data["runtime"],
                memory_mb=data["memory_mb"],
                timeout_s=data["timeout_s"],
                environment=service.parse_env_lines(data["environment"]),
                description=data["description"],
            )
        except service.FunctionError as e:
            form.add_error(code_field if e.field == "code" else _form_field(form, e.field), str(e))
        except CodeError as e:
            form.add_error(code_field, str(e))
        else:
            messages.success(request, f"Created {fn.name}.{_building(fn)}")
            if problem := service.handler_problem(fn):
                messages.warning(request, f"Warning: {problem}")
            return redirect("fn-detail", fn.id)
    return render(request, "functions/create.html", {"form": form, "starters": starters()})


def _form_field(form, field: str | None) -> str | None:
    return field if field in form.fields else None


# The detail page and its tabs ------------------------------------------------


def _test_context(request: HttpRequest, fn: Function) -> dict:
    events = list(fn.test_events.all())
    selected = next((e for e in events if e.name == request.GET.get("event")), None)
    initial = {"event": selected.payload, "save_as": selected.name} if selected else None
    if request.GET.get("from"):
        initial = {"event": _event_of_invocation(request, fn, request.GET["from"])}
    return {
        "events": events, "selected": selected, "test_form": TestEventForm(initial=initial),
        "invoke_choices": versions_tab.invoke_choices(fn),
        "invoke_qualifier": request.GET.get("qualifier", ""),
    }


def _event_of_invocation(request: HttpRequest, fn: Function, request_id: str) -> str:
    """?tab=test&from=<request id> ("Open this event in Test"): that
    invocation's event, pretty-printed, if it is one of this function's
    (the function is access-checked already); 404 otherwise."""
    try:
        inv = Invocation.objects.only("event").filter(request_id=uuid.UUID(request_id), function=fn).first()
    except ValueError:
        inv = None
    if inv is None:
        raise Http404("No such invocation of this function.")
    messages.info(request, f"Loaded the event of invocation {inv.request_id}.")
    try:
        return json.dumps(json.loads(inv.event), indent=2)
    except ValueError:
        return inv.event


def _status_filter(request: HttpRequest) -> str:
    status = request.GET.get("status", "")
    return status if status in dict(STATUSES) else ""


def _invocations_page(request: HttpRequest, fn: Function):
    status = _status_filter(request)
    invocations = fn.invocations.all()
    if status:
        invocations = invocations.filter(status=status)
    return status, Paginator(invocations, PAGE_SIZE).get_page(request.GET.get("page"))


def _invocations_query(status: str, page_number: int) -> str:
    """The list's own query (tab, filter, page): what the URL keeps, so a
    reload or a shared link shows the same list."""
    query = {"tab": "invocations"}
    if status:
        query["status"] = status
    if page_number > 1:
        query["page"] = page_number
    return urlencode(query)


def _invocations_context(request: HttpRequest, fn: Function) -> dict:
    status, page = _invocations_page(request, fn)
    return {
        "page": page,
        "status_filter": status,
        "statuses": STATUSES,
        "live_query": _invocations_query(status, page.number),
    }


def _render_detail(request: HttpRequest, fn: Function, tab: str, status: int = 200, **extra):
    ctx = {
        "fn": fn,
        "tab": tab,
        "tabs": TABS,
        "can_write": can_write(request.user, fn.team),
        # Every tab: a running build's progress and a failed one's reason.
        "build_panel": build_live.panel_context(fn),
    }
    if not request.htmx:
        # The page's head shows the function URL (the tabs' fragments have no head).
        ctx["head_url"] = url_tag_views.head_url(request, fn)
    if tab == "code":
        ctx.update(code_tab.context(request, fn, can_write=ctx["can_write"], extra=extra))
    elif tab == "configuration":
        ctx["config_form"] = ConfigurationForm(initial=ConfigurationForm.initial_for(fn))
        ctx["async_form"] = AsyncConfigForm.for_function(fn)
        ctx["policy_form"] = ExecutionPolicyForm(initial=ExecutionPolicyForm.initial_for(fn))
        ctx["denied_calls"] = fn.denied_calls.all()[:20]
        ctx["layers_form"] = FunctionLayersForm(function=fn)
        # Said in the delete button's confirmation: deleting cancels them.
        ctx["pending_async"] = fn.invocations.filter(status="queued").count()
        ctx.update(url_tag_views.tab_context(request, fn, extra))
    elif tab == "versions":
        ctx.update(versions_tab.context(fn, extra))
    elif tab == "test":
        ctx.update(_test_context(request, fn))
        ctx["invoke_token"] = uuid.uuid4().hex
    elif tab == "invocations":
        ctx.update(_invocations_context(request, fn))
    elif tab == "monitor":
        ctx.update(monitor_context(request, fn))
        status = ctx.pop("status", status)
    elif tab == "environments":
        ctx.update(env_views.tab_context(fn))
    ctx.update(extra)
    template = "functions/detail.html"
    if request.htmx and tab == "invocations" and request.htmx.target == "inv-table":
        template += "#rows"
    elif request.htmx:
        template += "#tab"
    response = render(request, template, ctx, status=status)
    if request.htmx and tab == "invocations":
        # The filter and page stay in the address bar, whatever asked.
        response["HX-Push-Url"] = reverse("fn-detail", args=[fn.id]) + "?" + ctx["live_query"]
    # The same URL answers with a page or a fragment: keep caches apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _building(fn: Function) -> str:
    """What a notice adds when the change started a dependency build."""
    if not dependencies.build_pending(fn):
        return ""
    if fn.state == "Pending":
        return " Its dependencies are being installed; it can be invoked once they are."
    return " Its dependencies are being installed; the function runs its previous code until then."


def _done(request: HttpRequest, fn: Function, tab: str, notice: str) -> HttpResponse:
    notice += _building(fn)
    if tab in ("code", "configuration") and (problem := service.handler_problem(fn)):
        # Saved all the same, as Lambda does; said so the invoke's failure is no surprise.
        notice = f"{notice} Warning: {problem}"
    if request.htmx:
        response = _render_detail(request, fn, tab, notice=notice)
        if tab == "configuration":
            # The header shows memory and timeout: it swaps out-of-band.
            response.write(render_to_string("functions/detail.html#head", {"fn": fn, "head_oob": True}))
        return response
    messages.success(request, notice)
    return redirect(_detail_url(fn, tab))


@login_required
@require_GET
def detail(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id)
    tab = request.GET.get("tab", "code")
    if tab not in TABS:
        tab = "code"
    return _render_detail(request, fn, tab)


@login_required
@require_GET
def code_zip(request: HttpRequest, function_id) -> FileResponse:
    fn = get_function_for_user(request.user, function_id)
    try:
        # FileResponse closes the file when the response is done.
        handle = open(dependencies.submitted_code(fn).zip_path, "rb")  # noqa: SIM115
    except OSError:
        raise Http404("The code bundle is missing.") from None
    return FileResponse(handle, as_attachment=True, filename=f"{fn.name}.zip")


def _code_done(request: HttpRequest, fn: Function, notice: str, opened: str) -> HttpResponse:
    """After a change of the code's files: the Code tab with `opened` open."""
    notice += _building(fn)
    if problem := service.handler_problem(fn):
        # Saved all the same, as Lambda does; said so the invoke's failure is no surprise.
        notice = f"{notice} Warning: {problem}"
    location = _detail_url(fn, "code") + ("&" + urlencode({"file": opened}) if opened else "")
    if request.htmx:
        response = _render_detail(request, fn, "code", notice=notice, opened=opened)
        response["HX-Push-Url"] = location
        return response
    messages.success(request, notice)
    return redirect(location)


@login_required
@require_POST
def code_save(request: HttpRequest, function_id) -> HttpResponse:
    """Save one file of the code from the editor: a new bundle with that
    file replaced and every other kept (functions.service.update_code_files);
    refused, with the text kept in the editor, when the code changed since
    the editor opened it."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = SourceForm(request.POST)
    if form.is_valid():
        path = form.cleaned_data["path"]
        try:
            service.update_code_files(
                fn, base_sha256=form.cleaned_data["base"], edits={path: form.cleaned_data["source"]}
            )
        except service.CodeChanged as e:
            form.add_error(None, str(e))
            return _render_detail(request, fn, "code", source_form=form, code_changed=True)
        except service.FunctionError as e:
            form.add_error(None, str(e))
        else:
            return _code_done(request, fn, f"Saved {path}.", path)
    return _render_detail(request, fn, "code", source_form=form)


@login_required
@require_POST
def code_file_add(request: HttpRequest, function_id) -> HttpResponse:
    """Add an empty file to the code (a new bundle) and open it."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = NewFileForm(request.POST)
    if form.is_valid():
        path = form.cleaned_data["path"]  # normalised: code_files.clean_new_path
        try:
            service.update_code_files(fn, base_sha256=form.cleaned_data["base"], adds={path: ""})
        except service.FunctionError as e:
            form.add_error("path", str(e))
        else:
            return _code_done(request, fn, f"Added {path}.", path)
    return _render_detail(request, fn, "code", new_file_form=form)


@login_required
@require_POST
def code_file_delete(request: HttpRequest, function_id) -> HttpResponse:
    """Delete one file of the code (a new bundle); the handler's module is
    protected (functions.service.update_code_files)."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = CodeFileForm(request.POST)
    if form.is_valid():
        path = form.cleaned_data["path"]
        try:
            service.update_code_files(fn, base_sha256=form.cleaned_data["base"], deletes=[path])
        except service.FunctionError as e:
            return _render_detail(request, fn, "code", opened=path, code_error=str(e))
        return _code_done(request, fn, f"Deleted {path}.", "")
    return _render_detail(request, fn, "code", code_error="Choose a file of the code to delete.")


@login_required
@require_POST
def code_upload(request: HttpRequest, function_id) -> HttpResponse:
    """New code from an uploaded .zip, or one .py / .js / .mjs / .cjs file
    (at most 50 MB)."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = UploadCodeForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["code_file"]
        try:
            if upload.name.endswith(SINGLE_FILE_SUFFIXES):
                zip_bytes = zip_single_file(upload.name, upload.read())
            else:
                zip_bytes = upload.read()
            service.update_code(fn, zip_bytes)
        except (service.FunctionError, CodeError) as e:
            form.add_error("code_file", str(e))
        else:
            return _done(request, fn, "code", f"Uploaded {upload.name}.")
    return _render_detail(request, fn, "code", upload_form=form)


@login_required
@require_POST
def configure(request: HttpRequest, function_id) -> HttpResponse:
    """Save the Configuration tab's settings, all of them or none."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = ConfigurationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            service.update_configuration(
                fn,
                handler=data["handler"],
                memory_mb=data["memory_mb"],
                timeout_s=data["timeout_s"],
                description=data["description"],
                environment=service.parse_env_lines(data["environment"]),
                **form.new_settings(fn),
            )
        except service.FunctionError as e:
            # update_configuration checks everything before it saves anything.
            form.add_error(_form_field(form, e.field), str(e))
        else:
            return _done(request, fn, "configuration", "Saved the configuration.")
    return _render_detail(request, fn, "configuration", config_form=form)


@login_required
@require_POST
def configure_policy(request: HttpRequest, function_id) -> HttpResponse:
    """Save the execution policy (awsapi.policy), or say what is wrong with it."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = ExecutionPolicyForm(request.POST)
    if form.is_valid():
        Function.objects.filter(pk=fn.pk).update(
            execution_policy=form.cleaned_data["execution_policy"], updated_at=timezone.now()
        )
        fn.refresh_from_db()
        return _done(request, fn, "configuration", "Saved the execution policy.")
    return _render_detail(request, fn, "configuration", policy_form=form)


@login_required
@require_POST
def configure_async(request: HttpRequest, function_id) -> HttpResponse:
    """Async invocation settings and reserved concurrency, saved together."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = AsyncConfigForm(request.POST, function=fn)
    if form.save():
        return _done(request, fn, "configuration", "Saved the asynchronous invocation settings.")
    return _render_detail(request, fn, "configuration", async_form=form)


@login_required
@require_POST
def delete(request: HttpRequest, function_id) -> HttpResponse:
    """Delete the function; the message says what became of its pending
    async events (functions.service.delete_function)."""
    fn = get_function_for_user(request.user, function_id, write=True)
    deleted = service.delete_function(fn)
    messages.success(request, deleted.summary())
    return redirect("fn-list")


def _clean_event(form: TestEventForm) -> str | None:
    """The event text if it is JSON; otherwise the form carries the error."""
    if not form.is_valid():
        return None
    text = form.cleaned_data["event"]
    if len(text.encode()) > MAX_EVENT_BYTES:
        form.add_error("event", "The event is larger than 6 MB, the limit for a test invocation.")
        return None
    try:
        jsontext.loads(text, what="The event")
    except jsontext.JsonError as e:
        form.add_error("event", f"The event is not valid JSON ({e}). Fix it and try again.")
        return None
    return text


def _invoke_token_key(fn: Function, token: str) -> str:
    return f"{settings.STRATUS_INSTANCE}:console-invoke:{fn.id}:{token}"


def _first_use(fn: Function, token: str) -> bool:
    """Whether this Invoke click's token is new (Redis SET NX): a double
    click or a resent form carries the same one and runs nothing more.
    Without Redis (nothing could run anyway) every use is a first."""
    if not token:
        return True
    key = _invoke_token_key(fn, token)
    return bool(redis_link.quietly(
        lambda c: c.set(key, "1", nx=True, ex=INVOKE_TOKEN_TTL_S), "invoke token", default=True
    ))


def _forget_token(fn: Function, token: str) -> None:
    # A refused call ran nothing: the same click may be tried again.
    if token:
        redis_link.quietly(lambda c: c.delete(_invoke_token_key(fn, token)), "invoke token")


def _panel(request: HttpRequest, context: dict) -> HttpResponse:
    """The Test tab's result panel, with a fresh token for the next click."""
    return render(request, "invocations/_result_panel.html", {**context, "next_token": uuid.uuid4().hex})


@login_required
@require_POST
def invoke(request: HttpRequest, function_id) -> HttpResponse:
    """Invoke from the Test tab: the panel answers at once (queued), then
    follows the run live (templates/invocations/live_*.html) and catches up
    with `invocation_state`. Form field `invoke_token` (hex, one per click):
    a second request with the same token runs nothing (204 to htmx)."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = TestEventForm(request.POST)
    event = _clean_event(form)
    if event is None:
        if request.htmx:
            return _panel(request, {"form": form})
        return _render_detail(request, fn, "test", test_form=form)
    if refused := dependencies.refuse_invoke(fn):
        form.add_error("event", f"{refused}: its dependencies are being installed or failed to install "
                                "(see Dependencies above).")
        if request.htmx:
            return _panel(request, {"form": form})
        return _render_detail(request, fn, "test", status=409, test_form=form)
    token = request.POST.get("invoke_token", "")[:64]
    if not _first_use(fn, token):
        if request.htmx:
            return HttpResponse(status=204)
        return redirect(_detail_url(fn, "test"))
    # The version or alias picked ("" runs $LATEST), resolved as Invoke's
    # Qualifier is: an alias picks its version for this call.
    qualifier = request.POST.get("qualifier", "")[:128]
    try:
        target = qualifiers.resolve(fn, qualifier or None)
    except qualifiers.QualifierNotFound:
        _forget_token(fn, token)
        form.add_error(None, f"{fn.name} has no version or alias {qualifier}: pick another in Run.")
        if request.htmx:
            return _panel(request, {"form": form})
        return _render_detail(request, fn, "test", status=404, test_form=form)
    # Returns at once: the worker streams logs and the outcome to the
    # function's page, which shows this invocation's panel meanwhile.
    started = dispatch.start_sync(target, event, source="console")
    if isinstance(started, Done):
        _forget_token(fn, token)
        form.add_error("event", (started.error or {}).get("errorMessage") or started.status)
        if request.htmx:
            return _panel(request, {"form": form})
        return _render_detail(request, fn, "test", status=429, test_form=form)
    inv = Invocation(
        request_id=started, function=fn, status="queued", source="console", event=event,
        function_version=target.executed_version,
    )
    if not request.htmx:
        return redirect(_detail_url(fn, "test"))
    return _panel(request, {"inv": inv})


@login_required
@require_GET
def invocation_state(request: HttpRequest, function_id, request_id) -> HttpResponse:
    """One invocation's status, outcome and (once final) logs as
    out-of-band fragments: how the Test panel catches up with what the
    socket said before it existed or while it was down. A sync call not yet
    recorded is read from the recorder's stream, else from its lease
    (running) or taken as queued (invocations.unrecorded)."""
    fn = get_function_for_user(request.user, function_id)
    inv = unrecorded.find(request_id)
    if inv is not None and inv.function_id != fn.id:
        raise Http404("No such invocation of this function.")
    if inv is None:
        status = "running" if unrecorded.is_running(request_id) else "queued"
        inv = Invocation(request_id=request_id, function=fn, status=status)
    return render(request, "invocations/live_state.html", {"inv": inv})


@login_required
@require_GET
def live_rows(request: HttpRequest, function_id) -> HttpResponse:
    """The Invocations tab's rows (query: status, page) as live rows, which
    the page upserts: how it catches up whenever its socket (re)opens. The
    first page adds answered sync calls still waiting to be recorded."""
    fn = get_function_for_user(request.user, function_id)
    status, page = _invocations_page(request, fn)
    rows = list(page.object_list)
    if page.number == 1:
        seen = {inv.request_id for inv in rows}
        rows += [
            inv for inv in unrecorded.pending(fn.id)
            if inv.request_id not in seen and (not status or inv.status == status)
        ]
    return render(request, "invocations/live_rows.html", {"rows": rows})


@login_required
@require_POST
def event_save(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = TestEventForm(request.POST)
    event = _clean_event(form)
    name = (form.cleaned_data.get("save_as") or "").strip() if event is not None else ""
    if event is not None and not name:
        form.add_error("save_as", "Give the event a name to save it under.")
    if form.errors:
        return _render_detail(request, fn, "test", test_form=form)
    TestEvent.objects.update_or_create(function=fn, name=name, defaults={"payload": event})
    if request.htmx:
        request.GET = request.GET.copy()
        request.GET["event"] = name
        return _render_detail(request, fn, "test", notice=f"Saved the test event {name}.")
    messages.success(request, f"Saved the test event {name}.")
    return redirect(_detail_url(fn, "test") + "&" + urlencode({"event": name}))


# The Versions tab (functions.versions_tab; rules in functions.versions) ------


def _versions_done(request: HttpRequest, fn: Function, notice: str) -> HttpResponse:
    if request.htmx:
        return _render_detail(request, fn, "versions", notice=notice)
    messages.success(request, notice)
    return redirect(_detail_url(fn, "versions"))


def _versions_refused(request: HttpRequest, fn: Function, **forms) -> HttpResponse:
    # 200 to htmx, which swaps only 2xx answers; 400 to a plain POST.
    return _render_detail(request, fn, "versions", status=200 if request.htmx else 400, **forms)


@login_required
@require_POST
def version_publish(request: HttpRequest, function_id) -> HttpResponse:
    """Publish $LATEST as a new version (PublishVersion's rules: nothing
    changed since the newest version publishes nothing and says so)."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = versions_tab.PublishVersionForm(request.POST)
    if form.is_valid():
        try:
            version, new = versions.publish(fn, description=form.cleaned_data["description"])
        except errors.AwsError as e:
            form.add_error(None, e.message)
        else:
            if not new:
                return _versions_done(
                    request, fn, f"Nothing changed since version {version.version}: no new version published."
                )
            return _versions_done(request, fn, f"Published version {version.version}.")
    return _versions_refused(request, fn, publish_form=form)


def _save_alias(form: versions_tab.AliasWeightsForm, call) -> bool:
    """Run `call(routing_config)` if the form is good; its errors onto the form."""
    if not form.is_valid():
        return False
    routing = form.routing_config()
    if routing is None:
        return False
    try:
        call(routing)
    except errors.AwsError as e:
        form.apply_error(e)
        return False
    return True


@login_required
@require_POST
def alias_create(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = versions_tab.AliasForm(request.POST, function=fn, prefix="new-alias")
    if _save_alias(form, lambda routing: versions.create_alias(
        fn, name=form.cleaned_data["name"], function_version=form.cleaned_data["function_version"],
        description=form.cleaned_data["description"], routing_config=routing,
    )):
        return _versions_done(request, fn, f"Created the alias {form.cleaned_data['name']}.")
    return _versions_refused(request, fn, alias_form=form)


@login_required
@require_POST
def alias_update(request: HttpRequest, function_id, alias: str) -> HttpResponse:
    """Point an alias at a version and split its calls with a second one."""
    fn = get_function_for_user(request.user, function_id, write=True)
    if not fn.aliases.filter(name=alias).exists():
        raise Http404("No such alias of this function.")
    form = versions_tab.AliasWeightsForm(request.POST, function=fn, prefix=f"alias-{alias}")
    if _save_alias(form, lambda routing: versions.update_alias(
        fn, alias, function_version=form.cleaned_data["function_version"], routing_config=routing,
    )):
        return _versions_done(request, fn, f"Saved the alias {alias}.")
    return _versions_refused(request, fn, edit_forms={alias: form})


@login_required
@require_POST
def alias_delete(request: HttpRequest, function_id, alias: str) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    try:
        versions.delete_alias(fn, alias)
    except errors.AwsError:
        raise Http404("No such alias of this function.") from None
    return _versions_done(request, fn, f"Deleted the alias {alias}.")
