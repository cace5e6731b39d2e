"""Event sources that need no stored data of their own: HTTP routes,
schedules and webhooks. Each invocation they cause carries the trigger's key
(`route:<uuid>`, ...) so the Triggers tab can count its errors."""

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

from django.db import models, transaction
from django.utils import timezone

from awsapi import arns
from functions import crypto
from functions.models import Function
from invocations import qualified
from invocations.models import PRIORITIES, Invocation
from triggers import payloads, route_paths
from triggers.schedule import parse as parse_expression
from triggers.schedule import zone

METHOD_CHOICES = [(m, m) for m in [route_paths.ANY, *route_paths.METHODS]]
AUTH_CHOICES = [("none", "None (public)"), ("api_key", "API key (x-api-key header)")]


class Trigger(models.Model):
    """What every trigger kind shares."""

    KEY_PREFIX = ""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    priority = models.CharField(max_length=6, choices=PRIORITIES, default="normal")
    # The version or alias it runs ("" runs $LATEST): resolved at each fire
    # (invocations.qualified); one that no longer exists fails that fire.
    qualifier = models.CharField(max_length=128, blank=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["created_at"]

    @property
    def key(self) -> str:
        """The value of Invocation.trigger for what this trigger causes."""
        return f"{self.KEY_PREFIX}:{self.id}"

    def mark_fired(self, when: datetime | None = None) -> None:
        # A plain UPDATE: concurrent requests on one route must not conflict.
        self.last_fired_at = when or timezone.now()
        type(self).objects.filter(pk=self.pk).update(last_fired_at=self.last_fired_at)


class HttpRoute(Trigger):
    KEY_PREFIX = "route"

    method = models.CharField(max_length=7, choices=METHOD_CHOICES, default="GET")
    path = models.CharField(max_length=400)
    # The path with parameter names dropped; unique per method, because
    # every route shares the one /http/ prefix.
    path_key = models.CharField(max_length=400, editable=False)
    auth = models.CharField(max_length=10, choices=AUTH_CHOICES, default="none")
    # SHA-256 of the key: it is random and long, so a slow hash adds nothing.
    api_key_hash = models.CharField(max_length=64, blank=True)
    api_key_hint = models.CharField(max_length=8, blank=True)
    cors_allow_origins = models.TextField(blank=True)
    cors_allow_methods = models.TextField(blank=True)
    cors_allow_headers = models.TextField(blank=True)
    cors_expose_headers = models.TextField(blank=True)
    cors_max_age = models.PositiveIntegerField(null=True, blank=True)
    cors_allow_credentials = models.BooleanField(default=False)

    class Meta(Trigger.Meta):
        constraints = [
            models.UniqueConstraint(fields=["method", "path_key"], name="triggers_route_unique"),
        ]

    def __str__(self) -> str:
        return self.route_key

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def save(self, *args, **kwargs):
        self.path_key = route_paths.normalize(self.path)
        super().save(*args, **kwargs)

    def issue_api_key(self) -> str:
        """A new key, returned once; only its hash is stored."""
        key = secrets.token_urlsafe(30)
        self.api_key_hash = hashlib.sha256(key.encode()).hexdigest()
        self.api_key_hint = key[:6]
        return key

    def api_key_matches(self, presented: str | None) -> bool:
        if not presented or not self.api_key_hash:
            return False
        digest = hashlib.sha256(presented.encode()).hexdigest()
        return hmac.compare_digest(digest, self.api_key_hash)

    @property
    def has_cors(self) -> bool:
        return bool(self.cors_allow_origins.strip())


class Schedule(Trigger):
    KEY_PREFIX = "schedule"

    expression = models.CharField(max_length=256)
    timezone = models.CharField(max_length=64, default="UTC")
    # None while disabled, or when a cron year field has run out.
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.expression

    @property
    def rule_name(self) -> str:
        return f"stratus-{self.function.name}-{self.id.hex[:8]}"

    @property
    def rule_arn(self) -> str:
        return arns.rule_arn(self.function.team.account_id, self.rule_name)

    def compute_next(self, after: datetime | None = None) -> datetime | None:
        return parse_expression(self.expression).next_after(
            after or timezone.now(), zone(self.timezone)
        )

    def set_enabled(self, enabled: bool) -> None:
        """Enabling starts counting from now, so a schedule that was off
        does not fire for the time it was off."""
        self.enabled = enabled
        self.next_fire_at = self.compute_next() if enabled else None
        self.save(update_fields=["enabled", "next_fire_at"])

    def fire(self, due_at: datetime, now: datetime | None = None) -> Invocation | None:
        """Claim this due fire and submit its invocation, or do nothing if
        another scheduler process claimed it first.

        The claim is a conditional UPDATE on next_fire_at that must change
        exactly one row, so two beats (or a tick delivered twice) never fire
        one slot twice. It and the invocation row commit together: a crash
        between them loses neither nor duplicates either."""
        now = now or timezone.now()
        # From now, not from due_at: fires missed while down are skipped.
        next_fire = self.compute_next(now)
        with transaction.atomic():
            claimed = Schedule.objects.filter(
                pk=self.pk, enabled=True, next_fire_at=due_at
            ).update(next_fire_at=next_fire, last_fired_at=now)
            if claimed != 1:
                return None
            self.next_fire_at, self.last_fired_at = next_fire, now
            event = payloads.scheduled_event(self, due_at)
            return qualified.submit_async(
                self.function, self.qualifier, event, source="schedule",
                priority=self.priority, trigger=self.key,
            )


def fire_due_schedules(now: datetime | None = None) -> int:
    """Fire every enabled schedule whose time has come; returns how many."""
    now = now or timezone.now()
    due = Schedule.objects.filter(enabled=True, next_fire_at__lte=now).select_related(
        "function__team"
    )
    fired = 0
    for schedule in due[:500]:
        if schedule.fire(schedule.next_fire_at, now) is not None:
            fired += 1
    return fired


class Webhook(Trigger):
    KEY_PREFIX = "webhook"

    token = models.CharField(max_length=64, unique=True, editable=False)
    # Encrypted: the server needs it back to recompute signatures.
    encrypted_secret = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"webhook {self.token[:6]}…"

    def save(self, *args, **kwargs):
        if not self.token:
            self.token = secrets.token_urlsafe(32)
        super().save(*args, **kwargs)

    def set_secret(self, secret: str) -> None:
        self.encrypted_secret = crypto.encrypt(secret) if secret else ""

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret) if self.encrypted_secret else ""
