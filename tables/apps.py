from django.apps import AppConfig


class TablesConfig(AppConfig):
    name = "tables"
    verbose_name = "DynamoDB tables and streams"
