"""The console's form for a function's async invocation settings and its
reserved concurrency. The form only shapes input: invocations.delivery and
invocations.concurrency validate, so the console and the API agree."""

from django import forms
from django.db import transaction

from functions.models import Function
from invocations import concurrency, delivery, destinations


class AsyncConfigForm(forms.Form):
    maximum_retry_attempts = forms.CharField(
        label="Retry attempts", help_text="0 to 2; after a failed async attempt, 1 min then 2 min apart."
    )
    maximum_event_age_s = forms.CharField(
        label="Maximum event age (seconds)", help_text="60 to 21600; older events are not run."
    )
    on_success = forms.CharField(label="On-success destination", required=False, widget=forms.Select)
    on_failure = forms.CharField(label="On-failure destination", required=False, widget=forms.Select)
    reserved_concurrency = forms.CharField(
        label="Reserved concurrency", required=False,
        help_text="At most this many run at once; blank for no limit, 0 to throttle everything.",
    )

    def __init__(self, *args, function: Function, **kwargs):
        super().__init__(*args, **kwargs)
        self.function = function
        options = [("", "None")] + destinations.choices(function.team, exclude=function)
        known = {value for value, _ in options}
        for name in ("on_success", "on_failure"):
            current = self.data.get(name) if self.is_bound else self.initial.get(name)
            field_options = list(options)
            if current and current not in known:
                # Set through the API to something we cannot list: keep it visible.
                field_options.append((current, current))
            self.fields[name].widget.choices = field_options

    @property
    def qualified_configs(self) -> list:
        """The versions' and aliases' own configs (set through the API),
        which this form does not edit: it edits the unqualified one."""
        return [c for c in delivery.configs_of(self.function) if c.qualifier != delivery.LATEST]

    @classmethod
    def for_function(cls, fn: Function) -> "AsyncConfigForm":
        config = delivery.config_for(fn)
        return cls(function=fn, initial={
            "maximum_retry_attempts": config.maximum_retry_attempts,
            "maximum_event_age_s": config.maximum_event_age_s,
            "on_success": config.on_success,
            "on_failure": config.on_failure,
            "reserved_concurrency": "" if fn.reserved_concurrency is None else fn.reserved_concurrency,
        })

    def save(self) -> bool:
        """Check everything, then save everything; False (with the errors on
        the form) leaves the stored settings as they were."""
        if not self.is_valid():
            return False
        data = self.cleaned_data
        cleaned = None
        try:
            cleaned = delivery.clean(self.function, delivery.Settings(
                data["maximum_retry_attempts"], data["maximum_event_age_s"],
                data["on_success"], data["on_failure"],
            ))
        except delivery.ConfigError as e:
            for field, message in e.errors.items():
                self.add_error(field, message)
        try:
            reserved = concurrency.clean_reserved(data["reserved_concurrency"])
            concurrency.check_for(self.function, reserved)
        except concurrency.ReservedConcurrencyError as e:
            self.add_error("reserved_concurrency", str(e))
        if self.errors:
            return False
        with transaction.atomic():
            delivery.save_config(self.function, cleaned)
            concurrency.set_reserved(self.function, reserved)
        return True
