"""Console forms for layers: publishing a version (the Layers page) and
choosing a function's layers (its Configuration tab). They shape input
only; functions.layers and functions.service check the values, as for the
Lambda API."""

from django import forms
from django.conf import settings

from functions import layers
from functions.forms import check_upload_size
from functions.models import Function, LayerVersion
from functions.team_lists import TeamForm


class PublishLayerForm(TeamForm):
    """PublishLayerVersion from the console: a zip of at most 50 MB."""

    name = forms.CharField(label="Layer name", max_length=140,
                           help_text="A new name makes a new layer; an existing one gets its next version.")
    zip_file = forms.FileField(label="Layer content (.zip)",
                               help_text="Unpacked under /opt: python/ for Python modules, "
                                         "nodejs/node_modules/ for Node.js, bin/, lib/.")
    description = forms.CharField(required=False, max_length=256)
    compatible_runtimes = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Compatible runtimes",
    )
    license_info = forms.CharField(required=False, max_length=512, label="License")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["compatible_runtimes"].choices = [(r, r) for r in settings.STRATUS_RUNTIMES]

    def clean_zip_file(self):
        return check_upload_size(self.cleaned_data.get("zip_file"))


def version_choices(fn: Function) -> list[tuple[str, str]]:
    """The team's layer versions a function can list (not deleted), and
    the function's own even if deleted since (Lambda keeps them)."""
    live = LayerVersion.objects.select_related("layer__team").filter(
        layer__team_id=fn.team_id, deleted_at__isnull=True
    ).order_by("layer__name", "-version")
    choices = [("", "(none)")]
    offered = set()
    for lv in live:
        arn = layers.arn_of(lv)
        offered.add(arn)
        label = f"{lv.layer.name}:{lv.version}" + (f" ({lv.description})" if lv.description else "")
        choices.append((arn, label))
    for arn in fn.layers or []:
        if arn not in offered:
            choices.append((arn, f"{arn.rsplit(':', 2)[-2]}:{arn.rsplit(':', 1)[-1]} (deleted)"))
    return choices


class FunctionLayersForm(forms.Form):
    """Up to 5 layer versions, in the order Lambda unpacks them (a later
    layer's files replace an earlier one's)."""

    def __init__(self, *args, function: Function, **kwargs):
        current = list(function.layers or [])
        initial = {f"layer_{i}": arn for i, arn in enumerate(current, 1)}
        super().__init__(*args, initial=initial, **kwargs)
        choices = version_choices(function)
        for i in range(1, layers.MAX_LAYERS + 1):
            self.fields[f"layer_{i}"] = forms.ChoiceField(
                choices=choices, required=False, label=f"Layer {i}",
            )

    def arns(self) -> list[str]:
        """The chosen ARNs in order, blanks left out."""
        return [self.cleaned_data[f"layer_{i}"] for i in range(1, layers.MAX_LAYERS + 1)
                if self.cleaned_data.get(f"layer_{i}")]
