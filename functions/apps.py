from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"

    def ready(self) -> None:
        from functions import access, lambda_door, lookup  # noqa: F401  (access, lookup connect their signals)

        lambda_door.register()
        # Registers functions.build_dependencies and functions.reconcile_builds
        # in every process (the web queues builds; beat names the reconciler).
        from functions import tasks  # noqa: F401
