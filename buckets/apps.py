from django.apps import AppConfig


class BucketsConfig(AppConfig):
    name = "buckets"
    verbose_name = "Buckets"

    def ready(self) -> None:
        from buckets import s3_api
        # Registers our Celery tasks in every process (beat names them):
        # tests/unit/test_task_registry.py.
        from buckets import tasks  # noqa: F401

        s3_api.register()
        _register_triggers()


def _register_triggers() -> None:
    """List the notifications that target a function in its Triggers tab,
    when the triggers app is there (without it this does nothing)."""
    try:
        from triggers import registry
    except ImportError:
        return
    from buckets.triggers import rows

    registry.register(rows)
