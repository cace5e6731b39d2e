from django.apps import AppConfig


class TablesConfig(AppConfig):
    name = "tables"
    verbose_name = "DynamoDB tables and streams"

    def ready(self) -> None:
        from tables import dynamodb_api
        # Registers our Celery tasks in every process (beat names them).
        from tables import tasks  # noqa: F401

        dynamodb_api.register()

        # DynamoDB Streams: its API, its mappings' source kind, its trimming task.
        from mappings import sources
        from tables import stream_source, stream_tasks, streams_api  # noqa: F401 - stream_tasks registers

        streams_api.register()
        sources.register(stream_source.DynamoDBStreamSource())
