from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self) -> None:
        # Registers the trim task in every process (beat names it).
        from metrics import tasks  # noqa: F401
