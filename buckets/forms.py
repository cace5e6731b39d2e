"""Console forms for buckets. They only shape the input: bucket names go
through objects.create_bucket (S3's rules), a notification configuration
through notifications.put_configuration (PutBucketNotificationConfiguration's
own checks), and their refusals are put back on the form."""

from __future__ import annotations

from django import forms

from awsapi.protocols import ServiceError
from buckets import notifications
from buckets.models import Bucket
from functions.models import Function
from functions.team_lists import TeamForm
from functions.versions_tab import alias_label
from messaging.models import Queue, Topic

EVENT_CHOICES = [(event, event) for event in notifications.EVENTS]
KIND_LABELS = {"lambda": "Functions", "queue": "Queues", "topic": "Topics"}


class BucketForm(TeamForm):
    name = forms.CharField(
        max_length=255,
        help_text="3 to 63 lowercase letters, numbers, dots and hyphens; starts and ends with a letter "
                  "or number.",
    )


def target_choices(bucket: Bucket, keep: list[tuple[str, str]] = ()) -> list:
    """The select's choices, grouped by kind: "kind:arn" values for the
    team's functions, queues and topics, plus `keep` ((kind, arn) already in
    the stored configuration, even if their target is gone)."""
    team = bucket.team
    found = {
        # Each function, then each of its aliases (a qualified ARN).
        "lambda": [
            (arn, label) for fn in Function.objects.filter(team=team).select_related("team")
            .prefetch_related("aliases")
            for arn, label in [(fn.arn, fn.name), *((f"{fn.arn}:{a.name}", f"{fn.name}:{alias_label(a)}")
                                                     for a in fn.aliases.all())]
        ],
        # S3 refuses FIFO queues and topics as event destinations.
        "queue": [(q.arn, q.name) for q in Queue.objects.filter(team=team, fifo=False)
                  .select_related("team")],
        "topic": [(t.arn, t.name) for t in Topic.objects.filter(team=team, fifo=False)
                  .select_related("team")],
    }
    for kind, arn in keep:
        if arn not in {a for a, _ in found[kind]}:
            found[kind].append((arn, f"{arn} (missing)"))
    return [("", "Choose a function, queue or topic")] + [
        (KIND_LABELS[kind], [(f"{kind}:{arn}", label) for arn, label in rows])
        for kind, rows in found.items() if rows
    ]


class NotificationEntryForm(forms.Form):
    """One entry of the configuration (a row of the formset)."""

    target = forms.ChoiceField(choices=[], required=False)
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, required=False,
                                       widget=forms.CheckboxSelectMultiple)
    prefix = forms.CharField(required=False, max_length=1024, help_text="Only keys starting with this.")
    suffix = forms.CharField(required=False, max_length=1024, help_text="Only keys ending with this.")
    config_id = forms.CharField(required=False, max_length=255, label="Id",
                                help_text="Optional: the events' configurationId (one is made up if empty).")

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = choices

    def clean(self):
        data = super().clean()
        if not data.get("DELETE") and not data.get("target"):
            self.add_error("target", "Choose the function, queue or topic that gets the events.")
        return data

    def entry(self) -> tuple[str, dict]:
        """(kind, the entry in the NotificationConfiguration shape)."""
        data = self.cleaned_data
        kind, _, arn = data["target"].partition(":")
        _, arn_member = notifications.KINDS[kind]
        entry: dict = {arn_member: arn, "Events": list(data["events"])}
        if data["config_id"]:
            entry["Id"] = data["config_id"]
        rules = [{"Name": name, "Value": data[name.lower()]} for name in ("Prefix", "Suffix")
                 if data[name.lower()]]
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        return kind, entry


class BaseNotificationFormSet(forms.BaseFormSet):
    def __init__(self, *args, bucket: Bucket, **kwargs):
        self.bucket = bucket
        stored = list(bucket.notifications.all())
        self.choices = target_choices(bucket, [(n.kind, n.target_arn) for n in stored])
        kwargs.setdefault("initial", [
            {"target": f"{n.kind}:{n.target_arn}", "events": n.events, "prefix": n.prefix or "",
             "suffix": n.suffix or "", "config_id": n.config_id}
            for n in stored
        ])
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"choices": self.choices}

    @property
    def empty_form(self):
        form = self.form(auto_id=self.auto_id, prefix=self.add_prefix("__prefix__"),
                         empty_permitted=True, use_required_attribute=False, choices=self.choices,
                         renderer=self.renderer)
        self.add_fields(form, None)
        return form

    def kept_forms(self) -> list[NotificationEntryForm]:
        return [f for f in self.forms if f.has_changed() or f.initial
                if not f.cleaned_data.get("DELETE")]

    def configuration(self) -> dict:
        config: dict[str, list] = {}
        for form in self.kept_forms():
            kind, entry = form.entry()
            config.setdefault(notifications.KINDS[kind][0], []).append(entry)
        return config

    def save(self) -> bool:
        """Put the configuration; False with the errors on the forms (and
        nothing stored) when the forms or put_configuration refuse it."""
        if not self.is_valid():
            return False
        try:
            notifications.put_configuration(self.bucket, self.configuration())
        except ServiceError as e:
            self.place_error(e)
            return False
        return True

    def place_error(self, error: ServiceError) -> None:
        """Put put_configuration's refusal on the entries it is about (by
        their values: it names the ARN, event or filter value), or above
        the forms when it names none."""
        forms_ = self.kept_forms()
        placed = False
        if error.code == "MalformedXML":
            for form in forms_:
                if not form.cleaned_data["events"]:
                    form.add_error("events", "Choose at least one event.")
                    placed = True
        number = 1
        while f"ArgumentName{number}" in error.fields:
            arn, problem = error.fields[f"ArgumentName{number}"], error.fields[f"ArgumentValue{number}"]
            for form in forms_:
                if form.cleaned_data["target"].partition(":")[2] == arn:
                    form.add_error("target", f"{problem}: {arn}")
                    placed = True
            number += 1
        name, value = error.fields.get("ArgumentName"), error.fields.get("ArgumentValue")
        if name == "FilterRule.Value":
            for form in forms_:
                for field in ("prefix", "suffix"):
                    if form.cleaned_data[field] == value:
                        form.add_error(field, error.message)
                        placed = True
        if not placed:
            self._non_form_errors = self.error_class(
                [*self.non_form_errors(), f"{error.code}: {error.message}"], error_class="nonform"
            )


NotificationFormSet = forms.formset_factory(
    NotificationEntryForm, formset=BaseNotificationFormSet, extra=1, can_delete=True
)
