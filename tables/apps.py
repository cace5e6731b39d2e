from django.apps import AppConfig


class TablesConfig(AppConfig):
    name = "tables"
    verbose_name = "DynamoDB tables and streams"

    def ready(self) -> None:
        from tables import dynamodb_api

        # Registers our Celery tasks in every process (beat names them).
        from tables import tasks  # noqa: F401

        dynamodb_api.register()
