"""Every invocation record shows its billed duration and cost: the
invocation page and the live outcome fragment it shares with the Test
tab; a throttled call shows it was not billed."""

from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from invocations.models import Invocation


@pytest.fixture
def prices(settings):
    settings.STRATUS_PRICE_PER_MILLION_REQUESTS = Decimal("0.20")
    settings.STRATUS_PRICE_PER_GB_SECOND = Decimal("0.0000166667")
    settings.STRATUS_BILLING_CURRENCY = "USD"


@pytest.mark.parametrize(("rounding", "billed", "cost"), [
    # 0.2 / 1e6 + 0.251 s x 0.5 GB x 0.0000166667 = 0.00000229167085 -> 4 digits
    (1, "251 ms", "0.000002292 USD"),
    # 0.2 / 1e6 + 0.3 s x 0.5 GB x 0.0000166667 = 0.000002700005
    (100, "300 ms", "0.0000027 USD"),
])
def test_the_invocation_page_shows_billed_duration_and_cost(
    client, users, make_function, prices, settings, rounding, billed, cost
):
    settings.STRATUS_BILLING_ROUNDING_MS = rounding
    fn = make_function(memory_mb=512)
    inv = Invocation.objects.create(
        function=fn, status="running", memory_size_mb=512, started_at=timezone.now()
    )
    inv.finish(status="succeeded", result="{}", duration_ms=250.5, max_memory_used_mb=40)
    client.force_login(users["reader"])
    body = client.get(reverse("inv-detail", args=[inv.request_id])).content.decode()
    assert f"<dt>Billed duration</dt><dd>{billed}</dd>" in body
    assert f'<dd class="cost">{cost}</dd>' in body
    assert f"Billed Duration: {billed}" in body


def test_a_throttled_call_is_not_billed(client, users, make_function, prices):
    fn = make_function()
    inv = Invocation.objects.create(
        function=fn, status="throttled", finished_at=timezone.now(),
        error={"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."},
    )
    client.force_login(users["member"])
    body = client.get(reverse("inv-detail", args=[inv.request_id])).content.decode()
    assert '<dd class="cost"><span class="muted">not billed</span></dd>' in body


def test_the_live_outcome_fragment_shows_the_cost(make_function, prices):
    fn = make_function()
    inv = Invocation.objects.create(function=fn, status="running", started_at=timezone.now())
    assert 'class="cost"' not in render_to_string("invocations/_outcome.html", {"inv": inv})
    inv.finish(status="failed", error={"errorType": "E"}, duration_ms=0.4)
    html = render_to_string("invocations/_outcome.html", {"inv": inv, "oob": True})
    # 1 ms at 128 MB: 0.0000002020833375
    assert '<dd class="cost">0.0000002021 USD</dd>' in html
