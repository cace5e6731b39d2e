# Importing the Celery app here makes `shared_task` and `delay_on_commit`
# bind to it in every process that loads Django (web, worker, beat, tests).
from console.celery import app as celery_app

__all__ = ["celery_app"]
