"""DynamoDB tables, their items, secondary indexes and change streams, as
rows of the project's database (SQLite by default, PostgreSQL when
configured), so a table lives and is backed up with everything else.

Items keep their typed JSON (`{"id": {"S": "a"}, "n": {"N": "1.5"}}`)
as text, exactly as written after normalisation (tables.values). Keys are
stored twice more, so a query by key is an index range scan and never a
walk of the table:

- `hash_digest`: SHA-256 (hex) of the partition key's type and value. A
  partition key is only ever compared for equality, and a digest keeps the
  index small whatever the key's length (up to 2048 bytes in DynamoDB).
- `sort_key`: an order-preserving hex encoding of the sort key (''
  without one), so `ORDER BY sort_key` is DynamoDB's order (numbers by
  value, strings and binaries by their bytes) under any collation: hex
  digits sort alike everywhere.

Secondary indexes keep one `IndexEntry` per item that has the index's key
attributes (sparse, as DynamoDB's), with the same two columns."""

import uuid

from django.db import models
from django.utils import timezone

from awsapi import arns
from functions.models import Team

VIEW_TYPES = [(v, v) for v in ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")]
EVENT_NAMES = [(v, v) for v in ("INSERT", "MODIFY", "REMOVE")]


class Table(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(max_length=255)  # TableName: 3-255 of [a-zA-Z0-9_.-]
    key_schema = models.JSONField()  # KeySchema: [{"AttributeName": str, "KeyType": "HASH"|"RANGE"}]
    attribute_definitions = models.JSONField()  # AttributeDefinitions: [{"AttributeName", "AttributeType"}]
    billing_mode = models.CharField(max_length=16, default="PAY_PER_REQUEST")  # or PROVISIONED
    provisioned_throughput = models.JSONField(null=True, blank=True)  # accepted and shown back
    status = models.CharField(max_length=16, default="ACTIVE")  # TableStatus
    deletion_protection = models.BooleanField(default=False)  # DeletionProtectionEnabled
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # StreamSpecification: the view type ('' when the stream is off) and the
    # label of the current stream (a new label, so a new stream ARN, each
    # time a stream is enabled, as DynamoDB does).
    stream_view_type = models.CharField(max_length=18, choices=VIEW_TYPES, blank=True)
    stream_label = models.CharField(max_length=32, blank=True)
    # TimeToLiveSpecification.
    ttl_attribute = models.CharField(max_length=255, blank=True)
    ttl_enabled = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_table_name_per_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def arn(self) -> str:
        return arns.table_arn(self.team.account_id, self.name)

    @property
    def stream_arn(self) -> str | None:
        """LatestStreamArn, or None when the table never had a stream."""
        if not self.stream_label:
            return None
        return arns.table_stream_arn(self.team.account_id, self.name, self.stream_label)

    def key_names(self) -> tuple[str, str | None]:
        """(partition key name, sort key name or None)."""
        hash_name = next(k["AttributeName"] for k in self.key_schema if k["KeyType"] == "HASH")
        range_name = next((k["AttributeName"] for k in self.key_schema if k["KeyType"] == "RANGE"), None)
        return hash_name, range_name


class TableIndex(models.Model):
    """A global or local secondary index (GlobalSecondaryIndexes /
    LocalSecondaryIndexes): its key schema and Projection."""

    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="indexes")
    name = models.CharField(max_length=255)  # IndexName
    kind = models.CharField(max_length=6, choices=[("global", "global"), ("local", "local")])
    key_schema = models.JSONField()
    # {"ProjectionType": "ALL"|"KEYS_ONLY"|"INCLUDE", "NonKeyAttributes": [...]}
    projection = models.JSONField()
    provisioned_throughput = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, default="ACTIVE")  # IndexStatus

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["table", "name"], name="one_index_name_per_table")]

    def key_names(self) -> tuple[str, str | None]:
        hash_name = next(k["AttributeName"] for k in self.key_schema if k["KeyType"] == "HASH")
        range_name = next((k["AttributeName"] for k in self.key_schema if k["KeyType"] == "RANGE"), None)
        return hash_name, range_name


class Item(models.Model):
    id = models.BigAutoField(primary_key=True)
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="items")
    hash_digest = models.CharField(max_length=64)
    sort_key = models.TextField(default="", blank=True)
    data = models.TextField()  # the typed item, JSON
    size = models.PositiveIntegerField()  # bytes, as DynamoDB counts them (400 KB limit)
    # The TTL attribute's value (epoch seconds) when TTL is on and the item
    # has a number there; the sweeper deletes items past it.
    expires_at = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table", "hash_digest", "sort_key"], name="one_item_per_key")
        ]


class IndexEntry(models.Model):
    """An item's place in a secondary index (only items holding the
    index's key attributes have one)."""

    id = models.BigAutoField(primary_key=True)
    index = models.ForeignKey(TableIndex, on_delete=models.CASCADE, related_name="entries")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="index_entries")
    hash_digest = models.CharField(max_length=64)
    sort_key = models.TextField(default="", blank=True)

    class Meta:
        indexes = [models.Index(fields=["index", "hash_digest", "sort_key"], name="index_entry_key")]
        constraints = [models.UniqueConstraint(fields=["index", "item"], name="one_entry_per_item")]


class StreamRecord(models.Model):
    """One change in a table's stream, written in the same transaction as
    the change itself, so no change is missing and none appears for a
    failed write. `id` orders the stream: SequenceNumber is `id`, padded."""

    id = models.BigAutoField(primary_key=True)
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="stream_records")
    stream_label = models.CharField(max_length=32)
    event_name = models.CharField(max_length=6, choices=EVENT_NAMES)
    view_type = models.CharField(max_length=18, choices=VIEW_TYPES)
    keys = models.TextField()  # typed JSON
    new_image = models.TextField(null=True, blank=True)
    old_image = models.TextField(null=True, blank=True)
    size_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)  # ApproximateCreationDateTime
    # TTL deletions: {"type": "Service", "principalId": "dynamodb.amazonaws.com"}.
    user_identity = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["table", "stream_label", "id"], name="stream_record_order")]


class TransactionToken(models.Model):
    """A TransactWriteItems ClientRequestToken, written in the same
    transaction as the writes it made: a call repeating the token within
    10 minutes, from any process, is answered without writing again
    (DynamoDB's idempotency window); tables.ttl's sweep deletes older ones."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=36)  # ClientRequestToken: 1-36 characters
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the TransactItems
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "token"], name="one_transaction_per_token")]
