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
