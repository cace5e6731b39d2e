"""The function page's Triggers tab lists the S3 bucket notifications that
send events to the function (buckets.notifications), each with the version
or alias its ARN names. They are edited on the bucket's Notifications page,
so a row links there and has no switch or delete button of its own."""

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone

from awsapi import arns
from buckets.models import Notification
from buckets.notifications import qualifier_of
from functions.models import Function
from invocations.models import ERRORS, Invocation
from triggers import registry

KIND = "S3 notification"


def _calls(fn: Function, keys: list[str]) -> tuple[dict, dict]:
    """({trigger key: errors in the last hour}, {trigger key: last call}) of
    this function's calls from these buckets: an event's trigger key names
    the bucket only ("bucket:<name>"), which may notify other functions too."""
    rows = Invocation.objects.filter(function=fn, trigger__in=keys)
    since = timezone.now() - timedelta(hours=1)
    errors = dict(
        rows.filter(status__in=ERRORS, created_at__gte=since)
        .values("trigger").annotate(n=Count("request_id")).values_list("trigger", "n")
    )
    fired = dict(rows.values("trigger").annotate(last=Max("created_at")).values_list("trigger", "last"))
    return errors, fired


def rows(fn: Function) -> list[registry.TriggerRow]:
    """One row per LambdaFunctionConfiguration naming `fn` (unqualified,
    :$LATEST, or a version or alias) in a bucket of its team."""
    arn = arns.function_arn(fn.team.account_id, fn.name)
    entries = list(
        Notification.objects.filter(bucket__team=fn.team, kind="lambda")
        .filter(Q(target_arn=arn) | Q(target_arn__startswith=arn + ":"))
        .select_related("bucket").order_by("bucket__name", "position")
    )
    if not entries:
        return []
    keys = sorted({f"bucket:{e.bucket.name}" for e in entries})
    errors, fired = _calls(fn, keys)
    named = registry.named_qualifiers(fn)
    found = []
    for entry in entries:
        key = f"bucket:{entry.bucket.name}"
        rules = [f"{name} {value!r}" for name, value in (("prefix", entry.prefix), ("suffix", entry.suffix))
                 if value is not None]
        found.append(registry.TriggerRow(
            kind=KIND, target=entry.bucket.name, enabled=True,
            last_fired_at=fired.get(key), errors_last_hour=errors.get(key, 0),
            detail_url=reverse("bkt-notifications", args=[fn.team.account_id, entry.bucket.name]),
            description=" · ".join([
                entry.config_id, ", ".join(entry.events), *(rules or ["every key"]),
                registry.runs(fn, qualifier_of(entry.target_arn), named),
            ]),
        ))
    return found
