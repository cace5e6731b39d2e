from django.apps import AppConfig


class KinesisConfig(AppConfig):
    name = "kinesis"
    verbose_name = "Kinesis data streams"
