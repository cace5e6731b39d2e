from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Event source mappings"

    def ready(self) -> None:
        # The Lambda API's event source mapping operations, added to the
        # "lambda" service functions registers (awsapi.services.extend).
        from mappings import lambda_esm_api

        lambda_esm_api.register()
