"""Billing on the real path with the classic model: a stack started with
STRATUS_BILLING_ROUNDING_MS=100 and a free tier of 2 requests and 0
GB-seconds, functions invoked with boto3 (boto3 -> uvicorn -> worker ->
Docker). The REPORT line boto3 gets back (LogType=Tail), the stored
invocations and the Usage page's CSV all bill in 100 ms steps, and the
page takes the free tier off and shows what is due."""

import base64
import csv
import io
import re
from decimal import Decimal

import pytest

from tests.integration.helpers import create, invoke_json, login, running, settle
from tests.stack import Stack

pytestmark = pytest.mark.integration

SLEEPY = '''
import time

def handler(event, context):
    time.sleep(event["sleep_ms"] / 1000)
    return {"slept": event["sleep_ms"]}
'''
PER_REQUEST = Decimal("0.20") / Decimal(1_000_000)
PER_GB_S = Decimal("0.0000166667")


@pytest.fixture(scope="module")
def stack():
    with running(Stack(
        STRATUS_BILLING_ROUNDING_MS="100", STRATUS_FREE_TIER_REQUESTS="2", STRATUS_FREE_TIER_GB_SECONDS="0",
    )) as s:
        yield s


def test_calls_are_billed_in_100_ms_steps_and_the_free_tier_is_taken_off(stack):
    client = stack.lambda_client()
    create(client, "classic", SLEEPY, MemorySize=256)
    reported = []
    for sleep_ms in (1, 130, 250):
        resp, body = invoke_json(client, "classic", {"sleep_ms": sleep_ms}, LogType="Tail")
        assert body == {"slept": sleep_ms}
        # The Invoke answer itself is Lambda's.
        assert set(resp) - {"ResponseMetadata"} == {"StatusCode", "ExecutedVersion", "LogResult", "Payload"}
        tail = base64.b64decode(resp["LogResult"]).decode()
        found = re.search(r"Duration: ([\d.]+) ms\tBilled Duration: (\d+) ms", tail)
        assert found, tail
        duration, billed = float(found.group(1)), int(found.group(2))
        assert billed % 100 == 0 and duration <= billed < duration + 100.01
        assert billed >= sleep_ms
        reported.append(billed)

    stored = settle(
        lambda: stack.rows(
            "Invocation.objects.filter(function__name='classic', status='succeeded')"
            ".values_list('billed_duration_ms', flat=True)"
        ),
        lambda found: len(found) == 3,
    )
    assert sorted(stored) == sorted(reported)
    billed_total = sum(reported)
    gbs = Decimal(billed_total) / 1000 * 256 / 1024
    cost = 3 * PER_REQUEST + gbs * PER_GB_S
    # Two requests are free; no GB-second is.
    due = 1 * PER_REQUEST + gbs * PER_GB_S

    session = login(stack)

    def csv_line():
        answer = session.get(f"{stack.url}/usage.csv", timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        lines = [r for r in csv.DictReader(io.StringIO(answer.text)) if r["function"] == "classic"]
        return lines[0] if lines and lines[0]["requests"] == "3" else None

    line = settle(csv_line, lambda found: found is not None)
    assert line is not None, "the three calls never reached the usage CSV"
    assert int(line["billed_ms"]) == billed_total and int(line["billed_ms"]) % 100 == 0
    assert Decimal(line["gb_seconds"]) == gbs
    assert Decimal(line["cost_usd"]) == cost

    page = session.get(f"{stack.url}/usage/", timeout=30)
    assert page.status_code == 200
    report = page.text
    assert "billed duration rounded up to 100 ms" in report
    # Only this stack's team ran anything: the whole page is these three calls.
    shown_due = re.search(r'data-total="due"><strong>([\d.,]+) USD<', report).group(1)
    # Shown to four significant digits below a cent.
    assert abs(Decimal(shown_due) - due) <= due * Decimal("0.0005")
    shown_credit = re.search(r'data-total="credit">−([\d.,]+) USD<', report).group(1)
    assert Decimal(shown_credit) == (2 * PER_REQUEST).normalize()
