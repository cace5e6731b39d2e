"""Move the SQS queue mappings from messaging's old EventSourceMapping (a
foreign key to the queue) into mappings.EventSourceMapping (the queue's
ARN): same ids and settings, kind "sqs", FunctionResponseTypes
["ReportBatchItemFailures"] (the old poller always read batchItemFailures). The invocations they submitted
carried the trigger "queue-mapping:<id>"; they are renamed to the new
mapping's "event-source-mapping:<id>" so the Triggers tab's error counts
carry over. messaging 0007 deletes the old model after this ran."""

from django.conf import settings
from django.db import migrations


def queue_arn(queue) -> str:
    # awsapi.arns.queue_arn, spelled out: a migration must not depend on
    # code that may change after it.
    return f"arn:aws:sqs:{settings.STRATUS_REGION}:{queue.team.account_id}:{queue.name}"


def forward(apps, schema_editor):
    Old = apps.get_model("messaging", "EventSourceMapping")
    New = apps.get_model("mappings", "EventSourceMapping")
    Invocation = apps.get_model("invocations", "Invocation")
    for old in Old.objects.select_related("queue__team").iterator():
        New.objects.create(
            id=old.id, function_id=old.function_id, kind="sqs", event_source_arn=queue_arn(old.queue),
            batch_size=old.batch_size, batching_window_s=old.batching_window_s, enabled=old.enabled,
            state="Enabled" if old.enabled else "Disabled", priority=old.priority,
            # The old poller always honoured batchItemFailures.
            function_response_types=["ReportBatchItemFailures"],
            created_at=old.created_at, modified_at=old.created_at, last_fired_at=old.last_fired_at,
        )
        Invocation.objects.filter(trigger=f"queue-mapping:{old.id}").update(
            trigger=f"event-source-mapping:{old.id}"
        )


def backward(apps, schema_editor):
    Old = apps.get_model("messaging", "EventSourceMapping")
    New = apps.get_model("mappings", "EventSourceMapping")
    Queue = apps.get_model("messaging", "Queue")
    Invocation = apps.get_model("invocations", "Invocation")
    queues = {queue_arn(q): q for q in Queue.objects.select_related("team")}
    for new in New.objects.filter(kind="sqs"):
        queue = queues.get(new.event_source_arn)
        if queue is None:
            continue  # the queue is gone; the old model cannot hold it
        Old.objects.create(
            id=new.id, queue=queue, function_id=new.function_id, batch_size=new.batch_size,
            batching_window_s=new.batching_window_s, enabled=new.enabled, priority=new.priority,
            created_at=new.created_at, last_fired_at=new.last_fired_at,
        )
        Invocation.objects.filter(trigger=f"event-source-mapping:{new.id}").update(
            trigger=f"queue-mapping:{new.id}"
        )
        new.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0001_initial"),
        ("messaging", "0006_sns_http_signing"),
        ("invocations", "0005_bucket_source"),
    ]

    operations = [migrations.RunPython(forward, backward)]
