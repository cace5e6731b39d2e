"""The function page's Triggers tab: the two form sections this app adds
(subscribe the function to a topic, let it poll a queue; registered in
MessagingConfig.ready()), the views their forms post to, and the toggle and
delete of every event source mapping row (SQS, Kinesis, DynamoDB). The forms are
the topic and queue pages' forms turned around: same settings, same
validation in messaging.topics and messaging.queues."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from functions.access import get_function_for_user
from functions.models import Function
from mappings import configure
from mappings.models import EventSourceMapping
from messaging.forms import QueueMappingForm, TopicSubscriptionForm
from messaging.models import Queue, Topic
from triggers import registry, tab


def subscribe_section(fn: Function, request: HttpRequest) -> dict:
    return {
        "subscribe_form": TopicSubscriptionForm(function=fn),
        "has_topics": Topic.objects.filter(team=fn.team).exists(),
    }


def queue_section(fn: Function, request: HttpRequest) -> dict:
    return {
        "queue_mapping_form": QueueMappingForm(function=fn),
        "has_queues": Queue.objects.filter(team=fn.team).exists(),
    }


@login_required
@require_POST
def subscribe(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = TopicSubscriptionForm(request.POST, function=fn)
    sub = form.save()
    if sub is None:
        return tab.render_tab(
            request, fn, refused=True, subscribe_form=form, open_form="subscribe"
        )
    return tab.added(request, fn, f"Subscribed {fn.name} to the topic {sub.topic.name}.")


@login_required
@require_POST
def map_queue(request: HttpRequest, function_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    form = QueueMappingForm(request.POST, function=fn)
    mapping = form.save()
    if mapping is None:
        return tab.render_tab(
            request, fn, refused=True, queue_mapping_form=form, open_form="queue"
        )
    queue = form.cleaned_data["queue"]
    return tab.added(request, fn, f"{fn.name} now polls the queue {queue.name}.")


@login_required
@require_POST
def mapping_toggle(request: HttpRequest, function_id, mapping_id) -> HttpResponse:
    """Enable or disable one of the function's mappings (any source kind)."""
    fn = get_function_for_user(request.user, function_id, write=True)
    mapping = get_object_or_404(EventSourceMapping, function=fn, id=mapping_id)
    try:
        configure.set_enabled(mapping, not mapping.enabled)
    except configure.MappingError as e:
        messages.error(request, str(e))
    return registry.changed(request, fn)


@login_required
@require_POST
def mapping_delete(request: HttpRequest, function_id, mapping_id) -> HttpResponse:
    fn = get_function_for_user(request.user, function_id, write=True)
    configure.delete(get_object_or_404(EventSourceMapping, function=fn, id=mapping_id))
    return registry.changed(request, fn)
