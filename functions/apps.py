from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"

    def ready(self) -> None:
        from functions import lookup  # noqa: F401  (connects its signals)
