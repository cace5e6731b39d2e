from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Our own kinds go through the same registry as other apps' triggers,
        # so the tab has one way of listing everything.
        from triggers import providers  # noqa: F401
