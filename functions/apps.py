from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"

    def ready(self) -> None:
        from functions import access, lambda_door, lookup  # noqa: F401  (access, lookup connect their signals)

        lambda_door.register()
