"""The Usage page's selection: a range of UTC days and, optionally, one
of the teams the user may see (all of them when none is chosen)."""

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from metrics.usage.report import MAX_DAYS, month_start


def this_month() -> tuple[date, date]:
    """The default range: the current UTC month's first day to today."""
    today = timezone.now().date()
    return month_start(today), today


class UsageRangeForm(forms.Form):
    """`from` and `to`: ISO dates (YYYY-MM-DD), inclusive; `team`: a team's
    name. Errors say which field was wrong and how."""

    start = forms.DateField(required=False, label="From", input_formats=["%Y-%m-%d"],
                            widget=forms.DateInput(attrs={"type": "date"}),
                            error_messages={"invalid": "Enter the first day as YYYY-MM-DD."})
    end = forms.DateField(required=False, label="To", input_formats=["%Y-%m-%d"],
                          widget=forms.DateInput(attrs={"type": "date"}),
                          error_messages={"invalid": "Enter the last day as YYYY-MM-DD."})
    team = forms.ModelChoiceField(queryset=None, required=False, to_field_name="name",
                                  empty_label="All my teams", label="Team",
                                  error_messages={"invalid_choice": "You are in no team of that name."})

    def __init__(self, data, *, teams):
        # `from` is a Python keyword: the query string's names are mapped here.
        bound = {"start": data.get("from", ""), "end": data.get("to", ""), "team": data.get("team", "")}
        super().__init__(bound)
        self.fields["team"].queryset = teams.order_by("name")
        self.teams = teams

    def clean(self):
        cleaned = super().clean()
        default_start, default_end = this_month()
        start = cleaned.get("start") or default_start
        end = cleaned.get("end") or default_end
        if "start" in self.errors or "end" in self.errors:
            return cleaned
        if end < start:
            raise forms.ValidationError(f"The range ends ({end}) before it starts ({start}).")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose a range of at most {MAX_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def team_ids(self) -> list[int]:
        chosen = self.cleaned_data.get("team")
        if chosen is not None:
            return [chosen.id]
        return list(self.teams.values_list("id", flat=True))

    def shown(self) -> dict:
        """What the form's inputs show: the range used (defaults filled in),
        or what was typed when it was wrong."""
        cleaned = getattr(self, "cleaned_data", {})
        shown = dict(self.data, **{"from": self.data["start"], "to": self.data["end"]})
        for name, key in (("start", "from"), ("end", "to")):
            if isinstance(cleaned.get(name), date):
                shown[key] = cleaned[name].isoformat()
        return shown

    def query(self) -> str:
        """The selection as a query string (from, to, team), for the CSV link."""
        params = {"from": self.cleaned_data["start"].isoformat(), "to": self.cleaned_data["end"].isoformat()}
        if self.cleaned_data.get("team"):
            params["team"] = self.cleaned_data["team"].name
        return urlencode(params)
