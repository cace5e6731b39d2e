import base64
import secrets
import uuid

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from awsapi import arns
from functions import crypto

RUNTIME_CHOICES = [(r, r) for r in settings.STRATUS_RUNTIMES]


def _account_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(12))


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # The 12-digit "account" in this team's ARNs, as AWS SDKs expect one.
    account_id = models.CharField(max_length=12, default=_account_id, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership")
    # Lambda's account concurrency limit (ConcurrentExecutions) for this
    # team; None: STRATUS_TEAM_CONCURRENCY, or the installation's share
    # (invocations.concurrency.team_limit).
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    ROLES = [("owner", "Owner"), ("member", "Member"), ("readonly", "Read-only")]
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=10, choices=ROLES, default="member")

    class Meta:
        unique_together = [("team", "user")]


class CodeBundle(models.Model):
    """A zip stored once per content hash; its files are extracted beside it
    and bind-mounted read-only into environments at /var/task."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    unzipped_size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    @property
    def zip_path(self):
        return settings.STRATUS_CODE_DIR / f"{self.sha256}.zip"

    @property
    def files_dir(self):
        return settings.STRATUS_CODE_DIR / self.sha256

    @property
    def sha256_b64(self) -> str:
        # Lambda reports CodeSha256 as base64 of the raw digest.
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


class Function(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="functions")
    name = models.CharField(max_length=64)
    runtime = models.CharField(max_length=20, choices=RUNTIME_CHOICES, default="python3.11")
    handler = models.CharField(max_length=128, default="lambda_function.lambda_handler")
    code = models.ForeignKey(CodeBundle, on_delete=models.PROTECT)
    # The file's name when the code is one top-level .py file, else "" (the
    # console's editor edits every text file either way: functions.code_tab).
    editable_file = models.CharField(max_length=255, blank=True)
    memory_mb = models.PositiveIntegerField(default=128)
    timeout_s = models.PositiveIntegerField(default=3)
    environment = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=256, blank=True)
    role = models.CharField(max_length=2048, blank=True)
    # Lambda's reserved concurrency: at most this many at once (None: no limit).
    reserved_concurrency = models.PositiveIntegerField(null=True, blank=True)
    # What the function's own credentials may do inside it (awsapi.policy:
    # IAM's policy shape; {} allows nothing). A Stratus field: Lambda keeps
    # this in the execution role, which Stratus has no IAM for.
    execution_policy = models.JSONField(default=dict, blank=True)
    # Changes whenever code or configuration does: warm environments are
    # keyed on it, so an update never runs against a stale environment.
    revision = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("team", "name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def arn(self) -> str:
        return arns.function_arn(self.team.account_id, self.name)

    def touch_revision(self) -> None:
        self.revision = uuid.uuid4()
        self.updated_at = timezone.now()


class TestEvent(models.Model):
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="test_events")
    name = models.CharField(max_length=100)
    payload = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("function", "name")]
        ordering = ["name"]


class ApiKey(models.Model):
    """An access key id and a secret for SigV4; the secret is encrypted at rest
    because the server needs it back to recompute signatures."""

    access_key_id = models.CharField(max_length=20, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    encrypted_secret = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def issue(cls, user, team) -> tuple["ApiKey", str]:
        access_key_id = "AKIA" + "".join(
            secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)
        )
        secret = secrets.token_urlsafe(30)[:40]
        with transaction.atomic():
            key = cls.objects.create(
                access_key_id=access_key_id,
                user=user,
                team=team,
                encrypted_secret=crypto.encrypt(secret),
            )
        return key, secret

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret)


class DeniedCall(models.Model):
    """An AWS call a function made with its own credentials that its
    execution policy refused (awsapi.principals), shown on its page."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="denied_calls")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=128)  # "sqs:SendMessage"
    resource = models.CharField(max_length=2048)  # the ARN, or "*"
    message = models.TextField()  # the AccessDenied message the caller got

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["function", "-at"])]
