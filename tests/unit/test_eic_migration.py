"""invocations 0009_eic_qualified_configs: the one-per-function event
invoke configs made before it become the functions' $LATEST configs, and
a function may then have one per qualifier (not two of the same)."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

FUNCTIONS = ("functions", "0008_runtime_is_a_setting")
BEFORE = [("invocations", "0008_ver_provisioned_environments"), FUNCTIONS]
AFTER = [("invocations", "0009_eic_qualified_configs"), FUNCTIONS]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_old_configs_become_latest_and_qualifiers_get_their_own():
    try:
        old = migrate(BEFORE)
        Team = old.get_model("functions", "Team")
        Function = old.get_model("functions", "Function")
        CodeBundle = old.get_model("functions", "CodeBundle")
        Config = old.get_model("invocations", "EventInvokeConfig")
        team = Team.objects.create(name="alpha", account_id="111122223333")
        code = CodeBundle.objects.create(sha256="0" * 64, size=1, unzipped_size=1)
        fn = Function.objects.create(team=team, name="reader", code=code, handler="h.h")
        Config.objects.create(function=fn, maximum_retry_attempts=1, on_failure="arn:x")

        new = migrate(AFTER)
        Config = new.get_model("invocations", "EventInvokeConfig")
        (kept,) = Config.objects.all()
        assert (kept.function_id, kept.qualifier, kept.maximum_retry_attempts, kept.on_failure) == (
            fn.id, "$LATEST", 1, "arn:x",
        )
        Config.objects.create(function_id=fn.id, qualifier="live", maximum_retry_attempts=0)
        with pytest.raises(IntegrityError), transaction.atomic():
            Config.objects.create(function_id=fn.id, qualifier="live")
        assert sorted(Config.objects.values_list("qualifier", flat=True)) == ["$LATEST", "live"]
        Config.objects.filter(qualifier="live").delete()  # the old schema allows one per function

        back = migrate(BEFORE)
        assert back.get_model("invocations", "EventInvokeConfig").objects.get().maximum_retry_attempts == 1
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
