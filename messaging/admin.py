from django.contrib import admin

from messaging.models import Queue, QueueMessage, Subscription, Topic, TopicMessage


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "created_at")
    list_filter = ("team",)
    search_fields = ("name",)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("topic", "function", "enabled", "priority", "last_fired_at")
    list_filter = ("enabled",)


@admin.register(TopicMessage)
class TopicMessageAdmin(admin.ModelAdmin):
    list_display = ("message_id", "topic", "subject", "deliveries", "published_at")
    readonly_fields = ("message_id", "published_at")


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "visibility_timeout_s", "max_receive_count", "dead_letter_queue")
    list_filter = ("team",)
    search_fields = ("name",)


@admin.register(QueueMessage)
class QueueMessageAdmin(admin.ModelAdmin):
    list_display = ("message_id", "queue", "receive_count", "visible_at", "sent_at")
    list_filter = ("queue",)
    readonly_fields = ("message_id", "receipt_handle")
