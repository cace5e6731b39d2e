"""Topics (SNS-like) and queues (SQS-like): the rows are the source of truth,
messages included, so nothing is lost when Redis or a worker goes away."""

import secrets
import uuid

from django.db import models
from django.utils import timezone

from awsapi import arns
from functions import crypto
from functions.models import Function, Team
from invocations.models import PRIORITIES


class Topic(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="topics")
    name = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)
    # The secret part of /hooks/topics/<token>/; null while the topic has
    # no webhook. Kept in clear so the topic page can show the URL again.
    webhook_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    # Encrypted: the server needs it back to recompute signatures.
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    # SNS's DisplayName and Policy attributes (the policy is kept as text
    # and shown back; Stratus does not enforce it: the team's keys decide).
    display_name = models.CharField(max_length=100, blank=True)
    policy = models.TextField(blank=True)
    # SNS's SubscriptionsDeleted: how many subscriptions were removed.
    subscriptions_deleted = models.PositiveIntegerField(default=0)
    # SNS's SignatureVersion attribute: "1" signs with SHA1withRSA, "2" with
    # SHA256withRSA (messaging.sns_signing).
    signature_version = models.CharField(max_length=1, default="1")
    # SNS FIFO topics (name ends ".fifo"; messaging.fifo): fixed at creation.
    fifo = models.BooleanField(default=False)
    content_based_dedup = models.BooleanField(default=False)
    # The last SequenceNumber given out (messaging.fifo.next_sequence).
    last_sequence = models.PositiveBigIntegerField(default=0)

    class Meta:
        unique_together = [("team", "name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def arn(self) -> str:
        return arns.topic_arn(self.team.account_id, self.name)

    @property
    def webhook_secret(self) -> str:
        return crypto.decrypt(self.webhook_secret_encrypted) if self.webhook_secret_encrypted else ""

    def issue_webhook(self, *, with_secret: bool) -> str:
        """A new webhook URL (the old one, if any, stops working at once) and,
        if asked, a new HMAC secret, returned once; "" without one."""
        secret = secrets.token_urlsafe(32) if with_secret else ""
        self.webhook_token = secrets.token_urlsafe(32)
        self.webhook_secret_encrypted = crypto.encrypt(secret) if secret else ""
        self.save(update_fields=["webhook_token", "webhook_secret_encrypted"])
        return secret

    def disable_webhook(self) -> None:
        """Forget the URL and secret: the old URL answers 404 for good, and
        creating a webhook again issues a new one."""
        self.webhook_token = None
        self.webhook_secret_encrypted = ""
        self.save(update_fields=["webhook_token", "webhook_secret_encrypted"])


class Subscription(models.Model):
    """A topic's subscriber: a function (SNS protocol `lambda`), a queue
    (protocol `sqs`) or a loopback URL (`http`/`https`), exactly one of the
    three. An HTTP/S subscription is `pending` until its endpoint confirms
    it with `token` (ConfirmSubscription or the SubscribeURL)."""

    FILTER_SCOPES = [("MessageAttributes", "MessageAttributes"), ("MessageBody", "MessageBody")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="subscriptions")
    function = models.ForeignKey(
        Function, on_delete=models.CASCADE, related_name="subscriptions", null=True, blank=True
    )
    queue = models.ForeignKey(
        "Queue", on_delete=models.CASCADE, related_name="subscriptions", null=True, blank=True
    )
    # SNS's filter policy (see messaging.filter_policy), applied to the
    # message's attributes or to its JSON body; null delivers every message.
    filter_policy = models.JSONField(null=True, blank=True)
    filter_policy_scope = models.CharField(max_length=17, choices=FILTER_SCOPES, default="MessageAttributes")
    # Queue and HTTP/S subscriptions: the message itself (on a queue with
    # its attributes as SQS message attributes) rather than SNS's JSON.
    raw_message_delivery = models.BooleanField(default=False)
    # HTTP/S subscriptions: the endpoint (loopback only, messaging.sns_http).
    url = models.CharField(max_length=2048, blank=True)
    # Confirmation, as SNS does it for HTTP/S: no message is delivered while
    # pending. The token is the secret in the SubscribeURL.
    pending = models.BooleanField(default=False)
    token = models.CharField(max_length=128, blank=True, db_index=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # ConfirmSubscription through the signed API (true) or a GET of the
    # SubscribeURL (false); AuthenticateOnUnsubscribe=true makes the
    # UnsubscribeURL refuse (only the signed API may unsubscribe).
    confirmation_authenticated = models.BooleanField(default=True)
    authenticate_on_unsubscribe = models.BooleanField(default=False)
    # `scheme://host` the subscription was made through: where its messages'
    # SigningCertURL / UnsubscribeURL point (messaging.sns_signing.base_url).
    base_url = models.CharField(max_length=512, blank=True)
    enabled = models.BooleanField(default=True)
    priority = models.CharField(max_length=6, choices=PRIORITIES, default="normal")
    # A lambda subscription's version or alias (the Endpoint ARN's
    # qualifier; "" runs $LATEST), resolved at each delivery.
    qualifier = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(function__isnull=False, queue__isnull=True, url="")
                | models.Q(function__isnull=True, queue__isnull=False, url="")
                | (models.Q(function__isnull=True, queue__isnull=True) & ~models.Q(url="")),
                name="subscription_one_endpoint_of_three",
            )
        ]

    @property
    def arn(self) -> str:
        return arns.subscription_arn(self.topic.team.account_id, self.topic.name, self.id)

    @property
    def protocol(self) -> str:
        if self.url:
            return "https" if self.url.lower().startswith("https:") else "http"
        return "lambda" if self.function_id else "sqs"

    @property
    def endpoint(self) -> str:
        if self.url:
            return self.url
        if self.function_id:
            fn = self.function
            return arns.function_arn(fn.team.account_id, fn.name, self.qualifier or None)
        return self.queue.arn

    @property
    def endpoint_name(self) -> str:
        if self.url:
            return self.url
        if self.function_id:
            return f"{self.function.name}:{self.qualifier}" if self.qualifier else self.function.name
        return self.queue.name

    @property
    def trigger(self) -> str:
        return f"subscription:{self.id}"


class TopicMessage(models.Model):
    """A published message, kept for the console's recent-messages list."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="messages")
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subject = models.CharField(max_length=100, null=True, blank=True)
    message = models.TextField()
    # SNS's MessageStructure=json: `message` is a JSON object of one message
    # per protocol ("default", "lambda", "sqs").
    per_protocol = models.BooleanField(default=False)
    # {"name": {"Type": "String"|"Number"|"Binary", "Value": "..."}}
    attributes = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Subscriptions the message was delivered to (enabled and matching).
    deliveries = models.PositiveIntegerField(default=0)
    # FIFO topics only: MessageGroupId, the deduplication id (given or the
    # body's SHA-256) and the topic's sequence number.
    group_id = models.CharField(max_length=128, blank=True)
    dedup_id = models.CharField(max_length=128, blank=True)
    sequence = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]


class HttpDelivery(models.Model):
    """One message on its way to an HTTP/S endpoint: stored (in the
    publish's or the subscribe's transaction) before its Celery task is
    queued, so a process that dies mid-delivery loses nothing: the
    reconciler (messaging.sns_http.requeue_lost) queues it again. `body` is
    the signed JSON, sent as it is on every attempt."""

    STATUSES = [("pending", "pending"), ("delivered", "delivered"), ("failed", "failed")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="http_deliveries"
    )
    url = models.CharField(max_length=2048)
    # Notification, SubscriptionConfirmation or UnsubscribeConfirmation.
    message_type = models.CharField(max_length=32)
    message_id = models.CharField(max_length=64)
    topic_arn = models.CharField(max_length=512)
    subscription_arn = models.CharField(max_length=600)
    body = models.TextField()
    # RawMessageDelivery: `body` is the message itself, not SNS's JSON.
    raw = models.BooleanField(default=False)
    # UnsubscribeConfirmation: the token of its SubscribeURL, and what it
    # takes to restore the removed subscription (messaging.topics.confirm).
    token = models.CharField(max_length=128, blank=True, db_index=True)
    restore = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=9, choices=STATUSES, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while an attempt runs, when it is
    # considered lost (a claim pushes it past the request's timeout).
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]


class Queue(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=80)
    visibility_timeout_s = models.PositiveIntegerField(default=30)
    max_receive_count = models.PositiveIntegerField(default=5)
    dead_letter_queue = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="dead_letter_sources"
    )
    # SQS's DelaySeconds, MessageRetentionPeriod, ReceiveMessageWaitTimeSeconds
    # and MaximumMessageSize (messaging.sqs_attributes), with SQS's defaults.
    delay_s = models.PositiveIntegerField(default=0)
    retention_s = models.PositiveIntegerField(default=4 * 24 * 60 * 60)
    receive_wait_s = models.PositiveIntegerField(default=0)
    max_message_bytes = models.PositiveIntegerField(default=256 * 1024)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # SQS allows one PurgeQueue a minute.
    purged_at = models.DateTimeField(null=True, blank=True)
    # SQS FIFO queues (name ends ".fifo"; messaging.fifo): FifoQueue is fixed
    # at creation; ContentBasedDeduplication, DeduplicationScope ("queue" or
    # "messageGroup") and FifoThroughputLimit ("perQueue" or
    # "perMessageGroupId") as SQS keeps them.
    fifo = models.BooleanField(default=False)
    content_based_dedup = models.BooleanField(default=False)
    dedup_scope = models.CharField(max_length=12, default="queue")
    throughput_limit = models.CharField(max_length=17, default="perQueue")
    # The last SequenceNumber given out (messaging.fifo.next_sequence).
    last_sequence = models.PositiveBigIntegerField(default=0)

    class Meta:
        unique_together = [("team", "name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def arn(self) -> str:
        return arns.queue_arn(self.team.account_id, self.name)


class QueueMessage(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="messages")
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    body = models.TextField()
    # {"name": {"Type", "Value"}}; Type keeps a custom label ("Number.float"),
    # Binary values are base64 text.
    attributes = models.JSONField(default=dict, blank=True)
    sender_id = models.CharField(max_length=128, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    # Receivable when visible_at <= now: a delay or a receive pushes it on.
    visible_at = models.DateTimeField(default=timezone.now, db_index=True)
    receive_count = models.PositiveIntegerField(default=0)
    # Changes on every receive: only the latest receiver may delete it.
    receipt_handle = models.CharField(max_length=128, blank=True, db_index=True)
    first_received_at = models.DateTimeField(null=True, blank=True)
    # Set when the message was moved to a dead-letter queue: where to redrive it.
    source_queue = models.ForeignKey(
        Queue, on_delete=models.SET_NULL, null=True, blank=True, related_name="dead_letters"
    )
    # FIFO queues only: MessageGroupId, the deduplication id (given or the
    # body's SHA-256) and the queue's sequence number, which orders a group.
    group_id = models.CharField(max_length=128, blank=True)
    dedup_id = models.CharField(max_length=128, blank=True)
    sequence = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["visible_at", "id"]
        indexes = [
            models.Index(fields=["queue", "visible_at"]),
            models.Index(fields=["queue", "group_id", "sequence"]),
        ]


class QueueDeduplication(models.Model):
    """A FIFO queue's deduplication id, remembered for SQS's 5-minute window
    even after its message was received and deleted: a send with the same id
    (within its group, for DeduplicationScope=messageGroup) before
    `expires_at` answers with the first message and stores nothing."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="deduplications")
    # The MessageGroupId for DeduplicationScope=messageGroup, "" for the queue.
    scope = models.CharField(max_length=128, blank=True)
    dedup_id = models.CharField(max_length=128)
    message_id = models.UUIDField()
    sequence = models.PositiveBigIntegerField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "scope", "dedup_id"], name="queue_dedup_once")
        ]
        indexes = [models.Index(fields=["queue", "expires_at"])]


class TopicDeduplication(models.Model):
    """A FIFO topic's deduplication id, for SNS's 5-minute window."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="deduplications")
    dedup_id = models.CharField(max_length=128)
    message_id = models.UUIDField()
    sequence = models.PositiveBigIntegerField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "dedup_id"], name="topic_dedup_once")]
        indexes = [models.Index(fields=["topic", "expires_at"])]
