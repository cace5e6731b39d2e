"""The runs page's filter form (a GET form: every filter is in the URL)."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from invocations.models import SOURCES, STATUSES
from runs import query

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
RANGE_CHOICES = [("", "Any time"), ("1h", "Last 1 h"), ("24h", "Last 24 h"), ("7d", "Last 7 d")]
START_CHOICES = [("", "Cold or warm"), ("cold", "Cold"), ("warm", "Warm")]
# An HTML datetime-local value; read in the current time zone (UTC).
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]
LOG_TEXT_MAX = 200


class RunsFilterForm(forms.Form):
    """Field names are the URL's parameter names. `last` (a quick range)
    applies when neither `since` nor `until` is given."""

    function = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *STATUSES])
    start = forms.ChoiceField(required=False, choices=START_CHOICES)
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *SOURCES])
    trigger = forms.CharField(required=False, max_length=80)
    last = forms.ChoiceField(required=False, choices=RANGE_CHOICES)
    since = forms.DateTimeField(required=False, input_formats=DATETIME_FORMATS, label="From",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                           format=DATETIME_FORMATS[0]))
    until = forms.DateTimeField(required=False, input_formats=DATETIME_FORMATS, label="To",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                           format=DATETIME_FORMATS[0]))
    rid = forms.CharField(required=False, max_length=36, label="Request id")
    q = forms.CharField(required=False, max_length=LOG_TEXT_MAX, label="Log text")

    def __init__(self, *args, functions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["function"].choices = [("", "Every function")] + [
            (str(fn.id), f"{fn.name} ({fn.team.name})") for fn in functions
        ]
        self.fields["rid"].widget.attrs.update(placeholder="full id or first 8+ hex digits")
        self.fields["q"].widget.attrs.update(placeholder="text in the logs")
        self.fields["trigger"].widget.attrs.update(placeholder="e.g. route:…", list="trigger-names")

    def clean_rid(self) -> str:
        text = self.cleaned_data["rid"].strip()
        if text and query.request_id_range(text) is None:
            raise forms.ValidationError(
                "A request id is 32 hex digits (dashes allowed); give it whole or its first 8 or more digits."
            )
        return text

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "The end of the time range must be after its start.")
        return data

    def filters(self) -> query.Filters:
        """The valid form's values as query.Filters (the quick range taken
        from now)."""
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if data.get("last") and not since and not until:
            since = timezone.now() - RANGES[data["last"]]
        return query.Filters(
            function_id=data.get("function") or None,
            status=data.get("status", ""),
            start=data.get("start", ""),
            source=data.get("source", ""),
            trigger=data.get("trigger", "").strip(),
            since=since,
            until=until,
            request_id=data.get("rid", ""),
            log_text=data.get("q", ""),
        )
