"""The function page's Triggers tab asks each app for its rows; these are
the topic subscriptions and queue mappings of one function."""

import json
from urllib.parse import urlencode

from django.urls import reverse

from functions.models import Function
from messaging.models import EventSourceMapping, Subscription
from triggers import registry


def trigger_rows(fn: Function) -> list[dict]:
    """One dict per subscription and mapping: kind ("topic"/"queue"),
    target (the topic or queue name), enabled, last_fired_at,
    errors_last_hour, toggle_url / delete_url (POST; they bring the browser
    back to the function's Triggers tab, or answer htmx with the tab's
    "triggers-changed" event), detail_url (the topic or queue page), and
    description (a short line: filter policy, batch size, priority)."""
    back = "?" + urlencode({"next": reverse("fn-detail", args=[fn.id]) + "?tab=triggers"})
    subs = list(Subscription.objects.filter(function=fn).select_related("topic"))
    maps = list(EventSourceMapping.objects.filter(function=fn).select_related("queue"))
    errors = registry.errors_last_hour([s.trigger for s in subs] + [m.trigger for m in maps])
    rows = []
    for sub in subs:
        args = [sub.topic_id, sub.id]
        rows.append({
            "kind": "topic",
            "target": sub.topic.name,
            "enabled": sub.enabled,
            "last_fired_at": sub.last_fired_at,
            "errors_last_hour": errors.get(sub.trigger, 0),
            "toggle_url": reverse("msg-subscription-toggle", args=args) + back,
            "delete_url": reverse("msg-subscription-delete", args=args) + back,
            "detail_url": reverse("msg-topic-detail", args=[sub.topic_id]),
            "description": (
                f"filter {json.dumps(sub.filter_policy)}" if sub.filter_policy else "every message"
            ) + f" · priority {sub.priority}",
        })
    for mapping in maps:
        args = [mapping.queue_id, mapping.id]
        rows.append({
            "kind": "queue",
            "target": mapping.queue.name,
            "enabled": mapping.enabled,
            "last_fired_at": mapping.last_fired_at,
            "errors_last_hour": errors.get(mapping.trigger, 0),
            "toggle_url": reverse("msg-mapping-toggle", args=args) + back,
            "delete_url": reverse("msg-mapping-delete", args=args) + back,
            "detail_url": reverse("msg-queue-detail", args=[mapping.queue_id]),
            "description": (
                f"batches of up to {mapping.batch_size}, window {mapping.batching_window_s} s"
                f" · priority {mapping.priority}"
            ),
        })
    return rows


KIND_LABELS = {"topic": "Topic subscription", "queue": "Queue"}


def registry_rows(fn: Function) -> list:
    """trigger_rows() as the triggers app's registry wants them."""
    return [
        registry.TriggerRow(**{**row, "kind": KIND_LABELS[row["kind"]]}) for row in trigger_rows(fn)
    ]
