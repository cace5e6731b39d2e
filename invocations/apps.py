from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from functions.models import Alias, FunctionVersion
        from invocations import delivery, destinations, held_events, hooks, throttle_lift
        # Registers invocations.run with Celery in every process, not only in
        # workers (which import tasks modules themselves): the web, the CLI
        # and beat queue it by name (invocations.dispatch.queue).
        from invocations import tasks  # noqa: F401

        # Attempts, dead letters and destinations follow every final outcome.
        hooks.on_finished(delivery.after_finish)
        # A deleted version's or alias's event invoke config goes with it.
        for model in (Alias, FunctionVersion):
            post_delete.connect(delivery.forget_qualifier, sender=model, dispatch_uid=f"eic-{model.__name__}")
        # Held events go as soon as their function is Active, and a published
        # version's as soon as its build has ended.
        held_events.watch()
        # Events throttled by a reservation of 0 go as soon as it is lifted.
        throttle_lift.watch()
        destinations.register(destinations.FUNCTION)
