from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"

    def ready(self) -> None:
        from functions import lambda_door, lookup  # noqa: F401  (lookup connects its signals)

        lambda_door.register()
