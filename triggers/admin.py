from django.contrib import admin

from triggers.models import HttpRoute, Schedule, Webhook


@admin.register(HttpRoute)
class HttpRouteAdmin(admin.ModelAdmin):
    list_display = ["method", "path", "function", "auth", "enabled", "last_fired_at"]
    list_filter = ["enabled", "auth", "method"]
    exclude = ["api_key_hash"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["expression", "timezone", "function", "enabled", "next_fire_at", "last_fired_at"]
    list_filter = ["enabled"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["id", "function", "enabled", "last_fired_at"]
    list_filter = ["enabled"]
    exclude = ["encrypted_secret"]
