"""The function page's Versions tab: its versions and aliases, and the forms
that publish a version and create, re-weight and delete aliases. The rules
are functions.versions' (the Lambda API's too); these forms only turn the
console's fields into its arguments and its errors back into field errors.

An alias's RoutingConfig is edited as "a second version and its share of
the calls in percent" (0-100); Lambda stores the share as a weight of
0.0-1.0 (AdditionalVersionWeights)."""

from __future__ import annotations

from django import forms

from awsapi import errors
from functions import qualifiers, service
from functions.models import Function

WEIGHT_STEP = "0.1"  # percent: Lambda's weights take any fraction
ALIAS_NAME_MAX = 128  # Lambda's alias names: 1-128 characters
UNQUALIFIED = "(unqualified)"
# The API's field names in functions.versions' messages -> the form's words.
FIELD_WORDS = {
    "AdditionalVersionWeights": "Second version",
    "RoutingConfig": "the second version",
    "FunctionVersion": "Version",
}


def qualifier_choices(fn: Function | None) -> list[tuple[str, str]]:
    """For the console's selects of what a trigger runs: ("", "(unqualified)")
    then the function's aliases and its versions, newest first."""
    if fn is None:
        return [("", UNQUALIFIED)]
    aliases = [(a.name, f"alias {alias_label(a)}") for a in fn.aliases.all()]
    numbers = fn.versions.order_by("-version").values_list("version", flat=True)
    return [("", UNQUALIFIED), *aliases, *((str(n), f"version {n}") for n in numbers)]


def version_choices(fn: Function, latest: bool = True) -> list[tuple[str, str]]:
    """The versions an alias may name: $LATEST (when `latest`) and each
    published one, newest first."""
    numbers = fn.versions.order_by("-version").values_list("version", flat=True)
    return ([(qualifiers.LATEST, qualifiers.LATEST)] if latest else []) + [
        (str(n), f"version {n}") for n in numbers
    ]


def invoke_choices(fn: Function) -> list[tuple[str, str]]:
    """The Test tab's "Run" select: unqualified, its aliases, its versions."""
    return [("", "$LATEST (unqualified)"), *qualifier_choices(fn)[1:]]


class PublishVersionForm(forms.Form):
    description = forms.CharField(
        required=False, max_length=service.DESCRIPTION_MAX, label="Version description",
        help_text="Optional: what this version is (at most 256 characters).",
    )


class AliasWeightsForm(forms.Form):
    """An alias's version and, optionally, a second version with its share."""

    function_version = forms.ChoiceField(label="Version")
    routing_version = forms.ChoiceField(required=False, label="Second version")
    routing_weight = forms.FloatField(
        required=False, min_value=0, max_value=100, label="Weight of the second version, %",
        widget=forms.NumberInput(attrs={"step": WEIGHT_STEP, "min": "0", "max": "100"}),
        help_text="The percentage of calls the second version gets; the rest go to the version.",
    )

    def __init__(self, *args, function: Function, **kwargs):
        super().__init__(*args, **kwargs)
        self.function = function
        self.fields["function_version"].choices = version_choices(function)
        self.fields["routing_version"].choices = [("", "none")] + version_choices(function, latest=False)

    @classmethod
    def initial_for(cls, alias) -> dict:
        extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        version, weight = next(iter(extra.items()), ("", None))
        return {
            "function_version": alias.function_version, "routing_version": version,
            "routing_weight": None if weight is None else round(float(weight) * 100, 6),
        }

    def routing_config(self) -> dict | None:
        """Lambda's RoutingConfig from the cleaned fields; None (with a
        field error) when a second version has no share or a share has no
        version."""
        data = self.cleaned_data
        version, weight = data.get("routing_version") or "", data.get("routing_weight")
        if version and weight is None:
            self.add_error("routing_weight", "Give the second version's share of the calls (0-100 %).")
            return None
        if weight is not None and not version:
            self.add_error("routing_version", "Choose the second version that gets this share, or clear it.")
            return None
        # Lambda's own refusals (functions.versions.check_routing) name its
        # fields (FunctionVersion, AdditionalVersionWeights); the form's are
        # said here in the form's words first.
        primary = data.get("function_version") or ""
        if version and version == primary:
            self.add_error("routing_version", f"The second version must differ from the version ({primary}): "
                                              "choose another one, or none.")
            return None
        if version and primary == qualifiers.LATEST:
            self.add_error("function_version", "An alias that splits its calls between two versions must "
                                               "point to a published version, not $LATEST.")
            return None
        # 33.3 % is 0.333, not 0.33299999999999996 (float division), as typed.
        return {"AdditionalVersionWeights": {version: round(weight / 100, 8)}} if version else {}

    def apply_error(self, error: errors.AwsError) -> None:
        """functions.versions' refusal (Lambda's error message) on the form,
        in the form's words where it names the API's fields."""
        message = error.message
        for api_name, words in FIELD_WORDS.items():
            message = message.replace(api_name, words)
        self.add_error(None, message)


class AliasForm(AliasWeightsForm):
    name = forms.CharField(
        max_length=ALIAS_NAME_MAX, label="Alias name",
        help_text="Letters, digits, - and _; not only digits (a number names a version).",
    )
    description = forms.CharField(required=False, max_length=service.DESCRIPTION_MAX)
    field_order = ["name", "function_version", "routing_version", "routing_weight", "description"]


def shares(alias) -> list[tuple[str, float]]:
    """Each version the alias routes to with its percentage of the calls:
    the alias's version first (what the additional weights leave)."""
    extra = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    # Rounded to 1e-6 %: 0.07 * 100 is 7.000000000000001 in floats.
    others = [(str(version), round(float(weight) * 100, 6)) for version, weight in extra.items()]
    return [(alias.function_version, round(100 - sum(p for _, p in others), 6)), *others]


def _percent(value: float) -> str:
    """70.0 -> "70", 33.333 -> "33.33": what a person reads."""
    return f"{round(value, 2):g}"


def alias_label(alias) -> str:
    """How the console names an alias in its selects: "live → 1" when it
    routes to one version, "live → 1 (70%), 2 (30%)" when it splits its
    calls (its version first, then the second version and its weight)."""
    routed = shares(alias)
    if len(routed) == 1:
        return f"{alias.name} → {alias.function_version}"
    return f"{alias.name} → " + ", ".join(f"{version} ({_percent(p)}%)" for version, p in routed)


def context(fn: Function, extra: dict) -> dict:
    """The tab's context: versions (newest first), aliases each with its
    weights form (a bound one from `extra["edit_forms"]` when refused), and
    the publish and create forms (bound ones from `extra` when refused)."""
    edit_forms = extra.get("edit_forms") or {}
    aliases = list(fn.aliases.all())
    return {
        "versions": list(fn.versions.select_related("code").order_by("-version")),
        "aliases": [
            (alias, edit_forms.get(alias.name) or AliasWeightsForm(
                function=fn, prefix=f"alias-{alias.name}", initial=AliasWeightsForm.initial_for(alias),
            ), shares(alias))
            for alias in aliases
        ],
        "publish_form": extra.get("publish_form") or PublishVersionForm(),
        "alias_form": extra.get("alias_form") or AliasForm(function=fn, prefix="new-alias"),
    }
