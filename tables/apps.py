from django.apps import AppConfig


class TablesConfig(AppConfig):
    name = "tables"
    verbose_name = "DynamoDB tables and streams"

    def ready(self) -> None:
        # DynamoDB Streams: its API, its mappings' source kind, its trimming task.
        from mappings import sources
        from tables import stream_source, stream_tasks, streams_api  # noqa: F401 - stream_tasks registers

        streams_api.register()
        sources.register(stream_source.DynamoDBStreamSource())
