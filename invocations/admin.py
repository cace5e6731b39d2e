from django.contrib import admin

from invocations.models import Environment, Invocation, Worker


@admin.register(Invocation)
class InvocationAdmin(admin.ModelAdmin):
    list_display = (
        "request_id", "function", "status", "source", "invocation_type",
        "cold_start", "duration_ms", "created_at",
    )
    list_filter = ("status", "source", "invocation_type", "cold_start")
    search_fields = ("request_id", "function__name")
    list_select_related = ("function",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        # A record of what happened: look, do not edit.
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ("id", "node", "function", "state", "memory_mb", "created_at", "specialised_at")
    list_filter = ("node", "state")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ("id", "node", "pid", "started_at", "heartbeat_at")
    list_filter = ("node",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
