"""The console's topic and queue pages. Thin: access goes through
messaging.access, validation and changes through messaging.topics/queues.
A form with an error re-renders its page and saves nothing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from functions import team_lists
from functions.access import can_write
from messaging import queues, topics
from messaging.access import get_queue_for_user, get_topic_for_user, writable_teams
from messaging.forms import (
    MappingForm,
    PublishForm,
    QueueForm,
    QueueSettingsForm,
    SendForm,
    SubscriptionForm,
    TopicForm,
    TopicWebhookForm,
    apply_error,
)
from mappings import configure
from messaging.models import Queue, QueueMessage, Subscription, Topic
from messaging.validation import MessagingError, parse_attribute_lines

RECENT = 50


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """After a toggle or delete: the function's Triggers tab sends these with
    htmx and reloads its list on the "triggers-changed" event; a plain form
    goes back to `next` (the tab's URLs carry it), else to our own page."""
    if request.htmx:
        return HttpResponse(status=200, headers={"HX-Trigger": "triggers-changed"})
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = default
    return redirect(target)


# Topics ---------------------------------------------------------------------


def _create_topic(form: TopicForm) -> Topic | None:
    try:
        return topics.create_topic(
            form.cleaned_data["team"], form.cleaned_data["name"],
            fifo_topic=form.cleaned_data["fifo"],
            content_based_dedup=form.cleaned_data["content_based_dedup"],
        )
    except MessagingError as e:
        apply_error(form, e)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def topic_list(request: HttpRequest) -> HttpResponse:
    return team_lists.list_page(
        request, what="topic", form_class=TopicForm, create=_create_topic, url=topic_url,
        rows=lambda teams: Topic.objects.filter(team__in=teams).select_related("team"),
        template="messaging/topic_list.html",
    )


def _render_topic(
    request: HttpRequest, topic: Topic, partial: bool = False, new_webhook_secret: str = "", **forms
) -> HttpResponse:
    ctx = {
        "new_webhook_secret": new_webhook_secret,
        "webhook_form": TopicWebhookForm(),
        "topic": topic,
        "subscriptions": topic.subscriptions.select_related("function", "queue"),
        "recent": topic.messages.all()[:RECENT],
        "can_write": can_write(request.user, topic.team),
        "sub_form": forms.get("sub_form") or SubscriptionForm(topic=topic),
        "publish_form": forms.get("publish_form") or PublishForm(),
    }
    template = "messaging/topic_detail.html#recent" if partial else "messaging/topic_detail.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def topic_detail(request: HttpRequest, topic_id) -> HttpResponse:
    return _render_topic(request, get_topic_for_user(request.user, topic_id), bool(request.htmx))


@login_required
@require_POST
def topic_publish(request: HttpRequest, topic_id) -> HttpResponse:
    topic = get_topic_for_user(request.user, topic_id, write=True)
    form = PublishForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            msg = topics.publish(
                topic, data["message"], data["subject"] or None, parse_attribute_lines(data["attributes"]),
                group_id=data["group_id"] or None, dedup_id=data["dedup_id"] or None,
            )
        except MessagingError as e:
            apply_error(form, e)
        else:
            if msg.duplicate:
                messages.success(
                    request, f"A duplicate of {msg.message_id} (within 5 minutes): not published again."
                )
            else:
                messages.success(request, f"Published {msg.message_id} to {msg.deliveries} subscriber(s).")
            return redirect("msg-topic-detail", topic.id)
    return _render_topic(request, topic, publish_form=form)


@login_required
@require_POST
def subscription_add(request: HttpRequest, topic_id) -> HttpResponse:
    topic = get_topic_for_user(request.user, topic_id, write=True)
    form = SubscriptionForm(request.POST, topic=topic)
    sub = form.save()
    if sub is None:
        return _render_topic(request, topic, sub_form=form)
    messages.success(request, f"Subscribed {sub.function.name} to {topic.name}.")
    return redirect("msg-topic-detail", topic.id)


@login_required
@require_POST
def subscription_toggle(request: HttpRequest, topic_id, subscription_id) -> HttpResponse:
    topic = get_topic_for_user(request.user, topic_id, write=True)
    sub = get_object_or_404(Subscription, topic=topic, id=subscription_id)
    sub.enabled = not sub.enabled
    sub.save(update_fields=["enabled"])
    return _back(request, topic_url(topic))


@login_required
@require_POST
def subscription_delete(request: HttpRequest, topic_id, subscription_id) -> HttpResponse:
    topic = get_topic_for_user(request.user, topic_id, write=True)
    topics.unsubscribe(get_object_or_404(Subscription, topic=topic, id=subscription_id))
    return _back(request, topic_url(topic))


@login_required
@require_POST
def topic_delete(request: HttpRequest, topic_id) -> HttpResponse:
    topic = get_topic_for_user(request.user, topic_id, write=True)
    topic.delete()
    messages.success(request, f"Deleted the topic {topic.name}.")
    return redirect("msg-topic-list")


@login_required
@require_POST
def topic_webhook(request: HttpRequest, topic_id) -> HttpResponse:
    """Create the webhook URL, or rotate it: the old URL stops at once. The
    page is rendered, not redirected to, so the new secret is shown once."""
    topic = get_topic_for_user(request.user, topic_id, write=True)
    form = TopicWebhookForm(request.POST)
    form.is_valid()  # A checkbox: every input is valid.
    rotated = bool(topic.webhook_token)
    secret = topic.issue_webhook(with_secret=form.cleaned_data.get("with_secret", False))
    messages.success(request, "Rotated the webhook URL." if rotated else "Created a webhook URL.")
    return _render_topic(request, topic, new_webhook_secret=secret)


@login_required
@require_POST
def topic_webhook_disable(request: HttpRequest, topic_id) -> HttpResponse:
    topic = get_topic_for_user(request.user, topic_id, write=True)
    topic.disable_webhook()
    messages.success(request, "Disabled the webhook: its URL now answers 404.")
    return redirect("msg-topic-detail", topic.id)


def topic_url(topic: Topic) -> str:
    return reverse("msg-topic-detail", args=[topic.id])


# Queues ---------------------------------------------------------------------


def _dlq_choices(user):
    return Queue.objects.filter(team__in=writable_teams(user)).select_related("team")


def _create_queue(form: QueueForm) -> Queue | None:
    data = form.cleaned_data
    try:
        return queues.create_queue(
            data["team"], data["name"],
            visibility_timeout_s=data["visibility_timeout_s"],
            max_receive_count=data["max_receive_count"],
            dead_letter_queue=data["dead_letter_queue"],
            fifo=data["fifo"], content_based_dedup=data["content_based_dedup"] and data["fifo"],
        )
    except MessagingError as e:
        apply_error(form, e)
        return None


def _queue_rows(teams) -> list[tuple[Queue, dict]]:
    now = timezone.now()
    return [(q, queues.counts(q, now)) for q in Queue.objects.filter(team__in=teams).select_related("team")]


@login_required
@require_http_methods(["GET", "POST"])
def queue_list(request: HttpRequest) -> HttpResponse:
    return team_lists.list_page(
        request, what="queue", form_class=QueueForm, create=_create_queue, url=queue_url,
        rows=_queue_rows, template="messaging/queue_list.html", queues=_dlq_choices(request.user),
    )


def _render_queue(request: HttpRequest, queue: Queue, partial: bool = False, **forms) -> HttpResponse:
    now = timezone.now()
    ctx = {
        "queue": queue,
        "now": now,
        "counts": queues.counts(queue, now),
        "queue_messages": queue.messages.select_related("source_queue")[:RECENT],
        "dead_letters": queues.dead_letters_of(queue)[:RECENT],
        "dead_letter_count": queues.dead_letters_of(queue).count(),
        "redrivable": QueueMessage.objects.filter(queue=queue, source_queue__isnull=False).count(),
        "mappings": queues.mappings_of(queue).select_related("function"),
        "can_write": can_write(request.user, queue.team),
        "send_form": forms.get("send_form") or SendForm(),
        "mapping_form": forms.get("mapping_form") or MappingForm(queue=queue),
        "settings_form": forms.get("settings_form") or QueueSettingsForm(
            initial=QueueSettingsForm.initial_for(queue),
            queues=Queue.objects.filter(team=queue.team).exclude(pk=queue.pk).select_related("team"),
        ),
    }
    template = "messaging/queue_detail.html#live" if partial else "messaging/queue_detail.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


def queue_url(queue: Queue) -> str:
    return reverse("msg-queue-detail", args=[queue.id])


@login_required
@require_GET
def queue_detail(request: HttpRequest, queue_id) -> HttpResponse:
    return _render_queue(request, get_queue_for_user(request.user, queue_id), bool(request.htmx))


@login_required
@require_POST
def queue_settings(request: HttpRequest, queue_id) -> HttpResponse:
    queue = get_queue_for_user(request.user, queue_id, write=True)
    # Any queue of the team is offered, itself included, so the service's
    # "not itself" check answers a forged or stale choice clearly.
    form = QueueSettingsForm(request.POST, queues=Queue.objects.filter(team=queue.team))
    if form.is_valid():
        data = form.cleaned_data
        try:
            queues.update_queue(
                queue,
                visibility_timeout_s=data["visibility_timeout_s"],
                max_receive_count=data["max_receive_count"],
                dead_letter_queue=data["dead_letter_queue"],
            )
        except MessagingError as e:
            queue.refresh_from_db()
            apply_error(form, e)
        else:
            messages.success(request, "Saved the queue's settings.")
            return redirect("msg-queue-detail", queue.id)
    return _render_queue(request, queue, settings_form=form)


@login_required
@require_POST
def queue_send(request: HttpRequest, queue_id) -> HttpResponse:
    queue = get_queue_for_user(request.user, queue_id, write=True)
    form = SendForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            msg = queues.send(
                queue, data["body"], parse_attribute_lines(data["attributes"]),
                None if queue.fifo else data["delay_s"], sender_id=request.user.get_username(),
                group_id=data["group_id"] or None, dedup_id=data["dedup_id"] or None,
            )
        except MessagingError as e:
            apply_error(form, e)
        else:
            if msg.duplicate:
                messages.success(
                    request, f"A duplicate of {msg.message_id} (within 5 minutes): not sent again."
                )
            else:
                messages.success(request, f"Sent {msg.message_id}.")
            return redirect("msg-queue-detail", queue.id)
    return _render_queue(request, queue, send_form=form)


@login_required
@require_POST
def mapping_add(request: HttpRequest, queue_id) -> HttpResponse:
    queue = get_queue_for_user(request.user, queue_id, write=True)
    form = MappingForm(request.POST, queue=queue)
    mapping = form.save()
    if mapping is None:
        return _render_queue(request, queue, mapping_form=form)
    messages.success(request, f"{mapping.function.name} now reads {queue.name}.")
    return redirect("msg-queue-detail", queue.id)


@login_required
@require_POST
def mapping_toggle(request: HttpRequest, queue_id, mapping_id) -> HttpResponse:
    queue = get_queue_for_user(request.user, queue_id, write=True)
    mapping = get_object_or_404(queues.mappings_of(queue), id=mapping_id)
    configure.set_enabled(mapping, not mapping.enabled)
    return _back(request, queue_url(queue))


@login_required
@require_POST
def mapping_delete(request: HttpRequest, queue_id, mapping_id) -> HttpResponse:
    queue = get_queue_for_user(request.user, queue_id, write=True)
    configure.delete(get_object_or_404(queues.mappings_of(queue), id=mapping_id))
    return _back(request, queue_url(queue))


@login_required
@require_POST
def queue_redrive(request: HttpRequest, queue_id) -> HttpResponse:
    """On a source queue: bring its dead letters back. On a dead-letter
    queue: send each of its messages back to the queue it came from."""
    queue = get_queue_for_user(request.user, queue_id, write=True)
    moved = queues.redrive(
        QueueMessage.objects.filter(source_queue=queue) | QueueMessage.objects.filter(queue=queue)
    )
    messages.success(request, f"Redrove {moved} message(s) to their source queue.")
    return redirect("msg-queue-detail", queue.id)


@login_required
@require_POST
def queue_purge(request: HttpRequest, queue_id) -> HttpResponse:
    queue = get_queue_for_user(request.user, queue_id, write=True)
    deleted, _ = queue.messages.all().delete()
    messages.success(request, f"Deleted {deleted} message(s) from {queue.name}.")
    return redirect("msg-queue-detail", queue.id)


@login_required
@require_POST
def queue_delete(request: HttpRequest, queue_id) -> HttpResponse:
    queue = get_queue_for_user(request.user, queue_id, write=True)
    queue.delete()
    messages.success(request, f"Deleted the queue {queue.name} and its messages.")
    return redirect("msg-queue-list")
