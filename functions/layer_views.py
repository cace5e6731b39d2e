"""The console's layer pages: the Layers page (the user's teams' layers and
their versions, publishing a version from a zip, deleting one) and saving
a function's layers from its Configuration tab. Thin: access through
functions.access, rules in functions.layers and functions.service."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from functions import layers, service, views
from functions.access import check_write, get_function_for_user, teams_for, writable_teams
from functions.layer_forms import FunctionLayersForm, PublishLayerForm
from functions.models import LayerVersion, Team


def _rows(user) -> list[dict]:
    """Every version not deleted of the user's teams' layers, by layer name
    then newest first, with the functions that list it and whether the
    user may delete it (not read-only in its team)."""
    teams = list(teams_for(user).values_list("id", flat=True))
    versions = (LayerVersion.objects.select_related("layer__team", "content")
                .filter(layer__team_id__in=teams, deleted_at__isnull=True)
                .order_by("layer__name", "layer__team__name", "-version"))
    used = layers.users_by_arn(teams)
    writable = set(writable_teams(user).values_list("id", flat=True))
    return [{"lv": lv, "arn": (arn := layers.arn_of(lv)), "users": used.get(arn, []),
             "can_delete": lv.layer.team_id in writable} for lv in versions]


@login_required
@require_http_methods(["GET", "POST"])
def layer_list(request: HttpRequest) -> HttpResponse:
    """GET: the Layers page. POST: publish a version (PublishLayerVersion's
    rules: functions.layers.publish); a refusal is shown on the form and
    nothing is stored."""
    teams = writable_teams(request.user)
    form = PublishLayerForm(request.POST or None, request.FILES or None, teams=teams)
    if request.method == "POST":
        if not teams:
            raise PermissionDenied("You can publish layers only in a team where you are not read-only.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                lv = layers.publish(
                    data["team"], data["name"], data["zip_file"].read(),
                    description=data["description"], compatible_runtimes=data["compatible_runtimes"],
                    license_info=data["license_info"],
                )
            except layers.LayerError as e:
                form.add_error(None, str(e))
            else:
                messages.success(request,
                                 f"Published {lv.layer.name} version {lv.version}: {layers.arn_of(lv)}")
                return redirect("layer-list")
    return render(request, "functions/layers.html", {
        "rows": _rows(request.user), "form": form, "can_create": teams.exists(),
    })


@login_required
@require_POST
def layer_version_delete(request: HttpRequest, account_id: str, name: str, version: int) -> HttpResponse:
    """DeleteLayerVersion from the console: 404 to a stranger, 403 to a
    read-only member; functions that list it keep running."""
    team = Team.objects.filter(account_id=account_id, membership__user=request.user).first()
    if team is None:
        raise Http404("No such layer.")
    check_write(request.user, team)
    if not layers.delete_version(team, name, version):
        raise Http404("No such layer version.")
    messages.success(request, f"Deleted {name} version {version}. Functions that use it keep running on it; "
                              "it can no longer be added to a function.")
    return redirect("layer-list")


@login_required
@require_POST
def function_layers(request: HttpRequest, function_id) -> HttpResponse:
    """Save a function's layers (a new revision: fresh environments get
    the new /opt), all or nothing, from its Configuration tab."""
    fn = get_function_for_user(request.user, function_id, write=True)
    form = FunctionLayersForm(request.POST, function=fn)
    if form.is_valid():
        try:
            service.update_configuration(fn, layers=form.arns())
        except service.FunctionError as e:
            form.add_error(None, str(e))
        else:
            count = len(fn.layers)
            return views._done(request, fn, "configuration",
                               f"Saved the layers ({count} layer{'s' if count != 1 else ''}).")
    return views._render_detail(request, fn, "configuration", layers_form=form)
