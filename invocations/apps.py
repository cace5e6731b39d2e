from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save, pre_save

        from functions.models import Alias, Function, FunctionVersion
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
        # Held events go as soon as their function is Active.
        pre_save.connect(held_events.note_activation, sender=Function, dispatch_uid="eic-held-pre")
        post_save.connect(held_events.release_after_activation, sender=Function, dispatch_uid="eic-held-post")
        # ... and a published version's as soon as its build has ended.
        pre_save.connect(held_events.note_version_end, sender=FunctionVersion,
                         dispatch_uid="eic-held-version-pre")
        post_save.connect(held_events.release_after_version_end, sender=FunctionVersion,
                          dispatch_uid="eic-held-version-post")
        # Events throttled by a reservation of 0 go as soon as it is lifted.
        pre_save.connect(throttle_lift.note_lift, sender=Function, dispatch_uid="throttle-lift-pre")
        post_save.connect(throttle_lift.wake_after_lift, sender=Function, dispatch_uid="throttle-lift-post")
        destinations.register(destinations.FUNCTION)
