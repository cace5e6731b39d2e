from django.apps import AppConfig


class KinesisConfig(AppConfig):
    name = "kinesis"
    verbose_name = "Kinesis data streams"

    def ready(self) -> None:
        from kinesis import kinesis_api, stream_source, tasks  # noqa: F401

        kinesis_api.register()
        stream_source.register()
