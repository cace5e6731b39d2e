"""The console's Kinesis forms: create a stream, put a record, pick where
to start reading a shard, reshard."""

from django import forms

from functions.team_lists import TeamForm
from kinesis import streams


class StreamForm(TeamForm):
    name = forms.CharField(max_length=128, help_text="1 to 128 of letters, digits, _ . -")
    mode = forms.ChoiceField(
        choices=[("PROVISIONED", "Provisioned"), ("ON_DEMAND", "On demand (4 shards)")],
        initial="PROVISIONED",
    )
    shard_count = forms.IntegerField(min_value=1, max_value=streams.SHARD_LIMIT, initial=1,
                                     label="Shards", help_text="Provisioned only.")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not streams.NAME_RE.fullmatch(name):
            raise forms.ValidationError("Use 1 to 128 of letters, digits, underscores, dots and hyphens.")
        return name


class PutForm(forms.Form):
    partition_key = forms.CharField(max_length=256, strip=False)
    data = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, strip=False,
                           help_text="Stored as its UTF-8 bytes.")
    explicit_hash_key = forms.CharField(required=False, label="Explicit hash key",
                                        help_text="Optional: a decimal from 0 to 2^128-1 picks the shard.")


class ReshardForm(forms.Form):
    target = forms.IntegerField(min_value=1, max_value=streams.SHARD_LIMIT, label="Target shard count")


class RetentionForm(forms.Form):
    hours = forms.IntegerField(min_value=1, max_value=streams.MAX_RETENTION_HOURS, label="Retention (hours)")


POSITIONS = [("TRIM_HORIZON", "From the oldest record"), ("AT_SEQUENCE_NUMBER", "At a sequence number"),
             ("AT_TIMESTAMP", "At a time (UTC)")]


class BrowseForm(forms.Form):
    position = forms.ChoiceField(choices=POSITIONS, initial="TRIM_HORIZON", required=False)
    sequence_number = forms.CharField(required=False, max_length=128)
    at = forms.DateTimeField(required=False, label="Time (UTC)",
                             widget=forms.DateTimeInput(attrs={"placeholder": "2026-01-31 12:00:00"}))
    # Paging: read after this sequence number (the last one shown).
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        position = data.get("position") or "TRIM_HORIZON"
        data["position"] = position
        if position == "AT_SEQUENCE_NUMBER" and not (data.get("sequence_number") or "").isdigit():
            self.add_error("sequence_number", "Give a sequence number (digits) to start at.")
        if position == "AT_TIMESTAMP" and data.get("at") is None:
            self.add_error("at", "Give a time to start at.")
        return data
