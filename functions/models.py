import base64
import secrets
import uuid

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from awsapi import arns
from functions import crypto

def default_architectures() -> list[str]:
    return ["x86_64"]


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
    # One of settings.STRATUS_RUNTIMES, checked by functions.service (no
    # model choices: the installed runtimes are a setting, not the schema).
    runtime = models.CharField(max_length=20, default="python3.11")
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
    # Lambda's RevisionId of $LATEST.
    revision = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Lambda's FunctionConfiguration fields (botocore lambda 2015-03-31).
    architectures = models.JSONField(default=default_architectures)  # ["x86_64"]
    ephemeral_storage_mb = models.PositiveIntegerField(default=512)  # /tmp size, 512-10240 MB
    # LoggingConfig: {"LogFormat": "Text"|"JSON", "ApplicationLogLevel": ...,
    # "SystemLogLevel": ..., "LogGroup": ...}; {} is Lambda's default (Text).
    logging_config = models.JSONField(default=dict, blank=True)
    tracing_mode = models.CharField(max_length=16, default="PassThrough")  # TracingConfig.Mode
    # Layer version ARNs in the order Lambda unpacks them under /opt.
    layers = models.JSONField(default=list, blank=True)
    # Lambda's tags: {key: value}, at most 50 (TagResource, ListTags).
    tags = models.JSONField(default=dict, blank=True)
    # Lambda's State / LastUpdateStatus: a dependency build (functions.models.
    # DependencyBuild) makes a new function Pending and an update InProgress.
    state = models.CharField(max_length=16, default="Active")  # Pending|Active|Inactive|Failed
    state_reason = models.TextField(blank=True)
    state_reason_code = models.CharField(max_length=64, blank=True)
    last_update_status = models.CharField(max_length=16, default="Successful")  # InProgress|Failed
    last_update_status_reason = models.TextField(blank=True)
    last_update_status_reason_code = models.CharField(max_length=64, blank=True)
    # The dependency build this function's last code upload asked for
    # (functions.dependencies): it waits for it while last_update_status is
    # InProgress; its source is the code the function was given.
    last_build = models.ForeignKey("DependencyBuild", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    # The last number PublishVersion gave: Lambda never reuses one, even
    # after DeleteFunction of that version.
    last_version = models.PositiveIntegerField(default=0)

    # What functions.qualifiers.resolve sets on the object it returns: the
    # version that runs and the qualifier the caller named. An unresolved
    # function is $LATEST, named without one.
    executed_version = "$LATEST"
    qualifier = None

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


class FunctionVersion(models.Model):
    """A published version (PublishVersion): the function's code and
    configuration frozen as they were. `revision` keys its warm
    environments (never changes); Lambda's RevisionId of the version."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    description = models.CharField(max_length=256, blank=True)
    # The frozen configuration, Function's fields of the same names.
    runtime = models.CharField(max_length=20)
    handler = models.CharField(max_length=128)
    code = models.ForeignKey(CodeBundle, on_delete=models.PROTECT, related_name="+")
    memory_mb = models.PositiveIntegerField()
    timeout_s = models.PositiveIntegerField()
    environment = models.JSONField(default=dict, blank=True)
    role = models.CharField(max_length=2048, blank=True)
    execution_policy = models.JSONField(default=dict, blank=True)
    architectures = models.JSONField(default=default_architectures)
    ephemeral_storage_mb = models.PositiveIntegerField(default=512)
    logging_config = models.JSONField(default=dict, blank=True)
    tracing_mode = models.CharField(max_length=16, default="PassThrough")
    layers = models.JSONField(default=list, blank=True)
    # Lambda's State of the version: Pending while the dependency build of
    # its code runs (published with Publish=True during a build), then
    # Active (its code switched to the build's result) or Failed with the
    # build's reason (functions.dependencies.finish).
    state = models.CharField(max_length=16, default="Active")  # Pending|Active|Failed
    state_reason = models.TextField(blank=True)
    state_reason_code = models.CharField(max_length=64, blank=True)
    revision = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("function", "version")]
        ordering = ["version"]


class Alias(models.Model):
    """Lambda's alias: a name for a version, optionally split by weight
    with a second one. routing_config: {"AdditionalVersionWeights":
    {"2": 0.25}} (Lambda's RoutingConfig; the rest goes to
    function_version)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=128)
    function_version = models.CharField(max_length=20)  # "3" or "$LATEST"
    description = models.CharField(max_length=256, blank=True)
    routing_config = models.JSONField(default=dict, blank=True)
    revision = models.UUIDField(default=uuid.uuid4)  # the alias's RevisionId
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("function", "name")]
        ordering = ["name"]


class ProvisionedConcurrencyConfig(models.Model):
    """PutProvisionedConcurrencyConfig on a version or an alias: that many
    environments kept initialised (handler imported) on the nodes."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="provisioned_configs")
    qualifier = models.CharField(max_length=128)  # a version number or an alias name
    requested = models.PositiveIntegerField()
    allocated = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, default="IN_PROGRESS")  # IN_PROGRESS|READY|FAILED
    status_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("function", "qualifier")]


class FunctionUrlConfig(models.Model):
    """CreateFunctionUrlConfig: a function's own HTTPS endpoint in Lambda;
    here an HTTP path on the server (url_id is the URL's unique part)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="url_configs")
    qualifier = models.CharField(max_length=128, blank=True)  # "" = unqualified ($LATEST)
    url_id = models.CharField(max_length=40, unique=True)
    auth_type = models.CharField(max_length=8, default="NONE")  # NONE | AWS_IAM
    cors = models.JSONField(default=dict, blank=True)  # Lambda's Cors shape
    invoke_mode = models.CharField(max_length=20, default="BUFFERED")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("function", "qualifier")]


class Layer(models.Model):
    """A layer name of a team; `last_version` is the last number given
    (Lambda never reuses one after DeleteLayerVersion)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=140)
    last_version = models.PositiveIntegerField(default=0)

    class Meta:
        unique_together = [("team", "name")]
        ordering = ["name"]


class LayerVersion(models.Model):
    """PublishLayerVersion: a zip unpacked under /opt of the functions that
    list it (Lambda: python/ and nodejs/node_modules/ are on the paths)."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    content = models.ForeignKey(CodeBundle, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=256, blank=True)
    license_info = models.CharField(max_length=512, blank=True)
    compatible_runtimes = models.JSONField(default=list, blank=True)
    compatible_architectures = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # DeleteLayerVersion: the version can no longer be seen or added to a
    # function, but its row and content stay for the functions that list
    # it (Lambda: "a copy of the version remains ... until no functions
    # refer to it"). functions.layers.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        unique_together = [("layer", "version")]
        ordering = ["-version"]


class DependencyBuild(models.Model):
    """Dependencies installed from a bundle's requirements.txt or
    package.json, once per (source code hash, runtime): the result is a new
    bundle with the packages beside the code."""

    STATUSES = [("InProgress", "In progress"), ("Successful", "Successful"), ("Failed", "Failed")]
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(CodeBundle, on_delete=models.CASCADE, related_name="+")
    runtime = models.CharField(max_length=20)
    status = models.CharField(max_length=12, choices=STATUSES, default="InProgress")
    log = models.TextField(blank=True)
    result = models.ForeignKey(CodeBundle, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The function waiting for it (its code switches on success).
    function = models.ForeignKey(Function, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="dependency_builds")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its task was (last) queued; a build not started long after is
    # queued again (functions.dependencies.recover).
    queued_at = models.DateTimeField(default=timezone.now)
    # A running build's sign of life, beaten by the task; None until a task
    # starts it. A stale beat is a worker that stopped mid-build.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many tasks started it: one interrupted is built again, the next
    # interruption fails it clearly.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        unique_together = [("source", "runtime")]
        ordering = ["-created_at"]
