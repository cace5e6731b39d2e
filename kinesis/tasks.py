"""Kinesis's periodic work: records past retention (celery beat,
`trim-kinesis-records`)."""

from celery import shared_task

from kinesis import streams


@shared_task(name="kinesis.trim_records", ignore_result=True)
def trim_records() -> int:
    """Deletes records older than their stream's RetentionPeriodHours; how many went."""
    return streams.trim()
