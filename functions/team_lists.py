"""A console list page of one kind of team-owned thing (topics, queues,
buckets, tables, streams): the things in the user's teams, with a create
form offered in the teams where the user may write. The apps' list views
differ only in their form, how they create and what a row shows."""

from collections.abc import Callable, Iterable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from functions.access import teams_for, writable_teams


class TeamForm(forms.Form):
    """A list page's create form: the team to create in, chosen from
    `teams` (list_page gives the user's writable teams); subclasses add
    the name and the rest."""

    team = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


def list_page(
    request: HttpRequest, *, what: str, form_class: type[TeamForm],
    create: Callable[[TeamForm], object | None], url: Callable[[object], str],
    rows: Callable[..., Iterable], template: str, **form_kwargs,
) -> HttpResponse:
    """GET: `template` (one extending templates/_team_list.html) with
    `what`, `rows` (rows(teams_for(user))), `form` (an unbound
    form_class(teams=writable teams, **form_kwargs)) and `can_create`.
    POST: 403 to a user read-only in every team; a valid form goes to
    create(form), which returns the new thing (with a `name`; the
    answer is "Created the <what> <name>." and a redirect to url(thing)) or
    None when refused, having put the refusal on the form, which is then
    shown again with its errors and nothing saved."""
    teams = writable_teams(request.user)
    form = form_class(request.POST or None, teams=teams, **form_kwargs)
    if request.method == "POST":
        if not teams:
            raise PermissionDenied(f"You can create {what}s only in a team where you are not read-only.")
        if form.is_valid():
            made = create(form)
            if made is not None:
                messages.success(request, f"Created the {what} {made.name}.")
                return redirect(url(made))
    return render(request, template, {
        "what": what, "rows": rows(teams_for(request.user)), "form": form, "can_create": teams.exists(),
    })
