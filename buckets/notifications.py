"""S3's event notifications: a bucket's configuration (functions, queues
and topics of the bucket's team, each with events and a key filter), and
the events themselves, sent from inside the transaction that changes the
object (`emit`), so an object change and its events commit together: a
function gets an async invocation (its retries and destinations apply), a
queue a message, a topic a publish."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote_plus

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from awsapi import arns
from awsapi.protocols import ServiceError
from buckets.models import Bucket, Notification
from functions import qualifiers
from functions.models import Function, Team
from invocations import qualified
from messaging import api as messaging

log = logging.getLogger(__name__)

EVENTS = (
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
)
# The configuration's list member for each kind, and its ARN member.
KINDS = {
    "lambda": ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
    "queue": ("QueueConfigurations", "QueueArn"),
    "topic": ("TopicConfigurations", "TopicArn"),
}
SNS_SUBJECT = "Amazon S3 Notification"


@dataclass(frozen=True)
class Requester:
    """Who made the change, as the event's userIdentity, requestParameters
    and responseElements name them."""

    principal_id: str = ""
    source_ip: str = ""
    request_id: str = ""


# The configuration ------------------------------------------------------------


def _invalid(message: str, name: str, value) -> ServiceError:
    return ServiceError("InvalidArgument", message,
                        fields={"ArgumentName": name, "ArgumentValue": "" if value is None else str(value)})


def _filter(entry: dict) -> tuple[str | None, str | None]:
    """(prefix, suffix) of an entry's Filter.Key.FilterRules; None where absent."""
    found: dict[str, str] = {}
    for rule in ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        name = (rule.get("Name") or "").lower()
        if name not in ("prefix", "suffix"):
            raise _invalid("filter rule name must be either prefix or suffix", "FilterRule.Name",
                           rule.get("Name"))
        if name in found:
            raise _invalid(f"Cannot specify more than one {name} rule in a filter.", "FilterRule.Name",
                           rule.get("Name"))
        value = rule.get("Value") or ""
        if len(value) > 1024:
            raise _invalid("The filter rule value is too long (at most 1024 characters).",
                           "FilterRule.Value", value)
        found[name] = value
    return found.get("prefix"), found.get("suffix")


def _events(entry: dict) -> list[str]:
    events = entry.get("Events") or []
    if not events:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                           "against our published schema: each configuration needs at least one Event.")
    for event in events:
        if event not in EVENTS:
            raise _invalid("The event is not supported for notifications", "Event", event)
    return list(dict.fromkeys(events))


def _function_name(team: Team, arn: str) -> tuple[str | None, str | None]:
    """(the function's name, None), or (None, why `arn` is not a function
    ARN of the team's account and this region). A qualified ARN's version
    or alias is `qualifier_of(arn)`."""
    try:
        parsed = arns.parse(arn)
    except arns.ArnError:
        return None, "The ARN is not well formed"
    parts = parsed.resource.split(":")
    if parsed.service != "lambda" or parts[0] != "function" or len(parts) not in (2, 3):
        return None, "The ARN is not a function ARN"
    if parsed.region != settings.STRATUS_REGION or parsed.account != team.account_id:
        return None, "The function is not in this account and region"
    return parts[1], None


def qualifier_of(arn: str) -> str | None:
    """The version or alias a function ARN ends with (None: unqualified)."""
    parts = arn.split(":")
    return parts[7] if len(parts) == 8 and parts[7] != qualifiers.LATEST else None


def _target_problem(team: Team, kind: str, arn: str) -> str | None:
    """Why `arn` is not a target S3 can deliver to, or None."""
    if kind == "lambda":
        name, problem = _function_name(team, arn)
        fn = Function.objects.filter(team=team, name=name).first() if problem is None else None
        if problem is None and fn is None:
            problem = "The function does not exist"
        elif fn is not None and (qualifier := qualifier_of(arn)):
            try:
                qualifiers.resolve(fn, qualifier)
            except qualifiers.QualifierNotFound:
                problem = f"The function has no version or alias {qualifier}"
        return problem
    find = messaging.find_queue_by_arn if kind == "queue" else messaging.find_topic_by_arn
    target = find(team, arn)
    if target is None:
        return f"The destination {'queue' if kind == 'queue' else 'topic'} does not exist"
    if target.fifo:  # S3 sends no events to SQS FIFO queues or SNS FIFO topics.
        return f"FIFO {'queues' if kind == 'queue' else 'topics'} are not supported as S3 event destinations"
    return None


def put_configuration(bucket: Bucket, config: dict) -> None:
    """Replace the bucket's whole configuration with `config` (the
    NotificationConfiguration shape), after checking every entry: an
    invalid one changes nothing. Queue and topic targets then get S3's
    `s3:TestEvent`, as S3 sends it."""
    if config.get("EventBridgeConfiguration") is not None:
        raise _invalid("Stratus does not send S3 events to EventBridge; use a function, queue or topic.",
                       "EventBridgeConfiguration", "")
    team = bucket.team
    rows, unreachable = [], []
    for kind, (member, arn_member) in KINDS.items():
        for entry in config.get(member) or []:
            arn = entry.get(arn_member) or ""
            events = _events(entry)
            prefix, suffix = _filter(entry)
            problem = _target_problem(team, kind, arn)
            if problem:
                unreachable.append((arn, problem))
            rows.append(Notification(
                bucket=bucket, position=len(rows), kind=kind,
                config_id=entry.get("Id") or _generated_id(), target_arn=arn, events=events,
                prefix=prefix, suffix=suffix,
            ))
    if unreachable:
        fields = {}
        for number, (arn, problem) in enumerate(unreachable, 1):
            fields[f"ArgumentName{number}"], fields[f"ArgumentValue{number}"] = arn, problem
        raise ServiceError("InvalidArgument", "Unable to validate the following destination configurations",
                           fields=fields)
    with transaction.atomic():
        # Locked: two Puts racing each leave a whole configuration, never a mix.
        Bucket.objects.select_for_update().filter(pk=bucket.pk).first()
        Notification.objects.filter(bucket=bucket).delete()
        Notification.objects.bulk_create(rows)
        for kind, arn in dict.fromkeys((r.kind, r.target_arn) for r in rows if r.kind != "lambda"):
            _deliver(team, kind, arn, json.dumps(test_event(bucket), separators=(",", ":")))


def _generated_id() -> str:
    # S3 makes up an Id for an entry without one.
    return uuid.uuid4().hex


def get_configuration(bucket: Bucket) -> dict:
    """The stored configuration, in the shape it was put in."""
    output: dict[str, list] = {}
    for row in bucket.notifications.all():
        member, arn_member = KINDS[row.kind]
        entry = {"Id": row.config_id, arn_member: row.target_arn, "Events": row.events}
        rules = [{"Name": name, "Value": value}
                 for name, value in (("Prefix", row.prefix), ("Suffix", row.suffix)) if value is not None]
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        output.setdefault(member, []).append(entry)
    return output


# Events -------------------------------------------------------------------------


def test_event(bucket: Bucket) -> dict:
    return {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": _time(timezone.now()),
            "Bucket": bucket.name, "RequestId": uuid.uuid4().hex[:16].upper(),
            "HostId": uuid.uuid4().hex}


def _time(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def event_key(key: str) -> str:
    """The key as S3's events carry it: URL-encoded form-style (a space is
    "+"); handlers decode it with unquote_plus."""
    return quote_plus(key, safe="/")


def sequencer() -> str:
    """A hex text that grows with every event (S3's orders events of one key)."""
    return f"{time.time_ns():018X}"


def record(bucket: Bucket, notification: Notification, event_name: str, key: str, *,
           size: int | None, etag: str | None, by: Requester, now, sequence: str) -> dict:
    """One `Records[]` entry, in S3's event structure version 2.1."""
    obj: dict = {"key": event_key(key)}
    if size is not None:
        obj.update({"size": size, "eTag": (etag or "").strip('"')})
    obj["sequencer"] = sequence
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": settings.STRATUS_REGION,
        "eventTime": _time(now),
        "eventName": event_name,
        "userIdentity": {"principalId": by.principal_id},
        "requestParameters": {"sourceIPAddress": by.source_ip},
        "responseElements": {"x-amz-request-id": by.request_id, "x-amz-id-2": by.request_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": notification.config_id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": bucket.team.account_id},
                "arn": f"arn:aws:s3:::{bucket.name}",
            },
            "object": obj,
        },
    }


def emit(bucket: Bucket, event_name: str, key: str, *, size: int | None = None, etag: str | None = None,
         by: Requester | None = None, entries: list[Notification] | None = None) -> int:
    """Send `event_name` ("ObjectCreated:Put", "ObjectRemoved:Delete") for
    `key` to every matching entry of the bucket's configuration; call it
    inside the transaction that changes the object. Returns how many were
    sent. A target gone since the configuration was put is logged and
    skipped (S3 drops what it cannot deliver). `entries`: the bucket's
    configuration, when the caller read it already (one read for many keys)."""
    if entries is None:
        entries = list(bucket.notifications.all())
    matching = [n for n in entries if n.matches(event_name, key)]
    if not matching:
        return 0
    by = by or Requester()
    now, sequence = timezone.now(), sequencer()
    sent = 0
    for notification in matching:
        event = {"Records": [record(bucket, notification, event_name, key, size=size, etag=etag, by=by,
                                    now=now, sequence=sequence)]}
        origin = {"bucket": bucket.name, "key": key, "event_name": event_name,
                  "configuration_id": notification.config_id}
        if _deliver(bucket.team, notification.kind, notification.target_arn,
                    json.dumps(event, separators=(",", ":")), origin, trigger=f"bucket:{bucket.name}"):
            sent += 1
    return sent


def _deliver(team: Team, kind: str, arn: str, body: str, origin: dict | None = None,
             trigger: str = "") -> bool:
    if kind == "lambda":
        name, _ = _function_name(team, arn)
        fn = Function.objects.select_related("team").filter(team=team, name=name).first() if name else None
        if fn is None:
            log.warning("S3 event not delivered: no function %s", arn)
            return False
        # The ARN's version or alias, resolved now; a missing one fails this
        # event (stored failed, its on-failure path), never runs $LATEST.
        qualified.submit_async(fn, qualifier_of(arn), body, source="bucket", trigger=trigger, origin=origin)
        return True
    try:
        if kind == "queue":
            queue = messaging.find_queue_by_arn(team, arn)
            if queue is None:
                log.warning("S3 event not delivered: no queue %s", arn)
                return False
            messaging.send(queue, body)
        else:
            topic = messaging.find_topic_by_arn(team, arn)
            if topic is None:
                log.warning("S3 event not delivered: no topic %s", arn)
                return False
            messaging.publish(topic, body, subject=SNS_SUBJECT)
    except messaging.MessagingError as e:
        log.warning("S3 event not delivered to %s: %s", arn, e.message)
        return False
    return True
