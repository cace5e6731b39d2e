"""Celery tasks: thin; the work is on the models."""

from celery import shared_task

from triggers.models import fire_due_schedules as fire_due


@shared_task(name="triggers.fire_due_schedules", ignore_result=True)
def fire_due_schedules() -> int:
    """Every tick (beat): safe to run twice at once, see Schedule.fire()."""
    return fire_due()
