from django.apps import AppConfig


class TablesConfig(AppConfig):
    name = "tables"
    verbose_name = "DynamoDB tables and streams"

    def ready(self) -> None:
        from tables import dynamodb_api

        # Registers our Celery tasks in every process (beat names them).
        from tables import tasks  # noqa: F401

        dynamodb_api.register()

        # DynamoDB Streams: its API and its mappings' source kind (its
        # trimming task is in tables.tasks, imported above).
        from mappings import sources
        from tables import stream_source, streams_api

        streams_api.register()
        sources.register(stream_source.DynamoDBStreamSource())
        _register_triggers()


def _register_triggers() -> None:
    """A form on the function page's Triggers tab to map a table's stream
    to the function (the mappings' rows there come from messaging.triggers),
    when the triggers app is there."""
    try:
        from triggers import registry
    except ImportError:
        return
    from tables.views import stream_section

    registry.register_form_section("tables/_stream_section.html", stream_section)
