"""The move of messaging's queue mappings into mappings.EventSourceMapping
(mappings 0002, messaging 0007): old rows made at the schema before it,
the migrations run forward (and back), the rows and their invocations'
trigger keys checked."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

INVOCATIONS = ("invocations", "0005_bucket_source")
# Functions as they were then: a later column with only a Python-side
# default would be NOT NULL without a value in the old model's inserts.
FUNCTIONS = ("functions", "0004_team_concurrency_limit")
BEFORE = [("mappings", "0001_initial"), ("messaging", "0006_sns_http_signing"), INVOCATIONS, FUNCTIONS]
AFTER = [
    ("mappings", "0002_queue_mappings"), ("messaging", "0007_delete_queue_mapping"), INVOCATIONS, FUNCTIONS,
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_queue_mappings_move_with_their_ids_settings_and_trigger_keys(settings):
    try:
        old = migrate(BEFORE)
        Team = old.get_model("functions", "Team")
        Function = old.get_model("functions", "Function")
        CodeBundle = old.get_model("functions", "CodeBundle")
        Queue = old.get_model("messaging", "Queue")
        Old = old.get_model("messaging", "EventSourceMapping")
        Invocation = old.get_model("invocations", "Invocation")
        team = Team.objects.create(name="alpha", account_id="111122223333")
        code = CodeBundle.objects.create(sha256="0" * 64, size=1, unzipped_size=1)
        fn = Function.objects.create(team=team, name="reader", code=code, handler="h.h")
        queue = Queue.objects.create(team=team, name="jobs")
        on = Old.objects.create(queue=queue, function=fn, batch_size=4, batching_window_s=7, priority="high")
        off = Old.objects.create(queue=queue, function=fn, enabled=False)
        Invocation.objects.create(function=fn, trigger=f"queue-mapping:{on.id}", status="failed")
        Invocation.objects.create(function=fn, trigger="route:other", status="failed")

        new = migrate(AFTER)
        New = new.get_model("mappings", "EventSourceMapping")
        Invocation = new.get_model("invocations", "Invocation")
        arn = f"arn:aws:sqs:{settings.STRATUS_REGION}:111122223333:jobs"
        moved = {m.id: m for m in New.objects.all()}
        assert set(moved) == {on.id, off.id}
        first = moved[on.id]
        assert (first.kind, first.event_source_arn, first.function_id) == ("sqs", arn, fn.id)
        assert (first.batch_size, first.batching_window_s, first.priority) == (4, 7, "high")
        assert (first.enabled, first.state) == (True, "Enabled")
        assert first.function_response_types == ["ReportBatchItemFailures"]
        assert (moved[off.id].enabled, moved[off.id].state) == (False, "Disabled")
        assert sorted(Invocation.objects.values_list("trigger", flat=True)) == [
            f"event-source-mapping:{on.id}", "route:other",
        ]
        assert "messaging_eventsourcemapping" not in connection.introspection.table_names()

        back = migrate(BEFORE)
        Old = back.get_model("messaging", "EventSourceMapping")
        assert Old.objects.get(id=on.id).batch_size == 4
        assert back.get_model("invocations", "Invocation").objects.filter(
            trigger=f"queue-mapping:{on.id}"
        ).exists()
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
