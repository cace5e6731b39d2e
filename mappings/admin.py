from django.contrib import admin

from mappings.models import EventSourceMapping, ShardCheckpoint


@admin.register(EventSourceMapping)
class EventSourceMappingAdmin(admin.ModelAdmin):
    list_display = ("event_source_arn", "function", "kind", "state", "batch_size", "last_processing_result")
    list_filter = ("kind", "state")


@admin.register(ShardCheckpoint)
class ShardCheckpointAdmin(admin.ModelAdmin):
    list_display = ("mapping", "shard_id", "sequence_number", "finished", "updated_at")
