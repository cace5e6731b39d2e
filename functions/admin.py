from django.contrib import admin

from functions.models import ApiKey, CodeBundle, DependencyBuild, Function, Membership, Team, TestEvent


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "account_id", "concurrency_limit")
    search_fields = ("name",)
    inlines = (MembershipInline,)


@admin.register(Function)
class FunctionAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "runtime", "memory_mb", "timeout_s", "updated_at")
    list_filter = ("team", "runtime")
    search_fields = ("name", "description")
    readonly_fields = ("id", "code", "editable_file", "revision", "created_at", "updated_at", "last_build")


@admin.register(CodeBundle)
class CodeBundleAdmin(admin.ModelAdmin):
    list_display = ("sha256", "size", "unzipped_size", "created_at")
    readonly_fields = ("sha256", "size", "unzipped_size", "created_at")


@admin.register(DependencyBuild)
class DependencyBuildAdmin(admin.ModelAdmin):
    """Read-only: builds are made and ended by functions.dependencies."""

    list_display = ("source", "runtime", "status", "attempts", "created_at", "finished_at")
    list_filter = ("status", "runtime")
    readonly_fields = ("id", "source", "runtime", "status", "log", "result", "function", "created_at",
                       "finished_at", "queued_at", "heartbeat_at", "attempts")

    def has_add_permission(self, request):
        return False


@admin.register(TestEvent)
class TestEventAdmin(admin.ModelAdmin):
    list_display = ("name", "function", "created_at")
    search_fields = ("name", "function__name")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("access_key_id", "user", "team", "created_at", "last_used_at")
    list_filter = ("team",)
    # The secret is shown once when issued; never here.
    exclude = ("encrypted_secret",)
    readonly_fields = ("access_key_id", "user", "team", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False
