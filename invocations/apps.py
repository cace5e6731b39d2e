from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"

    def ready(self) -> None:
        from invocations import delivery, destinations, hooks
        # Registers invocations.run with Celery in every process, not only in
        # workers (which import tasks modules themselves): the web, the CLI
        # and beat queue it by name (invocations.dispatch.queue).
        from invocations import tasks  # noqa: F401

        # Attempts, dead letters and destinations follow every final outcome.
        hooks.on_finished(delivery.after_finish)
        destinations.register(destinations.FUNCTION)
