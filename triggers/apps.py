from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Our own kinds go through the same registry as other apps' triggers,
        # so the tab has one way of listing everything.
        from triggers import providers  # noqa: F401
        # Registers our Celery tasks in every process (beat names them), as
        # every app does: tests/unit/test_task_registry.py.
        from triggers import tasks  # noqa: F401
