"""The outcome block of a finished run (templates/invocations/_outcome.html,
replaced live when a run ends): cold or warm, and memory never a false 0."""

import re

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from invocations.models import Invocation


def facts(**fields) -> dict:
    now = timezone.now()
    inv = Invocation(
        memory_size_mb=128, started_at=now, finished_at=now, duration_ms=1.5, billed_duration_ms=2, **fields
    )
    html = render_to_string("invocations/_outcome.html", {"inv": inv})
    found = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(.*?)</dd>", html))
    return {name: re.sub(r"<[^>]+>", "", value) for name, value in found.items()}


@pytest.mark.parametrize("status,cold,shown", [
    ("succeeded", True, "cold"), ("succeeded", False, "warm"), ("failed", False, "warm"),
    ("timed_out", True, "cold"), ("out_of_memory", False, "warm"),
    ("throttled", False, "did not run"), ("cancelled", False, "did not run"),
])
def test_every_finished_run_says_cold_or_warm_or_that_it_did_not_run(status, cold, shown):
    assert facts(status=status, cold_start=cold)["Cold start"] == shown


def test_memory_is_the_number_or_unknown_never_a_false_0():
    assert facts(status="timed_out", max_memory_used_mb=57)["Memory"] == "57 of 128 MB"
    assert facts(status="failed", max_memory_used_mb=None)["Memory"] == "unknown of 128 MB"
    assert facts(status="throttled", max_memory_used_mb=None)["Memory"] == "— of 128 MB"


def test_a_run_that_is_not_finished_shows_no_outcome_yet():
    assert facts(status="running") == {}
