import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fix-up closes the database connection around every task
# unless this is set; reopening SQLite (and its pragmas) costs each invocation.
app.conf.CELERY_DB_REUSE_MAX = 1000
app.autodiscover_tasks()
