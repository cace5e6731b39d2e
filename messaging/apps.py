from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Topics and queues"

    def ready(self) -> None:
        # The queue batch hook must be registered in every process that
        # finishes invocations (the worker); importing registers it.
        from messaging import destinations, poller, queue_source, sns_api, sqs_api  # noqa: F401
        # Registers our Celery tasks in every process, not only in workers:
        # the web queues messaging.deliver_http by name (sns_http.queue).
        from messaging import tasks  # noqa: F401

        destinations.register()
        queue_source.register()
        sqs_api.register()
        sns_api.register()
        _register_triggers()


def _register_triggers() -> None:
    """List our subscriptions and mappings in the function page's Triggers
    tab, with forms to add them, when the triggers app is there (without it
    this does nothing)."""
    try:
        from triggers import registry
    except ImportError:
        return
    from messaging.tab_views import queue_section, subscribe_section
    from messaging.triggers import registry_rows

    registry.register(registry_rows)
    registry.register_form_section("messaging/_subscribe_section.html", subscribe_section)
    registry.register_form_section("messaging/_queue_section.html", queue_section)
