"""Console forms. They only shape the input; messaging.topics and
messaging.queues validate the values, so the console and the API agree.
A form's save() hands its values to them and puts their refusal on the form."""

from django import forms

from functions.models import Function
from functions.versions_tab import qualifier_choices
from functions.team_lists import TeamForm
from invocations.models import PRIORITIES
from messaging import filter_policy, queues, topics
from mappings.models import EventSourceMapping
from messaging.models import Queue, Subscription, Topic
from messaging.validation import MessagingError


def apply_error(form: forms.Form, error: MessagingError) -> None:
    """Show a refusal next to the field it names, or above the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


class TopicForm(TeamForm):
    name = forms.CharField(max_length=300)
    fifo = forms.BooleanField(
        required=False, label="FIFO topic",
        help_text="Ordered per message group, deduplicated; the name ends with .fifo; "
        "delivers to FIFO queues.",
    )
    content_based_dedup = forms.BooleanField(
        required=False, label="Content-based deduplication", help_text="FIFO only: the message's SHA-256.",
    )


class SubscriptionSettingsForm(forms.Form):
    """A subscription's own settings. The topic page picks the function
    (SubscriptionForm), the function's Triggers tab picks the topic
    (TopicSubscriptionForm); both save through topics.subscribe()."""

    filter_policy = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"color": ["red", "blue"]}'}),
        help_text=(
            "Optional. SNS's filter policy on message attributes: every key must match one of its "
            'conditions, e.g. {"price": [{"numeric": [">", 10]}], "kind": [{"prefix": "order-"}]}.'
        ),
    )
    priority = forms.ChoiceField(choices=PRIORITIES, initial="normal")
    # FunctionResponseTypes ["ReportBatchItemFailures"]; on by default here,
    # as the console's mappings always honoured batchItemFailures.
    report_failures = forms.BooleanField(
        required=False, initial=True, label="Report batch item failures",
        help_text="Messages the function names in batchItemFailures stay in the queue; "
        "without it a successful call deletes the whole batch.",
    )

    def ends(self) -> tuple[Topic | None, Function | None]:
        raise NotImplementedError

    def save(self) -> Subscription | None:
        """The new subscription, or None with the errors on the form and
        nothing saved."""
        if not self.is_valid():
            return None
        topic, function = self.ends()
        try:
            return topics.subscribe(
                topic, function,
                policy=filter_policy.parse(self.cleaned_data["filter_policy"]),
                priority=self.cleaned_data["priority"],
                qualifier=self.cleaned_data.get("qualifier") or "",
            )
        except MessagingError as e:
            apply_error(self, e)
            return None


class SubscriptionForm(SubscriptionSettingsForm):
    function = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Choose a function",
    )
    field_order = ["function", "filter_policy", "priority"]

    def __init__(self, *args, topic: Topic, **kwargs):
        super().__init__(*args, **kwargs)
        self.topic = topic
        self.fields["function"].queryset = Function.objects.filter(team=topic.team)

    def ends(self) -> tuple[Topic | None, Function | None]:
        return self.topic, self.cleaned_data["function"]


class TopicSubscriptionForm(SubscriptionSettingsForm):
    topic = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose a topic")
    qualifier = forms.ChoiceField(
        required=False, label="Version or alias",
        help_text="Unqualified runs $LATEST. An alias picks its version for each message.",
    )
    field_order = ["topic", "qualifier", "filter_policy", "priority"]

    def __init__(self, *args, function: Function, **kwargs):
        super().__init__(*args, **kwargs)
        self.function = function
        self.fields["topic"].queryset = Topic.objects.filter(team=function.team)
        self.fields["qualifier"].choices = qualifier_choices(function)

    def ends(self) -> tuple[Topic | None, Function | None]:
        return self.cleaned_data["topic"], self.function


class PublishForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), strip=False)
    subject = forms.CharField(required=False, max_length=300)
    attributes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "key=value, one a line"}),
        help_text="key=value, one a line; a number is sent as a Number attribute.",
    )
    # FIFO topics only (MessageGroupId, MessageDeduplicationId).
    group_id = forms.CharField(required=False, max_length=128, label="Message group id")
    dedup_id = forms.CharField(required=False, max_length=128, label="Deduplication id")


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


class QueueForm(TeamForm, QueueSettingsForm):
    name = forms.CharField(max_length=200)
    fifo = forms.BooleanField(
        required=False, label="FIFO queue",
        help_text="Ordered per message group, deduplicated for 5 minutes; the name ends with .fifo.",
    )
    content_based_dedup = forms.BooleanField(
        required=False, label="Content-based deduplication", help_text="FIFO only: the body's SHA-256.",
    )
    field_order = ["team", "name", "visibility_timeout_s", "max_receive_count", "dead_letter_queue"]


class SendForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), strip=False)
    attributes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "key=value, one a line"}),
        help_text="key=value, one a line.",
    )
    delay_s = forms.CharField(label="Delay (seconds)", initial="0")
    # FIFO queues only (MessageGroupId, MessageDeduplicationId).
    group_id = forms.CharField(required=False, max_length=128, label="Message group id")
    dedup_id = forms.CharField(required=False, max_length=128, label="Deduplication id")


class MappingSettingsForm(forms.Form):
    """An event source mapping's own settings. The queue page picks the
    function (MappingForm), the function's Triggers tab picks the queue
    (QueueMappingForm); both save through queues.add_mapping()."""

    batch_size = forms.CharField(initial="10", help_text="1 to 10 messages per invocation.")
    batching_window_s = forms.CharField(
        label="Batching window (seconds)", initial="0",
        help_text="0 to 300: how long to gather messages before a batch smaller than the batch size goes.",
    )
    priority = forms.ChoiceField(choices=PRIORITIES, initial="normal")
    # FunctionResponseTypes ["ReportBatchItemFailures"]; on by default here,
    # as the console's mappings always honoured batchItemFailures.
    report_failures = forms.BooleanField(
        required=False, initial=True, label="Report batch item failures",
        help_text="Messages the function names in batchItemFailures stay in the queue; "
        "without it a successful call deletes the whole batch.",
    )

    def ends(self) -> tuple[Queue | None, Function | None]:
        raise NotImplementedError

    def save(self) -> EventSourceMapping | None:
        """The new mapping, or None with the errors on the form and nothing
        saved."""
        if not self.is_valid():
            return None
        queue, function = self.ends()
        data = self.cleaned_data
        try:
            return queues.add_mapping(
                queue, function, batch_size=data["batch_size"],
                batching_window_s=data["batching_window_s"], priority=data["priority"],
                report_failures=data["report_failures"], qualifier=data.get("qualifier") or "",
            )
        except MessagingError as e:
            apply_error(self, e)
            return None


class MappingForm(MappingSettingsForm):
    function = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose a function")
    field_order = ["function", "batch_size", "batching_window_s", "priority", "report_failures"]

    def __init__(self, *args, queue: Queue, **kwargs):
        super().__init__(*args, **kwargs)
        self.queue = queue
        self.fields["function"].queryset = Function.objects.filter(team=queue.team)

    def ends(self) -> tuple[Queue | None, Function | None]:
        return self.queue, self.cleaned_data["function"]


class QueueMappingForm(MappingSettingsForm):
    queue = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose a queue")
    qualifier = forms.ChoiceField(
        required=False, label="Version or alias",
        help_text="Unqualified runs $LATEST. An alias picks its version for each batch.",
    )
    field_order = ["queue", "qualifier", "batch_size", "batching_window_s", "priority", "report_failures"]

    def __init__(self, *args, function: Function, **kwargs):
        super().__init__(*args, **kwargs)
        self.function = function
        self.fields["queue"].queryset = Queue.objects.filter(team=function.team)
        self.fields["qualifier"].choices = qualifier_choices(function)

    def ends(self) -> tuple[Queue | None, Function | None]:
        return self.cleaned_data["queue"], self.function
