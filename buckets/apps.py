from django.apps import AppConfig


class BucketsConfig(AppConfig):
    name = "buckets"
    verbose_name = "Buckets"

    def ready(self) -> None:
        from buckets import s3_api

        s3_api.register()
