"""Pricing (metrics.billing): both billed-duration roundings on known
durations, GB-seconds and cost in exact decimals, the rounding setting
refused at start unless 1 or 100, and an invocation's billed duration,
REPORT line and cost."""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from invocations.models import Invocation
from metrics import billing

ROOT = Path(__file__).resolve().parents[2]

# (duration ms, billed at 1 ms, billed at 100 ms)
KNOWN = [
    (0.0, 1, 100),
    (0.4, 1, 100),
    (1.0, 1, 100),
    (1.5, 2, 100),
    (99.99, 100, 100),
    (100.0, 100, 100),
    (100.01, 101, 200),
    (250.5, 251, 300),
    (2999.999, 3000, 3000),
    (3000.0001, 3001, 3100),
]


@pytest.mark.parametrize(("duration", "at_1", "at_100"), KNOWN)
def test_it_rounds_up_to_the_billing_unit(settings, duration, at_1, at_100):
    settings.STRATUS_BILLING_ROUNDING_MS = 1
    assert billing.billed_ms(duration) == at_1
    settings.STRATUS_BILLING_ROUNDING_MS = 100
    assert billing.billed_ms(duration) == at_100


def test_it_bills_nothing_for_calls_that_never_ran(settings):
    settings.STRATUS_BILLING_ROUNDING_MS = 100
    for status in ("throttled", "cancelled", "expired"):
        assert billing.billed_ms_for(status, 12.0) == 0
    assert billing.billed_ms_for("timed_out", 3000.2) == 3100
    assert billing.billed_ms_for("failed", None) == 100


def test_it_counts_gb_seconds():
    assert billing.gb_seconds(1000, 1024) == Decimal(1)
    assert billing.gb_seconds(1, 128) == Decimal("0.000125")
    assert billing.gb_seconds(3000, 512) == Decimal("1.5")


def test_it_prices_one_call_at_lambdas_prices(settings):
    settings.STRATUS_PRICE_PER_MILLION_REQUESTS = Decimal("0.20")
    settings.STRATUS_PRICE_PER_GB_SECOND = Decimal("0.0000166667")
    # 0.20 / 1e6 + 0.000125 GB-s x 0.0000166667
    assert billing.cost(1, 128) == Decimal("0.0000002") + Decimal("0.000125") * Decimal("0.0000166667")
    assert billing.cost(1, 128) == Decimal("0.0000002020833375")
    # 100 ms at 1024 MB: 0.1 GB-s
    assert billing.cost(100, 1024) == Decimal("0.0000002") + Decimal("0.00000166667")


def test_it_prices_with_the_configured_prices(settings):
    settings.STRATUS_PRICE_PER_MILLION_REQUESTS = Decimal("1")
    settings.STRATUS_PRICE_PER_GB_SECOND = Decimal("0.5")
    prices = billing.Prices.from_settings()
    assert prices.usage_cost(2_000_000, Decimal(4)) == Decimal(2) + Decimal(2)
    assert billing.cost(2000, 1024) == Decimal("0.000001") + Decimal(1)


def test_the_cost_of_a_call_that_was_not_billed_is_none():
    assert billing.invocation_cost("throttled", None, 128) is None
    assert billing.invocation_cost("cancelled", 0, 128) is None
    assert billing.invocation_cost("succeeded", None, 128) is None
    assert billing.invocation_cost("failed", 100, 128) == billing.cost(100, 128)


def test_a_stored_float_becomes_its_shortest_decimal():
    assert billing.decimal_of(0.1) == Decimal("0.1")
    assert billing.decimal_of(None) == 0
    assert billing.decimal_of(3) == 3


@pytest.mark.parametrize(("rounding", "billed"), [(1, 101), (100, 200)])
def test_an_invocation_is_billed_with_the_rounding_setting(settings, make_function, rounding, billed):
    settings.STRATUS_BILLING_ROUNDING_MS = rounding
    inv = Invocation.objects.create(function=make_function(), status="running", started_at=timezone.now())
    assert inv.finish(status="succeeded", result="{}", duration_ms=100.01, max_memory_used_mb=30)
    inv.refresh_from_db()
    assert inv.billed_duration_ms == billed
    assert f"Billed Duration: {billed} ms" in inv.logs
    assert inv.cost == billing.cost(billed, 128)


def test_a_cancelled_invocation_costs_nothing(make_function):
    inv = Invocation.objects.create(function=make_function(), status="running")
    inv.set_outcome(status="cancelled", error={"errorType": "Stratus.QueueTimeout"})
    assert inv.billed_duration_ms == 0
    assert "Billed Duration: 0 ms" in inv.report_line()
    assert inv.cost is None


def _start(data_dir, **env) -> subprocess.CompletedProcess:
    """Django set up with the real settings and `env`, in a process of its own."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    environ.update(DJANGO_SETTINGS_MODULE="console.settings", STRATUS_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=environ,
        capture_output=True, text=True, timeout=120,
    )


def test_it_refuses_to_start_with_another_rounding(tmp_path):
    done = _start(tmp_path, STRATUS_BILLING_ROUNDING_MS="10")
    assert done.returncode != 0
    assert "STRATUS_BILLING_ROUNDING_MS must be 1" in done.stderr
    assert "or 100" in done.stderr and "got 10" in done.stderr


def test_it_refuses_to_start_with_a_bad_price(tmp_path):
    done = _start(tmp_path, STRATUS_PRICE_PER_GB_SECOND="-1")
    assert done.returncode != 0
    assert "STRATUS_PRICE_PER_GB_SECOND must be a number of 0 or more" in done.stderr
    done = _start(tmp_path, STRATUS_PRICE_PER_MILLION_REQUESTS="cheap")
    assert "STRATUS_PRICE_PER_MILLION_REQUESTS must be a number, got 'cheap'" in done.stderr


def test_it_starts_with_the_classic_rounding(tmp_path):
    done = _start(tmp_path, STRATUS_BILLING_ROUNDING_MS="100")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("amount", "shown"), [
    (Decimal(0), "0.00"),
    (Decimal("0.0000002020833375"), "0.0000002021"),
    (Decimal("0.0000027"), "0.0000027"),
    (Decimal("0.009999"), "0.009999"),
    (Decimal("0.0123"), "0.01"),
    (Decimal("12.345"), "12.35"),
    (Decimal("1234567.891"), "1,234,567.89"),
    (None, ""),
])
def test_money_is_shown_to_the_cent_or_to_four_digits_below_it(amount, shown):
    from metrics.templatetags.money import money

    assert money(amount) == shown


def test_gb_seconds_and_counts_are_shown_readably():
    from metrics.templatetags.money import count, gb_seconds

    assert gb_seconds(Decimal("0.000125")) == "0.000125"
    assert gb_seconds(Decimal("3.55")) == "3.550"
    assert gb_seconds(Decimal("400000")) == "400,000.000"
    assert count(Decimal(1_000_000)) == "1,000,000" and count(9) == "9"
