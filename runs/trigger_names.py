"""Names for the values of Invocation.trigger, so the runs page can offer a
function's triggers by what they are rather than by "route:<uuid>"."""

from functions import function_urls
from functions.models import Function, FunctionUrlConfig
from mappings.models import EventSourceMapping
from messaging.models import Subscription
from triggers.models import HttpRoute, Schedule, Webhook


def names_for(fn: Function) -> list[tuple[str, str]]:
    """(Invocation.trigger value, a name) of each trigger the function has
    now: its HTTP routes, schedules, webhooks, topic subscriptions, event
    source mappings and function URLs; a few small indexed queries."""
    found = [(r.key, f"HTTP route {r.route_key}") for r in HttpRoute.objects.filter(function=fn)]
    found += [(s.key, f"Schedule {s.expression}") for s in Schedule.objects.filter(function=fn)]
    found += [(h.key, "Webhook") for h in Webhook.objects.filter(function=fn)]
    found += [
        (s.trigger, f"Topic {s.topic.name}")
        for s in Subscription.objects.filter(function=fn).select_related("topic")
    ]
    found += [
        (m.trigger, f"{m.get_kind_display()} {m.event_source_arn.rsplit(':', 1)[-1]}")
        for m in EventSourceMapping.objects.filter(function=fn)
    ]
    found += [
        (function_urls.trigger_key(u.url_id), f"Function URL{' ' + u.qualifier if u.qualifier else ''}")
        for u in FunctionUrlConfig.objects.filter(function=fn)
    ]
    return found
