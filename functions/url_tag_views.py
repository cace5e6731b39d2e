"""The Configuration tab's function URL and tags sections (the console's
side of functions.function_urls and functions.service's tag rules): each
POST answers the section again (an htmx swap of #fn-url-tags), or sends a
browser without htmx back to the tab."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from functions import function_urls, service
from functions.access import can_write, get_function_for_user
from functions.forms import FunctionUrlForm, TagsForm
from functions.models import Function

TEMPLATE = "functions/_url_tags.html"


def endpoint(request: HttpRequest) -> str:
    """scheme://host as the browser reached this server: where the URL works."""
    return f"{request.scheme}://{request.get_host()}"


def head_url(request: HttpRequest, fn: Function) -> str:
    """The function's own URL for the page's head, or ""."""
    config = function_urls.find(fn)
    return function_urls.url_of(config, endpoint(request)) if config else ""


def tab_context(request: HttpRequest, fn: Function, extra: dict | None = None) -> dict:
    """What the sections show: the function's own URL (unqualified) with
    its form, and the tags form; forms in `extra` (with errors) win."""
    extra = extra or {}
    config = function_urls.find(fn)
    return {
        "fn": fn,
        "can_write": can_write(request.user, fn.team),
        "url_config": config,
        "function_url": function_urls.url_of(config, endpoint(request)) if config else "",
        "url_form": extra.get("url_form") or FunctionUrlForm(
            initial=FunctionUrlForm.initial_for(config) if config else {"auth_type": "NONE"}),
        "tags_form": extra.get("tags_form") or TagsForm(initial=TagsForm.initial_for(fn)),
    }


def _answer(request: HttpRequest, fn: Function, notice: str = "", **forms) -> HttpResponse:
    """The section again (a form with errors too: 200, which htmx swaps in,
    as the other Configuration forms answer)."""
    if not request.htmx:
        return redirect(reverse("fn-detail", args=[fn.id]) + "?tab=configuration")
    context = {**tab_context(request, fn, forms), "url_notice": notice}
    return render(request, TEMPLATE, context)


@login_required
@require_POST
def url_save(request: HttpRequest, function_id) -> HttpResponse:
    """Create the function's URL, or change its auth type and CORS."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = FunctionUrlForm(request.POST)
    if form.is_valid():
        config = function_urls.find(fn)
        try:
            if config is None:
                function_urls.create(fn, auth_type=form.cleaned_data["auth_type"], cors=form.cors())
                notice = "Created the function URL."
            else:
                function_urls.update(config, auth_type=form.cleaned_data["auth_type"], cors=form.cors())
                notice = "Saved the function URL."
        except function_urls.FunctionUrlError as e:
            form.add_error(None, str(e))
        else:
            return _answer(request, fn, notice)
    return _answer(request, fn, url_form=form)


@login_required
@require_POST
def url_delete(request: HttpRequest, function_id) -> HttpResponse:
    """Delete the function's URL: it stops answering at once."""
    fn = get_function_for_user(request.user, function_id, write=True)
    if config := function_urls.find(fn):
        function_urls.delete(config)
    return _answer(request, fn, "Deleted the function URL.")


@login_required
@require_POST
def tags_save(request: HttpRequest, function_id) -> HttpResponse:
    """Replace the function's tags with the form's."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = TagsForm(request.POST)
    if form.is_valid():
        service.set_tags(fn, form.cleaned_data["tags"])
        return _answer(request, fn, "Saved the tags.")
    return _answer(request, fn, tags_form=form)
