"""Scale to zero: idle environments are removed after the keep-alive."""

import pytest

from tests.integration.helpers import create, invoke_json, wait_for

pytestmark = pytest.mark.integration


def test_it_reaps_idle_environments_and_starts_cold_again(stack):
    client = stack.lambda_client()
    create(client, "napper", "def handler(e, c):\n    return 'ok'\n")
    invoke_json(client, "napper", {})
    env_rows = stack.rows("Environment.objects.filter(function__name='napper').values('container_id')")
    assert len(env_rows) == 1
    container_id = env_rows[0]["container_id"]
    assert container_id in {c.id for c in stack.containers()}

    reap_now(stack)

    assert stack.rows("Environment.objects.filter(function__name='napper').values('id')") == []
    assert container_id not in {c.id for c in stack.containers()}
    # The next invocation starts a new environment: a cold start.
    invoke_json(client, "napper", {})
    colds = wait_for(lambda: len(stack.rows(
        "Invocation.objects.filter(function__name='napper').values('pk')")) == 2 and stack.rows(
        "Invocation.objects.filter(function__name='napper').order_by('created_at')"
        ".values_list('cold_start', flat=True)"
    ))
    assert colds == [True, True]


def test_it_does_not_reap_a_busy_environment(stack):
    client = stack.lambda_client()
    create(client, "busy-bee", "import time\ndef handler(e, c):\n    time.sleep(3)\n    return 1\n")
    client.invoke(FunctionName="busy-bee", InvocationType="Event", Payload=b"{}")
    from tests.integration.helpers import wait_for

    wait_for(lambda: stack.rows(
        "Invocation.objects.filter(function__name='busy-bee', status='running').values('request_id')"
    ), interval=0.05)
    reap_now(stack)
    rows = wait_for(lambda: stack.rows(
        "Invocation.objects.filter(function__name='busy-bee', status='succeeded').values('status')"
    ))
    assert rows == [{"status": "succeeded"}]


def reap_now(stack) -> None:
    """The worker's node's reaper, at once, with no keep-alive."""
    from tests.stack import DEFAULT_NODE

    stack.shell(
        "from django.conf import settings\nfrom invocations import pool\n"
        f"settings.STRATUS_NODE = {DEFAULT_NODE!r}\npool.reap(keep_alive_s=0)"
    )
