"""Console forms. They only shape the input; messaging.topics and
messaging.queues validate the values, so the console and the API agree."""

from django import forms

from invocations.models import PRIORITIES
from messaging.models import Queue


class TeamChoiceMixin(forms.Form):
    team = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


class TopicForm(TeamChoiceMixin):
    name = forms.CharField(max_length=300)


class SubscriptionForm(forms.Form):
    function = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Choose a function",
    )
    filter_policy = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"color": ["red", "blue"]}'}),
        help_text="Optional. Exact match on message attributes: every key must match one of its values.",
    )
    priority = forms.ChoiceField(choices=PRIORITIES, initial="normal")

    def __init__(self, *args, functions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["function"].queryset = functions


class PublishForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), strip=False)
    subject = forms.CharField(required=False, max_length=300)
    attributes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "key=value, one a line"}),
        help_text="key=value, one a line; a number is sent as a Number attribute.",
    )


class TopicWebhookForm(forms.Form):
    with_secret = forms.BooleanField(
        required=False, initial=True, label="Require an HMAC signature",
        help_text="A new secret is generated and shown once; callers send "
        "X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>.",
    )


class QueueSettingsForm(forms.Form):
    visibility_timeout_s = forms.CharField(label="Visibility timeout (seconds)", initial="30")
    max_receive_count = forms.CharField(
        label="Maximum receives", initial="5",
        help_text="After this many receives a message moves to the dead-letter queue (if one is set).",
    )
    dead_letter_queue = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="None", label="Dead-letter queue"
    )

    def __init__(self, *args, queues, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dead_letter_queue"].queryset = queues
        self.fields["dead_letter_queue"].label_from_instance = lambda q: f"{q.team.name} / {q.name}"

    @staticmethod
    def initial_for(queue: Queue) -> dict:
        return {
            "visibility_timeout_s": queue.visibility_timeout_s,
            "max_receive_count": queue.max_receive_count,
            "dead_letter_queue": queue.dead_letter_queue_id,
        }


class QueueForm(TeamChoiceMixin, QueueSettingsForm):
    name = forms.CharField(max_length=200)
    field_order = ["team", "name", "visibility_timeout_s", "max_receive_count", "dead_letter_queue"]


class SendForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), strip=False)
    attributes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "key=value, one a line"}),
        help_text="key=value, one a line.",
    )
    delay_s = forms.CharField(label="Delay (seconds)", initial="0")


class MappingForm(forms.Form):
    function = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose a function")
    batch_size = forms.CharField(initial="10", help_text="1 to 10 messages per invocation.")
    batching_window_s = forms.CharField(
        label="Batching window (seconds)", initial="0",
        help_text="0 to 300: how long to gather messages before a batch smaller than the batch size goes.",
    )
    priority = forms.ChoiceField(choices=PRIORITIES, initial="normal")

    def __init__(self, *args, functions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["function"].queryset = functions
