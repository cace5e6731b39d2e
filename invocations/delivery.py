"""Lambda's async delivery: retries with backoff, maximum event age,
destinations and dead letters, for invocations of type Event.

These are policies: the runner asks `retry_wait()` before it finalises a
failed async row and `expiry_error()` before it runs one, and
invocations.dispatch carries out the answer. Everything that follows a
final outcome (the attempt record, the dead letter, the destination
record) is the finish hook `after_finish`, registered in
InvocationsConfig.ready().

Sync invocations are never retried, and queue-batch invocations (source
"queue") are left to the queue's visibility timeout and maxReceiveCount."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from awsapi import arns
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from functions.models import Alias, Function, FunctionVersion
from invocations import destinations, qualified
from invocations.destinations import DestinationError
from invocations.models import Attempt, DeadLetter, EventInvokeConfig, Invocation

log = logging.getLogger(__name__)

RETRIES_MIN, RETRIES_MAX, RETRIES_DEFAULT = 0, 2, 2
AGE_MIN_S, AGE_MAX_S, AGE_DEFAULT_S = 60, 21600, 21600
# Lambda waits 1 minute before the first retry and 2 before the second.
BACKOFF_S = (60.0, 120.0)
RETRYABLE = {"failed", "timed_out", "out_of_memory"}


class ConfigError(ValueError):
    """Settings that cannot be stored: `errors` maps each offending input to
    what is wrong with it; the message is the first one (for the API)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())))
        self.errors = errors


LATEST = "$LATEST"


def qualifier_key(qualifier: str | None) -> str:
    """The stored qualifier: "$LATEST" for none (the unqualified function)."""
    return qualifier or LATEST


def config_for(fn: Function, qualifier: str | None = None) -> EventInvokeConfig:
    """The stored config of `qualifier` (None or "$LATEST": the
    unqualified function; "3"; an alias name), or an unsaved one with
    Lambda's defaults. No fallback between qualifiers: Lambda applies the
    config of the qualifier invoked, else the defaults."""
    key = qualifier_key(qualifier)
    config = EventInvokeConfig.objects.filter(function_id=fn.pk, qualifier=key).first()
    return config or EventInvokeConfig(function_id=fn.pk, qualifier=key)


def has_config(fn: Function, qualifier: str | None = None) -> bool:
    return EventInvokeConfig.objects.filter(function_id=fn.pk, qualifier=qualifier_key(qualifier)).exists()


def configs_of(fn: Function):
    """Every stored config of the function, $LATEST first, then versions by
    number, then aliases by name (ListFunctionEventInvokeConfigs' order)."""
    rows = list(EventInvokeConfig.objects.filter(function_id=fn.pk))
    return sorted(rows, key=_list_order)


def _list_order(config: EventInvokeConfig) -> tuple:
    if config.qualifier == LATEST:
        return (0, 0, "")
    if config.qualifier.isdigit():
        return (1, int(config.qualifier), "")
    return (2, 0, config.qualifier)


def delete_config(fn: Function, qualifier: str | None = None) -> bool:
    """Remove the qualifier's config; False when it had none."""
    return bool(EventInvokeConfig.objects.filter(
        function_id=fn.pk, qualifier=qualifier_key(qualifier)).delete()[0])


def forget_qualifier(sender, instance, **kwargs) -> None:
    """post_delete of a FunctionVersion or an Alias: its config goes with
    it (Lambda), so an alias made again under the name starts from the
    defaults. Connected in InvocationsConfig.ready()."""
    qualifier = str(getattr(instance, "version", None) or getattr(instance, "name", ""))
    if qualifier:
        EventInvokeConfig.objects.filter(function_id=instance.function_id, qualifier=qualifier).delete()


def invoked_qualifier(inv: Invocation) -> str:
    """The qualifier an event was invoked with (Invocation.qualifier: an
    alias, a version), else the version it ran ("3"), else "$LATEST"."""
    return inv.qualifier or inv.function_version or LATEST


def config_of(inv: Invocation) -> EventInvokeConfig:
    """The config an event follows: its invoked qualifier's. One exception:
    when that version or alias no longer exists (an event for it fails
    without running, invocations.qualified), the function's own ($LATEST)
    config, the only settings left to deliver its failure by."""
    qualifier = invoked_qualifier(inv)
    if qualifier == LATEST:
        return config_for(inv.function)
    # Both in one read (an event runs this before and after its run): the
    # qualifier's own config wins, and whether the qualifier still exists
    # matters only when $LATEST has a config to fall back on.
    found = {c.qualifier: c for c in EventInvokeConfig.objects.filter(
        function_id=inv.function.pk, qualifier__in=[qualifier, LATEST])}
    if qualifier in found:
        return found[qualifier]
    if LATEST in found and not _qualifier_exists(inv.function, qualifier):
        return found[LATEST]
    return EventInvokeConfig(function_id=inv.function.pk, qualifier=qualifier)


def _qualifier_exists(fn: Function, qualifier: str) -> bool:
    if qualifier.isdigit():
        return FunctionVersion.objects.filter(function_id=fn.pk, version=int(qualifier)).exists()
    return Alias.objects.filter(function_id=fn.pk, name=qualifier).exists()


def _whole(value, low: int, high: int, label: str) -> int:
    if isinstance(value, bool) or value is None or str(value).strip() == "":
        raise ValueError(f"{label} must be a whole number from {low} to {high}.")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{label} must be a whole number from {low} to {high}, got {value!r}.") from None
    if not low <= number <= high:
        raise ValueError(f"{label} must be from {low} to {high}, got {number}.")
    return number


@dataclass
class Settings:
    maximum_retry_attempts: object = RETRIES_DEFAULT
    maximum_event_age_s: object = AGE_DEFAULT_S
    on_success: str = ""
    on_failure: str = ""


def clean(fn: Function, wanted: Settings) -> Settings:
    """Every value checked; ConfigError names all the bad ones at once."""
    checks = {
        "maximum_retry_attempts": lambda v: _whole(v, RETRIES_MIN, RETRIES_MAX, "Retry attempts"),
        "maximum_event_age_s": lambda v: _whole(v, AGE_MIN_S, AGE_MAX_S, "Maximum event age (seconds)"),
        "on_success": lambda v: destinations.validate(fn, v),
        "on_failure": lambda v: destinations.validate(fn, v),
    }
    cleaned, errors = Settings(), {}
    for field, check in checks.items():
        try:
            setattr(cleaned, field, check(getattr(wanted, field)))
        except (ValueError, DestinationError) as e:
            errors[field] = str(e)
    if errors:
        raise ConfigError(errors)
    return cleaned


def save_config(fn: Function, cleaned: Settings, qualifier: str | None = None) -> EventInvokeConfig:
    """Store values that went through clean() as `qualifier`'s config."""
    config, _ = EventInvokeConfig.objects.update_or_create(
        function_id=fn.pk, qualifier=qualifier_key(qualifier),
        defaults={
            "maximum_retry_attempts": cleaned.maximum_retry_attempts,
            "maximum_event_age_s": cleaned.maximum_event_age_s,
            "on_success": cleaned.on_success,
            "on_failure": cleaned.on_failure,
            "updated_at": timezone.now(),
        },
    )
    return config


def settings_of(config: EventInvokeConfig) -> Settings:
    return Settings(
        config.maximum_retry_attempts, config.maximum_event_age_s, config.on_success, config.on_failure
    )


# The runner's questions ------------------------------------------------------


def _delivers(inv: Invocation) -> bool:
    """Whether this policy applies: async, and not a queue batch."""
    return inv.invocation_type == "Event" and inv.source != "queue"


def _too_old(inv: Invocation, config: EventInvokeConfig) -> bool:
    return timezone.now() - inv.created_at > timedelta(seconds=config.maximum_event_age_s)


def backoff_s(attempt: int) -> float:
    """The wait after failed attempt number `attempt` (1-based)."""
    base = BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1]
    return base * settings.STRATUS_RETRY_BACKOFF_SCALE


def expiry_error(inv: Invocation) -> dict | None:
    """The EventAgeExceeded error when a queued async row is past its
    maximum event age (it must not run; invocations.dispatch.expire does
    that), else None."""
    if not _delivers(inv) or inv.status != "queued":
        return None
    # No maximum age is under AGE_MIN_S: a younger event (nearly every one)
    # needs no look at the function's config.
    if timezone.now() - inv.created_at <= timedelta(seconds=AGE_MIN_S):
        return None
    config = config_of(inv)
    if not _too_old(inv, config):
        return None
    return {
        "errorType": "EventAgeExceeded",
        "errorMessage": (
            f"The event was not processed within the maximum event age "
            f"({config.maximum_event_age_s} s) after {inv.attempts} attempt(s)."
        ),
    }


def retry_wait(inv: Invocation, status: str) -> float | None:
    """After attempt number inv.attempts ended `status`: the backoff in
    seconds before the next attempt, or None when this outcome is final
    (sync, a queue batch, success, no retries left, or too old). Lambda: 2
    retries by default, 1 min then 2 min apart."""
    if not _delivers(inv) or status not in RETRYABLE:
        return None
    config = config_of(inv)
    if inv.attempts > config.maximum_retry_attempts or _too_old(inv, config):
        return None
    return backoff_s(inv.attempts)


# After the final outcome -----------------------------------------------------


def _iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _json_or_text(text: str | None):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def condition_of(inv: Invocation) -> str:
    if inv.status == "succeeded":
        return "Success"
    return "EventAgeExceeded" if inv.status == "expired" else "RetriesExhausted"


def destination_record(inv: Invocation) -> dict:
    """Lambda's invocation record, as its destinations receive it."""
    record = {
        "version": "1.0",
        "timestamp": _iso(inv.finished_at or timezone.now()),
        "requestContext": {
            "requestId": str(inv.request_id),
            # Qualified as invoked: the alias for a call through one.
            "functionArn": arns.function_arn(
                inv.function.team.account_id, inv.function.name, invoked_qualifier(inv)
            ),
            "condition": condition_of(inv),
            "approximateInvokeCount": inv.attempts,
        },
        "requestPayload": _json_or_text(inv.event),
    }
    if inv.attempts == 0:
        # Expired before any attempt: there is no response to report.
        return record
    response = {"statusCode": 200, "executedVersion": inv.function_version}
    if inv.status != "succeeded":
        response["functionError"] = "Unhandled"
    record["responseContext"] = response
    record["responsePayload"] = (
        _json_or_text(inv.result) if inv.status == "succeeded" else inv.error
    )
    return record


def record_final_attempt(inv: Invocation) -> None:
    # A sync invocation is never retried: its row is its one attempt, and an
    # extra row per call would cost every warm invoke two queries.
    if inv.attempts == 0 or inv.invocation_type != "Event":
        return
    Attempt.objects.get_or_create(
        invocation=inv, number=inv.attempts,
        defaults={
            "status": inv.status, "error": inv.error, "started_at": inv.started_at,
            "finished_at": inv.finished_at or timezone.now(), "duration_ms": inv.duration_ms,
        },
    )


def after_finish(inv: Invocation) -> None:
    """The finish hook: put the outcome on the record and deliver it."""
    record_final_attempt(inv)
    if not _delivers(inv) or inv.status == "cancelled":
        return
    config = config_of(inv)
    if inv.status == "succeeded":
        target = config.on_success
    else:
        # Every final failure is kept, destination or not, so it can be redriven.
        DeadLetter.objects.get_or_create(
            invocation=inv,
            defaults={
                "function": inv.function, "event": inv.event, "error": inv.error,
                "condition": condition_of(inv),
            },
        )
        target = config.on_failure
    if target:
        why = destinations.send(
            inv.function.team, target, destination_record(inv),
            source_request_id=inv.request_id, priority=inv.priority,
        )
        if why:
            note_skipped_destination(inv, target, why)


def note_skipped_destination(inv: Invocation, arn: str, why: str) -> None:
    """Keep on the invocation (origin["destination_skipped"]: {"arn",
    "which": "on-success" | "on-failure", "reason"}) that its destination
    record was not sent and why; its page shows it (Invocation
    .destination_skipped). Only a skip is written: a delivered record costs
    no extra write."""
    origin = dict(inv.origin or {})
    origin["destination_skipped"] = {
        "arn": arn, "which": "on-success" if inv.status == "succeeded" else "on-failure", "reason": why,
    }
    Invocation.objects.filter(pk=inv.pk).update(origin=origin)
    inv.origin = origin


def deliver_after_delete(inv: Invocation, config: EventInvokeConfig) -> None:
    """An event that was running when its function was deleted: its row
    went with the function, so its outcome can only reach the destination
    configured when it started (`config`, read then)."""
    if not _delivers(inv):
        return
    target = config.on_success if inv.status == "succeeded" else config.on_failure
    if target:
        destinations.send(
            inv.function.team, target, destination_record(inv),
            source_request_id=inv.request_id, priority=inv.priority,
        )
    log.info("%s finished %s after its function was deleted", inv.request_id, inv.status)


def redrive(dead: DeadLetter) -> Invocation | None:
    """Submit the event again as a new async invocation, once, to the
    version or alias it was invoked with (its config applies again; one
    that no longer exists fails it, invocations.qualified). None when the
    dead letter was redriven already (a double click, two tabs)."""
    qualifier = invoked_qualifier(dead.invocation)
    with transaction.atomic():
        changed = DeadLetter.objects.filter(pk=dead.pk, redriven_at__isnull=True).update(
            redriven_at=timezone.now()
        )
        if changed != 1:
            return None
        inv = qualified.submit_async(
            dead.function, None if qualifier == LATEST else qualifier, dead.event, source="redrive",
            trigger=f"redrive:{dead.pk}", origin={"dead_letter": str(dead.pk)},
        )
        DeadLetter.objects.filter(pk=dead.pk).update(redrive_invocation=inv)
    dead.refresh_from_db()
    return inv
