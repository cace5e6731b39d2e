"""The function page's Triggers tab asks each app for its rows; these are
the topic subscriptions and the event source mappings (SQS, Kinesis and
DynamoDB: mappings.tab) of one function. The mappings' rows are made here
because the triggers app sits above mappings in the import graph."""

import json
from urllib.parse import urlencode

from django.urls import reverse

from functions.models import Function
from mappings import tab as mapping_tab
from messaging.models import Queue, Subscription
from triggers import registry


def trigger_rows(fn: Function) -> list[dict]:
    """One dict per subscription and mapping: kind ("topic", or the
    mapping's source label: "SQS queue", "Kinesis stream", "DynamoDB
    stream"), target (the topic, queue or stream name), enabled,
    last_fired_at, errors_last_hour, toggle_url / delete_url (POST; they
    bring the browser back to the function's Triggers tab, or answer htmx
    with the tab's "triggers-changed" event), detail_url (the topic or queue
    page), and description (a short line: filter policy, batch size,
    state, position, last result and error, priority)."""
    back = "?" + urlencode({"next": reverse("fn-detail", args=[fn.id]) + "?tab=triggers"})
    subs = list(Subscription.objects.filter(function=fn).select_related("topic"))
    maps = mapping_tab.rows(fn)
    errors = registry.errors_last_hour([s.trigger for s in subs] + [m["trigger"] for m in maps])
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
            ) + f" · priority {sub.priority}" + (f" · runs {sub.endpoint_name}" if sub.qualifier else ""),
        })
    queue_names = {m["target"] for m in maps if m["mapping"].kind == "sqs"}
    queue_ids = dict(Queue.objects.filter(team=fn.team, name__in=queue_names).values_list("name", "id"))
    for row in maps:
        mapping = row["mapping"]
        args = [fn.id, mapping.id]
        queue_id = queue_ids.get(row["target"]) if mapping.kind == "sqs" else None
        rows.append({
            "kind": row["kind"],
            "target": row["target"],
            "enabled": row["enabled"],
            "last_fired_at": row["last_fired_at"],
            "errors_last_hour": errors.get(row["trigger"], 0),
            "toggle_url": reverse("msg-fn-mapping-toggle", args=args),
            "delete_url": reverse("msg-fn-mapping-delete", args=args),
            "detail_url": reverse("msg-queue-detail", args=[queue_id]) if queue_id else None,
            "description": row["description"],
        })
    return rows


KIND_LABELS = {"topic": "Topic subscription"}


def registry_rows(fn: Function) -> list:
    """trigger_rows() as the triggers app's registry wants them."""
    return [
        registry.TriggerRow(**{**row, "kind": KIND_LABELS.get(row["kind"], row["kind"])})
        for row in trigger_rows(fn)
    ]
