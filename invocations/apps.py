from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"

    def ready(self) -> None:
        from invocations import delivery, destinations, hooks

        # Attempts, dead letters and destinations follow every final outcome.
        hooks.on_finished(delivery.after_finish)
        destinations.register(destinations.FUNCTION)
